"""Store-job benchmark: the real server's C-STORE SCU (a DicomModalityStore job) beside a bare
pynetdicom SCU, both sending the same CT study to the same DCMTK storescp in the same run.

    .venv/bin/python bench/scu.py            # full size: 600 CT slices
    .venv/bin/python bench/scu.py --quick    # smoke run: 60 CT slices

What it does, all in a temporary folder and a throw-away PostgreSQL database
(pharos_scu_<pid> on 127.0.0.1:5432, user postgres), both removed at the end:

1. writes the CT study of bench/ingest.py (bench/synthetic.py, same seed): 512×512 16-bit
   slices in explicit VR little endian, one study, three series;
2. starts DCMTK `storescp` (TCP_NODELAY=1 in its environment, -pdu 131072, the largest
   DCMTK 3.6 accepts, no host name lookups) writing into a temporary folder;
3. starts the server with `manage.py start` (its own data folder, database and ports),
   imports the study with `manage.py import --quiet` and registers the storescp as the
   modality `storescp` (PUT /modalities/storescp);
4. in each of ROUNDS rounds, first the baseline: a bare pynetdicom SCU in this process
   (one association, one presentation context CT Image Storage / Explicit VR Little
   Endian, TCP_NODELAY on its socket, `assoc.send_c_store(path)` with pynetdicom streaming
   each file from disk), timed from the association request to its release; then the
   server: POST /modalities/storescp/store {"Resources": [study], "Synchronous": true},
   the HTTP call's wall time (the job runs inside the request: job row, instance list,
   association, C-STOREs, job result). After each send the storescp folder must hold
   every slice, and is emptied;
5. stops everything (SIGTERM), drops the database, prints the table and writes it as
   Markdown to bench/out/scu.md (the server's error log goes to bench/out/scu-server.log).

Timings are printed, never asserted; the figures are the median of the rounds (min–max
beside). MB is 10^6 bytes. The machine may be shared: the 1-minute load average during
the run is printed with the table.
"""

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import synthetic
from harness import (
    DCMTK_ENV,
    DCMTK_PDU,
    LoadMonitor,
    Server,
    Table,
    Throughput,
    create_database,
    drop_database,
    free_port,
    log,
    postgres_version,
)
from ingest import FileSet, import_folder

OUT_DIR = Path(__file__).resolve().parent / "out"
SCU_MAX_PDU = 4 * 1024 * 1024  # what the bare SCU receives; what it sends is storescp's 131072
ROUNDS = 5
FULL_CT, QUICK_CT = 600, 60
TARGET_RATIO = 0.8
STORESCP_AET = "STORESCP"


class StoreScp:
    """DCMTK storescp writing every received instance into `folder`."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.port = free_port()
        self.process = None

    def start(self):
        self.folder.mkdir(parents=True)
        command = ["storescp", "-aet", STORESCP_AET, "-pdu", DCMTK_PDU, "-dhl", "-od", str(self.folder), str(self.port)]
        self.log_path = self.folder.with_name("storescp.log")
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(command, env=DCMTK_ENV, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"storescp exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"storescp did not listen on port {self.port}") from None
                time.sleep(0.1)

    def log_tail(self, lines=5):
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return " / ".join(text.strip().splitlines()[-lines:])

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def take(self):
        """How many files arrived since the last call; they are removed."""
        files = list(self.folder.iterdir())
        for path in files:
            path.unlink()
        return len(files)


# --- the baseline: a bare pynetdicom SCU -----------------------------------------------------


def bare_send(paths, port):
    """One association, every file with send_c_store(path); returns (seconds, failures)."""
    from pydicom.uid import ExplicitVRLittleEndian
    from pynetdicom import AE, _config, evt

    _config.LOG_HANDLER_LEVEL = "none"
    _config.STORE_SEND_CHUNKED_DATASET = True  # stream each file from disk, as our SCU does

    def no_delay(event):
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    ae = AE(ae_title="BARESCU")
    ae.add_requested_context(synthetic.CT_IMAGE_STORAGE, ExplicitVRLittleEndian)

    def associate():
        assoc = ae.associate(
            "127.0.0.1", port, ae_title=STORESCP_AET, max_pdu=SCU_MAX_PDU, evt_handlers=[(evt.EVT_CONN_OPEN, no_delay)]
        )
        if not assoc.is_established:
            raise RuntimeError("the bare SCU could not associate with storescp")
        return assoc

    failures = 0
    start = time.perf_counter()
    assoc = associate()
    for path in paths:
        if not assoc.is_established:  # aborted after a response that never came: go on, as our SCU does
            assoc = associate()
        status = assoc.send_c_store(path)
        if status.get("Status") != 0x0000:
            failures += 1
    assoc.release()
    return time.perf_counter() - start, failures


# --- the server's store job --------------------------------------------------------------------


def prepare_server(server, file_set, scp):
    """Import the study, register storescp; returns the study's id."""
    log(f"manage.py import, {file_set.describe()}")
    figure, problem = import_folder(server, file_set)
    if problem:
        raise RuntimeError(f"the import did not store everything: {problem}")
    client = server.client()
    try:
        body = json.dumps([STORESCP_AET, "127.0.0.1", scp.port]).encode()
        status, answer = client.request("PUT", "/modalities/storescp", body, "application/json")
        if status != 200:
            raise RuntimeError(f"PUT /modalities/storescp answered HTTP {status}: {answer[:300]!r}")
        studies = client.json("GET", "/studies")
    finally:
        client.close()
    if len(studies) != 1:
        raise RuntimeError(f"expected one study after the import, found {len(studies)}")
    return studies[0], figure


def job_send(server, study):
    """POST /modalities/storescp/store, synchronous; returns (seconds, the job's content, or
    None and a text saying why it failed, with what the server logged meanwhile)."""
    client = server.client()
    body = json.dumps({"Resources": [study], "Synchronous": True}).encode()
    log_start = server.log_path.stat().st_size if server.log_path.exists() else 0
    try:
        start = time.perf_counter()
        status, answer = client.request("POST", "/modalities/storescp/store", body, "application/json")
        seconds = time.perf_counter() - start
    finally:
        client.close()
    if status == 200:
        return seconds, json.loads(answer), None
    try:
        details = json.loads(answer).get("Details", "")
    except ValueError:
        details = answer[:300].decode(errors="replace")
    with open(server.log_path, "rb") as server_log:
        server_log.seek(log_start)
        logged = [
            line.strip()
            for line in server_log.read().decode(errors="replace").splitlines()
            if "pynetdicom" in line or "dicomnet" in line
        ]
    return seconds, None, f"HTTP {status} after {seconds:.1f} s: {details}; server log: {' | '.join(logged[-4:])}"


# --- the run -------------------------------------------------------------------------------------


def summary(seconds_list, file_set):
    """(Throughput at the median time, 'min–max inst/s' text)."""
    median = Throughput(len(file_set.paths), file_set.size, statistics.median(seconds_list))
    rates = sorted(len(file_set.paths) / s for s in seconds_list)
    return median, f"{rates[0]:,.1f}–{rates[-1]:,.1f} inst/s over {len(rates)} runs"


def run(count, quick):
    table = Table()
    with tempfile.TemporaryDirectory(prefix="pharos-scu-") as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        folder = tmp / "files" / "ct"
        file_set = FileSet("CT slices", folder, synthetic.write_ct_study(folder, count))
        log(f"wrote {file_set.describe()} ({file_set.size / 1e6:,.1f} MB) in {time.perf_counter() - start:.1f} s")
        db_name = f"pharos_scu_{os.getpid()}"
        db_url = create_database(db_name)
        db_version = postgres_version(db_url)
        server = Server(tmp / "data", db_url, OUT_DIR / "scu-server.log")
        # storescp serves one association at a time: one the server kept open for reuse
        # (DicomAssociationCloseDelay) would hold up the next round's bare SCU.
        server.env["PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY"] = "0"
        scp = StoreScp(tmp / "storescp")
        try:
            scp.start()
            log(f"storescp on port {scp.port}; starting the server on port {server.port}, database {db_name}")
            server.start()
            study, imported = prepare_server(server, file_set, scp)
            table.add(f"manage.py import, {file_set.describe()} (set-up, not a figure of this benchmark)",
                      imported.text_with_time())  # fmt: skip
            bare_times, job_times, failed_jobs, failed_bare = [], [], [], []
            for round_number in range(1, ROUNDS + 1):
                log(f"round {round_number}: bare pynetdicom SCU")
                seconds, failures = bare_send(file_set.paths, scp.port)
                received = scp.take()
                if failures:
                    failed_bare.append(seconds)
                    table.note(f"round {round_number}, bare SCU: {failures} C-STORE(s) got no response or a failure "
                               f"(run not in the figures, {seconds:.1f} s); storescp got {received} files")  # fmt: skip
                else:
                    if received != count:
                        table.note(f"round {round_number}, bare SCU: storescp got {received} files")
                    bare_times.append(seconds)
                log(f"round {round_number}: store job through the server")
                seconds, content, failure = job_send(server, study)
                received = scp.take()
                if failure:
                    failed_jobs.append(seconds)
                    table.note(f"round {round_number}, store job FAILED (not in the figures), {failure}; "
                               f"storescp got {received} files")  # fmt: skip
                    continue
                if content.get("FailedInstancesCount") or content.get("InstancesCount") != count or received != count:
                    table.note(f"round {round_number}, store job: content {content}, storescp got {received}")
                job_times.append(seconds)
            if not job_times or not bare_times:
                raise RuntimeError(f"every one of the {ROUNDS} runs failed (store job or bare SCU)")
            bare, bare_range = summary(bare_times, file_set)
            if failed_bare:
                bare_range += f", {len(failed_bare)} more run(s) FAILED"
            job, job_range = summary(job_times, file_set)
            if failed_jobs:
                job_range += f", {len(failed_jobs)} more run(s) FAILED"
            share = statistics.median(bare_times) / statistics.median(job_times)
            verdict = "met" if share >= TARGET_RATIO else "NOT met"
            table.add(
                f"C-STORE {file_set.describe()} to DCMTK storescp, 1 association: store job "
                "(POST /modalities/{name}/store, Synchronous)",
                f"{job.text_with_time()} [{job_range}] — {share:.2f}× bare; target ≥{TARGET_RATIO}× {verdict}",
                f"bare pynetdicom SCU: {bare.text_with_time()} [{bare_range}]",
            )
        except Exception as exc:  # still print what was measured
            traceback.print_exc()
            table.note(f"the run stopped early: {type(exc).__name__}: {exc}")
        finally:
            server.stop()
            scp.stop()
            drop_database(db_name)
    return table, db_version


def preamble(count, quick, db_version, load):
    return [
        f"Run {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{db_version}; server: `manage.py start` (gunicorn, threaded workers taking connections in turn, "
        "default workers/threads).",
        f"Sizes{' (--quick)' if quick else ''}: {count:,} CT slices 512×512×16-bit, explicit VR little endian. "
        "Receiver: DCMTK storescp (TCP_NODELAY=1, -pdu 131072, no fsync). "
        "Pharos: the store job run through the real server, `POST /modalities/storescp/store` with "
        '`{"Resources": [study], "Synchronous": true}`, the HTTP call\'s wall time. '
        "Baseline: a bare pynetdicom SCU in the benchmark process (one association, CT Image Storage / Explicit "
        "VR LE, TCP_NODELAY, `send_c_store(path)` streaming the file), association to release. "
        f"{ROUNDS} rounds, baseline then Pharos in each; figures at the median time.",
        load.text() + ".",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    args = parser.parse_args()
    if not shutil.which("storescp"):
        sys.exit("DCMTK's storescp is needed (apt-get install dcmtk)")
    count = QUICK_CT if args.quick else FULL_CT
    with LoadMonitor() as load:
        table, db_version = run(count, args.quick)
    lines = preamble(count, args.quick, db_version, load)
    print("\n".join(lines) + "\n")
    print(table.text())
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "scu.md").write_text(table.markdown("Pharos store job (C-STORE SCU) benchmark", lines))
    print(f"\nwritten to {OUT_DIR / 'scu.md'}")


if __name__ == "__main__":
    sys.exit(main())
