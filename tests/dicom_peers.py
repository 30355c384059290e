"""Real DICOM peers for tests: our SCP on a free port, DCMTK command-line tools, pynetdicom SCPs."""

import os
import socket
import subprocess

import pytest

DCMTK_ENV = dict(os.environ, TCP_NODELAY="1")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dcmtk(tool, *args, timeout=60):
    """Run a DCMTK tool; returns the CompletedProcess (stdout and stderr merged)."""
    return subprocess.run(
        [tool, *map(str, args)], env=DCMTK_ENV, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def dicom_server(transactional_db, settings):
    """Our DICOM server, running in this process on a free port."""
    from dicomnet import scp

    server = scp.start(port=free_port(), host="127.0.0.1")
    yield server
    server.shutdown()


def port_of(server):
    return server.server_address[1]
