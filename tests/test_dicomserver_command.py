"""`manage.py dicomserver` as a process: it serves, and stops cleanly on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import sample_path
from tests.dicom_peers import child_processes, dcmtk, free_port, wait_for_port, wait_until

ROOT = Path(__file__).resolve().parent.parent


def start_dicomserver(data_dir, *options, output=subprocess.PIPE):
    """`manage.py dicomserver` on a free port, on SQLite in `data_dir`: (process, port)."""
    port = free_port()
    env = dict(os.environ, PHAROS_DATA_DIR=str(data_dir))
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "dicomserver", "--port", str(port), *options],
        cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, text=True,
    )
    return server, port


def test_it_serves_and_stops_on_sigterm(tmp_path):
    server, port = start_dicomserver(tmp_path)
    try:
        wait_for_port(port, server, timeout=30)
        assert dcmtk("storescu", "-aec", "PHAROS", "127.0.0.1", port, sample_path("CT_small.dcm")).returncode == 0
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0
    assert "DICOM server stopped" in output
    assert "Association from STORESCU" in output
    assert len(list((tmp_path / "storage").rglob("*.dcm"))) == 1


def test_a_port_in_use_is_a_clear_error(tmp_path):
    env = dict(os.environ, PHAROS_DATA_DIR=str(tmp_path))
    env.pop("DATABASE_URL", None)
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "dicomserver", "--port", str(port)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )
    assert result.returncode != 0
    assert f"Cannot listen on the DICOM port {port}: Address already in use" in result.stderr


def test_helper_processes_stop_when_the_server_is_killed_outright(tmp_path):
    server, _ = start_dicomserver(tmp_path, "--processes", "2", output=subprocess.DEVNULL)
    helpers = wait_until(lambda: helpers_of(server.pid), 60, "no helper process started")
    server.kill()
    server.wait()
    try:
        wait_until(lambda: not still_running(helpers), 20, "a helper outlived the DICOM server")
    finally:
        for pid in still_running(helpers):
            os.kill(pid, signal.SIGKILL)


def still_running(pids):
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def helpers_of(parent):
    """The pids of the `manage.py dicomserver --listen-fd` processes a server started."""
    return [pid for pid, command in child_processes(parent).items() if b"--listen-fd" in command]
