"""Settings come from the environment, and a bad value stops the server with a clear message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from explorer import config

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "name, value, allowed",
    [
        ("PHAROS_HTTP_PORT", "http", "whole number from 1 to 65535"),
        ("PHAROS_DICOM_PORT", "70000", "whole number from 1 to 65535"),
        ("PHAROS_AET", "A_TITLE_LONGER_THAN_16", "1 to 16 printable ASCII"),
        ("PHAROS_OVERWRITE_INSTANCES", "maybe", "true or false"),
        ("DATABASE_URL", "mysql://db/pharos", "postgresql://"),
        ("REDIS_URL", "localhost:6379", "redis://"),
    ],
)
def test_a_bad_value_stops_the_start_with_a_message_naming_it(tmp_path, name, value, allowed):
    env = dict(os.environ, PHAROS_DATA_DIR=str(tmp_path), **{name: value})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert f"{name}={value!r} is not valid" in result.stderr
    assert allowed in result.stderr


def test_defaults(monkeypatch):
    for name in ("PHAROS_HTTP_PORT", "PHAROS_AET"):
        monkeypatch.delenv(name, raising=False)
    assert config.env_port("PHAROS_HTTP_PORT", 8042) == 8042
    assert config.env_aet("PHAROS_AET", "PHAROS") == "PHAROS"


def test_values_are_read(monkeypatch):
    monkeypatch.setenv("PHAROS_HTTP_PORT", "9042")
    monkeypatch.setenv("PHAROS_OVERWRITE_INSTANCES", "yes")
    monkeypatch.setenv("PHAROS_AET", "MY_PACS")
    assert config.env_port("PHAROS_HTTP_PORT", 8042) == 9042
    assert config.env_bool("PHAROS_OVERWRITE_INSTANCES", False) is True
    assert config.env_aet("PHAROS_AET", "PHAROS") == "MY_PACS"


def test_a_backslash_is_not_allowed_in_an_ae_title(monkeypatch):
    monkeypatch.setenv("PHAROS_AET", "A\\B")
    with pytest.raises(ImproperlyConfigured, match="PHAROS_AET"):
        config.env_aet("PHAROS_AET", "PHAROS")
