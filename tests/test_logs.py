"""The log level set through /tools/log-level (explorer/logs.py): Orthanc's three verbosities as
levels of Python's loggers, followed by every server process, not only the one that took
the request."""

import logging

import pytest

from explorer import logs, runtime_settings
from tests.dicom_peers import dcmtk, wait_until
from tests.pharos_server import Server, request


@pytest.fixture
def default_logging():
    yield
    logs.apply("default")


def test_orthancs_verbosities_as_levels(settings):
    settings.PHAROS_LOG_LEVEL = "WARNING"
    assert logs.levels_for("default") == {
        "": logging.WARNING,
        "pynetdicom": logging.WARNING,
        "explorer": logging.NOTSET,
        "dicomnet": logging.NOTSET,
    }
    assert logs.levels_for("verbose") == {
        "": logging.INFO,
        "pynetdicom": logging.INFO,
        "explorer": logging.DEBUG,
        "dicomnet": logging.DEBUG,
    }
    assert logs.levels_for("trace")[""] == logs.levels_for("trace")["pynetdicom"] == logging.DEBUG


def test_the_configured_level_is_the_default_one(settings):
    settings.PHAROS_LOG_LEVEL = "DEBUG"
    assert logs.levels_for("default")[""] == logging.DEBUG
    assert logs.levels_for("verbose")[""] == logging.DEBUG  # verbose never hides what default shows
    assert logs.verbosity("DEBUG") == "default"  # the configured level reads as "default"


@pytest.mark.django_db
def test_a_process_applies_the_stored_level(default_logging):
    logs.apply("default")
    runtime_settings.change("LogLevel", "trace")
    logs.apply_stored()
    assert logging.getLogger("pynetdicom").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("dicomnet.jobs").getEffectiveLevel() == logging.DEBUG
    runtime_settings.change("LogLevel", "default")
    logs.apply_stored()
    assert logging.getLogger("pynetdicom").getEffectiveLevel() == logging.WARNING


# --- in the real server ------------------------------------------------------------------------

PASSWORD = "log-level-password"


def test_a_level_put_through_the_web_holds_in_the_dicom_server(tmp_path):
    server = Server(tmp_path / "data", PASSWORD, PHAROS_LOG_LEVEL="WARNING")
    def logged(text):
        return any(text.encode() in line for line in list(server.output))

    try:
        # At WARNING, the DICOM server does not log the associations it accepts.
        assert dcmtk("echoscu", "-aet", "BEFORE", "-aec", "PHAROS", "127.0.0.1", server.dicom_port).returncode == 0
        status, _, _ = request(server.port, "/tools/log-level", PASSWORD, "PUT", b"verbose", "text/plain")
        assert status == 200
        # Every web worker answers the new level (each within its runtime settings' refresh).
        wait_until(
            lambda: request(server.port, "/tools/log-level", PASSWORD)[2] == b"verbose",
            10,
            "a web worker still answers the old level",
        )

        tries = iter(range(1000))

        def dicom_server_logs_at_info():
            # A new association each try, to any of the DICOM server's processes.
            dcmtk("echoscu", "-aet", f"AFTER{next(tries)}", "-aec", "PHAROS", "127.0.0.1", server.dicom_port)
            return logged("Association from AFTER")

        wait_until(dicom_server_logs_at_info, 30, "the DICOM server did not take the level put through the web")
        assert not logged("Association from BEFORE")
    finally:
        server.stop()
