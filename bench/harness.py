"""What the benchmarks share: a throw-away PostgreSQL database, the real server as a
subprocess (`manage.py start`), a keep-alive HTTP client with Basic credentials,
timing figures, and the result table.
"""

import base64
import http.client
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

PROJECT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MB = 1_000_000


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- PostgreSQL ---------------------------------------------------------------------


def database_url(name):
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def create_database(name):
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(name)


def postgres_version(url):
    with psycopg.connect(url) as conn:
        return "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]


def drop_database(name):
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --- processes -------------------------------------------------------------------------


def wait_for_port(port, process, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


def stop_process(process, timeout=30):
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the server -----------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One keep-alive HTTP/1.1 connection to the server, sending Basic credentials."""

    def __init__(self, port, user, password, timeout=600):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.authorization = f"Basic {token}"

    def request(self, method, path, body=None, content_type=None, headers=None):
        """(status, body bytes). A keep-alive connection the server closed is reopened once."""
        headers = {"Authorization": self.authorization} | (headers or {})
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                if attempt == 2:
                    raise

    def json(self, method, path, payload=None):
        body = None if payload is None else json.dumps(payload).encode()
        status, data = self.request(method, path, body, "application/json" if body else None)
        if status != 200:
            raise RuntimeError(f"{method} {path} answered HTTP {status}: {data[:300]!r}")
        return json.loads(data)

    def close(self):
        self.connection.close()


class Server:
    """`manage.py start` in its own data folder and database; `manage(...)` runs other commands alike."""

    def __init__(self, data_dir, db_url, log_path):
        self.user = "bench"
        self.password = secrets.token_urlsafe(16)
        self.port = free_port()
        self.log_path = Path(log_path)
        self.env = os.environ | {
            "PHAROS_DATA_DIR": str(data_dir),
            "DATABASE_URL": db_url,
            "PHAROS_HTTP_HOST": "127.0.0.1",
            "PHAROS_HTTP_PORT": str(self.port),
            "PHAROS_DICOM_PORT": str(free_port()),
            "PHAROS_ADMIN_USER": self.user,
            "PHAROS_ADMIN_PASSWORD": self.password,
            "PHAROS_LOG_LEVEL": "WARNING",
        }
        self.storage_dir = Path(data_dir) / "storage"
        self.process = None

    def start(self, timeout=120):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as server_log:  # the access log (stdout) is dropped
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "start"],
                cwd=PROJECT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=server_log,
                start_new_session=True,
            )
        self._wait_until_ready(timeout)

    def _wait_until_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The server exited with code {self.process.returncode}; see {self.log_path}")
            try:
                client = self.client(timeout=5)
                status, _ = client.request("GET", "/system")
                client.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"The server did not answer GET /system within {timeout} s; see {self.log_path}")

    def stop(self):
        """SIGTERM to `manage.py start`, which stops gunicorn; SIGKILL to its group as a last resort."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def client(self, timeout=600):
        return Client(self.port, self.user, self.password, timeout)

    def manage(self, *args):
        """Run `manage.py ARGS` with the server's environment; returns the CompletedProcess."""
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=PROJECT, env=self.env, capture_output=True, text=True
        )

    def stored_files(self):
        return sum(1 for p in self.storage_dir.rglob("*.dcm"))

    def last_error(self):
        """The last exception line of the server's log, if any."""
        lines = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        for line in reversed(lines):
            head = line.split(":", 1)[0]
            if head.endswith(("Error", "Exception", "NotImplementedError")) and " " not in head:
                return line.strip()
        return None


# --- figures ----------------------------------------------------------------------------


@dataclass
class Throughput:
    files: int
    size: int  # bytes
    seconds: float

    def text(self):
        return f"{self.files / self.seconds:,.1f} inst/s, {self.size / MB / self.seconds:,.1f} MB/s"

    def text_with_time(self):
        return f"{self.text()} ({self.seconds:,.1f} s)"


@dataclass
class Latency:
    samples: list = field(default_factory=list)

    @property
    def median(self):
        return statistics.median(self.samples)

    @property
    def p95(self):
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    def text(self):
        return f"median {_duration(self.median)}, p95 {_duration(self.p95)}"


def _duration(seconds):
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def middle(items, key):
    """The item at the median of `key` (of an even count, the upper of the two middle ones)."""
    return sorted(items, key=key)[len(items) // 2]


def run_concurrently(work, count):
    """Run `work()` on `count` threads at once; the seconds until the last one ends."""
    workers = [threading.Thread(target=work) for _ in range(count)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - start


def measure_latency(call, runs, warmup=2):
    """Time `call()` `runs` times after `warmup` untimed calls; returns (Latency, last result)."""
    result = None
    for _ in range(warmup):
        result = call()
    latency = Latency()
    for _ in range(runs):
        start = time.perf_counter()
        result = call()
        latency.samples.append(time.perf_counter() - start)
    return latency, result


class LoadMonitor:
    """Samples the 1-minute load average every few seconds in a background thread: the
    machine is shared, and other work running at the same time skews every figure."""

    def __init__(self, interval=5.0):
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def text(self):
        if not self.samples:
            return "load average: not sampled"
        return (
            f"1-minute load average during the run: min {min(self.samples):.1f}, "
            f"median {statistics.median(self.samples):.1f}, max {max(self.samples):.1f} "
            f"on {os.cpu_count()} cores (the benchmark itself accounts for about 1–2.5)"
        )


# --- the table ----------------------------------------------------------------------------

COLUMNS = ("measurement", "Pharos", "baseline (same run)", "Orthanc 1.10.1 reference")


class Table:
    def __init__(self, columns=COLUMNS):
        self.columns = columns
        self.rows = []
        self.notes = []

    def add(self, measurement, pharos, baseline="—", reference="—", *more):
        self.rows.append((measurement, pharos, baseline, reference, *more))

    def note(self, text):
        self.notes.append(text)

    def text(self):
        widths = [max(len(str(row[i])) for row in (self.columns, *self.rows)) for i in range(len(self.columns))]

        def line(cells):
            return " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

        out = [line(self.columns), "-+-".join("-" * w for w in widths)]
        out += [line(row) for row in self.rows]
        out += [""] + [f"* {n}" for n in self.notes]
        return "\n".join(out)

    def markdown(self, title, preamble=()):
        def line(cells):
            return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

        out = [f"# {title}", "", *preamble, "", line(self.columns), line(["---"] * len(self.columns))]
        out += [line(row) for row in self.rows]
        if self.notes:
            out += ["", "Notes:", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"


# DCMTK tools stall about 40 ms per message with Nagle's algorithm on.
DCMTK_ENV = os.environ | {"TCP_NODELAY": "1"}
DCMTK_PDU = "131072"  # DCMTK 3.6 refuses more on the command line
