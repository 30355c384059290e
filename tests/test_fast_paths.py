"""The one switch for the speed-ups through library internals (explorer/fast_paths.py), and
the pin of each library to the version its seam was read from."""

import logging
import os
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest

from explorer import fast_paths, pydicom_compat, web_worker
from explorer.management.commands.start import STOCK_WORKER_CLASS, WORKER_CLASS, web_server_command
from tests.test_web_worker import ROOT


def test_the_setting_comes_from_the_environment(tmp_path):
    probe = "import django; django.setup(); from django.conf import settings; print(settings.PHAROS_FAST_PATHS)"
    env = dict(os.environ, PHAROS_FAST_PATHS="off", PHAROS_DATA_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    env["DJANGO_SETTINGS_MODULE"] = "explorer.settings"
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize(("value", "expected"), [("on", True), ("off", False), ("", True), ("ON", True), ("0", False)])
def test_on_and_off_as_every_yes_or_no_setting(monkeypatch, value, expected):
    from explorer.config import env_bool

    monkeypatch.setenv("PHAROS_FAST_PATHS", value)
    assert env_bool("PHAROS_FAST_PATHS", True) is expected


def test_a_bad_value_stops_the_server_at_start(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from explorer.config import env_bool

    monkeypatch.setenv("PHAROS_FAST_PATHS", "fast")
    with pytest.raises(ImproperlyConfigured, match="PHAROS_FAST_PATHS"):
        env_bool("PHAROS_FAST_PATHS", True)


def test_the_installed_libraries_are_the_ones_the_seams_were_read_from():
    from dicomnet import wire

    for library, read_from in (wire.READ_FROM, pydicom_compat.READ_FROM, web_worker.READ_FROM):
        assert metadata.version(library) == read_from


def test_pyproject_pins_each_library_to_the_version_its_seam_was_read_from():
    # Exact pins: a patch release installed on a fresh machine would otherwise turn the fast
    # paths off there (the version check warns and takes the stock path).
    from dicomnet import wire

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for library, read_from in (wire.READ_FROM, pydicom_compat.READ_FROM, web_worker.READ_FROM):
        assert f"{library}=={read_from}" in dependencies


def test_another_version_is_one_warning_and_the_stock_path(settings, caplog):
    settings.PHAROS_FAST_PATHS = True
    fast_paths.version_matches.cache_clear()
    fast_paths.decided.clear()
    try:
        with caplog.at_level(logging.WARNING, logger="explorer"):
            assert not fast_paths.enabled("pydicom", "2.4.4")
            assert not fast_paths.enabled("pydicom", "2.4.4")
            assert not fast_paths.check_versions(("pydicom", "2.4.4"))
        (warning,) = caplog.records
        installed = metadata.version("pydicom")
        assert f"pydicom {installed} is installed" in warning.message and "read from pydicom 2.4.4" in warning.message
        assert fast_paths.enabled(*pydicom_compat.READ_FROM)
    finally:
        fast_paths.version_matches.cache_clear()
        fast_paths.decided.clear()


def test_the_switch_turns_every_seam_off(settings):
    from dicomnet import wire

    settings.PHAROS_FAST_PATHS = False
    assert not wire.fast_paths() and not pydicom_compat.fast_paths()
    settings.PHAROS_FAST_PATHS = True
    assert wire.fast_paths() and pydicom_compat.fast_paths()


@pytest.mark.parametrize(("fast", "worker"), [(True, WORKER_CLASS), (False, STOCK_WORKER_CLASS)])
def test_the_web_server_runs_our_worker_only_with_the_fast_paths(settings, fast, worker):
    settings.PHAROS_FAST_PATHS = fast
    command = web_server_command()
    assert command[command.index("--worker-class") + 1] == worker
