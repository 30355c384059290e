"""Ingest and query benchmark of the real server, each figure beside a baseline measured in the same run.

    .venv/bin/python bench/ingest.py            # full size: 600 CT slices, 3,000 small, 10,000 studies
    .venv/bin/python bench/ingest.py --quick    # smoke run: 60 CT, 300 small, 1,000 studies

What it does, all in a temporary folder and a throw-away PostgreSQL database
(pharos_bench_<pid> on 127.0.0.1:5432, user postgres), both removed at the end:

1. writes synthetic DICOM files with pydicom (bench/synthetic.py): CT slices
   (512×512, 16-bit, one study, three series), small 64×64 secondary captures
   (30 per study), and tiny one-instance studies for the query part;
2. baseline for ingest: a plain copy of the same files, fsync per file;
3. starts the server with `manage.py start` (its own data folder, database and free
   port) and waits for GET /system to answer with Basic credentials;
4. POST /instances with one and with four client threads (one keep-alive connection
   per thread), then `manage.py import --quiet`, for the CT set and the small set;
   everything is deleted (DELETE /patients/{id}) between runs, so each run stores new files;
5. imports the one-instance studies (10,000; the time is a figure too) and measures
   GET /system, GET /studies?expand and two POST /tools/find queries (median and p95),
   beside the same rows read by a bare SELECT through psycopg; the answers' counts
   are checked against the SELECT's;
6. stops the server (SIGTERM), drops the database, prints the table and writes it
   as Markdown to bench/out/ingest.md (the server's error log goes to bench/out/ingest-server.log).

When Debian's `orthanc` package is installed, Orthanc (PostgreSQL index with the
orthanc-postgresql plugin, else SQLite) gets the same POSTs: POST_ROUNDS rounds, each
posting to Orthanc then to Pharos (figures at each one's median run; Pharos's ratio to
Orthanc is the median of the rounds' ratios, each to Orthanc of its own round), and is
populated with the same studies and asked the same queries; its column shows those figures
beside the task's reference constants (the column holds only the constants otherwise).

Timings are printed, never asserted. MB is 10^6 bytes. The machine may be shared: the
1-minute load average during the run is printed with the table, read it before the figures.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import psycopg
import synthetic
from harness import (
    LoadMonitor,
    Server,
    Table,
    Throughput,
    create_database,
    drop_database,
    log,
    measure_latency,
    middle,
    postgres_version,
    run_concurrently,
)
from orthanc import Orthanc

OUT_DIR = Path(__file__).resolve().parent / "out"
LATENCY_RUNS = 20
POST_ROUNDS = 3


@dataclass(frozen=True)
class Sizes:
    ct: int
    small: int
    studies: int


FULL = Sizes(ct=600, small=3000, studies=10_000)
QUICK = Sizes(ct=60, small=300, studies=1_000)

ORTHANC_CT_POST_4 = "≈180 inst/s (CT slices, 4 threads)"
ORTHANC_FIND_WILDCARD = "20 ms (SQLite) – 150 ms (PostgreSQL)"
ORTHANC_STUDIES_EXPAND = "0.6 s (SQLite), 6.8 s (PostgreSQL) at 10,000 studies"


@dataclass
class FileSet:
    label: str
    folder: Path
    paths: list

    @property
    def size(self):
        return sum(p.stat().st_size for p in self.paths)

    def describe(self):
        return f"{len(self.paths):,} {self.label}"


# --- data and the copy baseline ------------------------------------------------------------


def generate(root, sizes):
    sets = {}
    for key, label, writer, count in (
        ("ct", "CT slices", synthetic.write_ct_study, sizes.ct),
        ("small", "small SC", synthetic.write_small_studies, sizes.small),
        ("studies", "one-instance studies", synthetic.write_tiny_studies, sizes.studies),
    ):
        start = time.perf_counter()
        folder = Path(root) / key
        sets[key] = FileSet(label, folder, writer(folder, count))
        log(f"wrote {sets[key].describe()} ({sets[key].size / 1e6:,.1f} MB) in {time.perf_counter() - start:.1f} s")
    return sets


def copy_baseline(file_set, target):
    """Read each file and write it to a new folder, fsync per file."""
    target.mkdir(parents=True)
    start = time.perf_counter()
    for i, path in enumerate(file_set.paths):
        data = path.read_bytes()
        with open(target / f"{i:06d}.dcm", "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    return Throughput(len(file_set.paths), file_set.size, time.perf_counter() - start)


# --- ingest through the server ------------------------------------------------------------------


def warm_up(server, connections=8):
    """A few parallel GET /system so every worker has checked the password (a slow hash) once."""

    def ping():
        client = server.client()
        for _ in range(3):
            client.request("GET", "/system")
        client.close()

    threads = [threading.Thread(target=ping) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def post_instances(server, payloads, threads):
    """POST every payload to /instances from `threads` threads; returns (Throughput, failures)."""
    pending = iter(payloads)
    lock = threading.Lock()
    failures = []

    def work():
        client = server.client()
        while True:
            with lock:
                data = next(pending, None)
            if data is None:
                break
            status, body = client.request("POST", "/instances", data, "application/dicom")
            if status != 200 or json.loads(body).get("Status") != "Success":
                failures.append(f"HTTP {status}: {body[:200]!r}")
        client.close()

    seconds = run_concurrently(work, threads)
    return Throughput(len(payloads), sum(map(len, payloads)), seconds), failures


def import_folder(server, file_set):
    """`manage.py import --quiet FOLDER` as a subprocess; the time includes Django's start."""
    start = time.perf_counter()
    result = server.manage("import", "--quiet", str(file_set.folder))
    seconds = time.perf_counter() - start
    expected = f"Stored: {len(file_set.paths)},"
    problem = None if result.returncode == 0 and expected in result.stdout else (result.stdout + result.stderr)[-500:]
    return Throughput(len(file_set.paths), file_set.size, seconds), problem


def import_start_up(server, table, empty_folder):
    """`manage.py import --quiet` of an empty folder: the fixed cost inside every import figure."""
    empty_folder.mkdir()
    start = time.perf_counter()
    server.manage("import", "--quiet", str(empty_folder))
    table.add("manage.py import, empty folder (process start-up)", f"{time.perf_counter() - start:.2f} s")


def delete_everything(server):
    """DELETE /patients/{id} for each patient, then check that the index and the storage are empty."""
    client = server.client()
    for patient in client.json("GET", "/patients"):
        client.json("DELETE", f"/patients/{patient}")
    left = client.json("GET", "/statistics")["CountInstances"]
    client.close()
    if left or server.stored_files():
        raise RuntimeError(f"after deleting every patient, {left} instances and {server.stored_files()} files remain")


def failed_text(rounds):
    return f" — FAILED in {rounds} of {POST_ROUNDS} rounds" if rounds else ""


def median_figure(figures):
    return middle(figures, key=lambda figure: figure.seconds)


def measure_ingest(server, table, file_set, baseline, reference_4_threads="—", orthanc=None):
    payloads = [p.read_bytes() for p in file_set.paths]
    what = file_set.describe()
    for threads, reference in ((1, "—"), (4, reference_4_threads)):
        runs = {"Pharos": [], "Orthanc": []}
        failed = {"Pharos": 0, "Orthanc": 0}
        # The machine's speed drifts within minutes: each round posts to Orthanc then to
        # Pharos, and Pharos is compared with Orthanc of its own round.
        for round_number in range(1, POST_ROUNDS + 1):
            if orthanc is not None:
                log(
                    f"POST /instances, {what}, {threads} thread(s) → {orthanc.name} "
                    f"(round {round_number} of {POST_ROUNDS})"
                )
                figure, failures = post_instances(orthanc, payloads, threads)
                runs["Orthanc"].append(figure)
                failed["Orthanc"] += bool(failures)
                if failures:
                    table.note(
                        f"Orthanc, POST {what}, {threads} thread(s): {len(failures)} failures, first: {failures[0]}"
                    )
                orthanc.clear()
            warm_up(server)
            log(f"POST /instances, {what}, {threads} thread(s) (round {round_number} of {POST_ROUNDS})")
            figure, failures = post_instances(server, payloads, threads)
            runs["Pharos"].append(figure)
            failed["Pharos"] += bool(failures)
            if failures:
                table.note(f"POST {what}, {threads} thread(s): {len(failures)} failures, first: {failures[0]}")
            delete_everything(server)
        cell = median_figure(runs["Pharos"]).text_with_time() + failed_text(failed["Pharos"])
        if orthanc is not None:
            shares = [o.seconds / p.seconds for p, o in zip(runs["Pharos"], runs["Orthanc"])]
            rounds = ", ".join(f"{value:.2f}" for value in shares)
            cell += f" — {statistics.median(shares):.2f}× Orthanc (rounds: {rounds})"
            reference = (
                f"measured {orthanc.index}: {median_figure(runs['Orthanc']).text()}"
                + (failed_text(failed["Orthanc"]))
                + (f"; ref. {reference_4_threads}" if threads > 1 else "")
            )
        table.add(
            f"POST /instances, {what}, {threads} thread{'s' if threads > 1 else ''}", cell, baseline.text(), reference
        )
    log(f"manage.py import, {what}")
    figure, problem = import_folder(server, file_set)
    table.add(f"manage.py import, {what}", figure.text_with_time(), baseline.text())
    if problem:
        table.note(f"import of {what} did not store everything: {problem}")
    delete_everything(server)


# --- queries on many studies ---------------------------------------------------------------------

# The baselines read the same study rows: every column (JOIN patient) where the answer is
# expanded, only the public ids where the answer is a list of ids.
STUDY_ROWS = "SELECT s.*, p.* FROM explorer_study s JOIN explorer_patient p ON p.id = s.patient_id"
STUDY_IDS = "SELECT s.public_id FROM explorer_study s JOIN explorer_patient p ON p.id = s.patient_id"


@dataclass(frozen=True)
class Query:
    label: str
    method: str
    path: str
    body: dict | None
    sql: str
    params: tuple
    reference: str
    limit: int | None = None


QUERIES = (
    Query(
        "GET /studies?expand",
        "GET",
        "/studies?expand",
        None,
        STUDY_ROWS + " ORDER BY s.id",
        (),
        ORTHANC_STUDIES_EXPAND,
    ),
    Query(
        "POST /tools/find Study PatientName=*SMITH*",
        "POST",
        "/tools/find",
        {"Level": "Study", "Query": {"PatientName": "*SMITH*"}},
        STUDY_IDS + " WHERE p.patient_name ILIKE %s ORDER BY s.id",
        ("%SMITH%",),
        ORTHANC_FIND_WILDCARD,
    ),
    Query(
        "POST /tools/find Study StudyDate=20200101-20201231 Expand Limit=100",
        "POST",
        "/tools/find",
        {"Level": "Study", "Query": {"StudyDate": "20200101-20201231"}, "Expand": True, "Limit": 100},
        STUDY_ROWS + " WHERE s.study_date BETWEEN %s AND %s ORDER BY s.id LIMIT 100",
        ("20200101", "20201231"),
        "—",
        limit=100,
    ),
)


def measure_query(client, conn, query, runs):
    """(Pharos cell, baseline cell, note or None) for one query."""
    baseline, rows = measure_latency(lambda: conn.execute(query.sql, query.params).fetchall(), runs)
    baseline_cell = f"{baseline.text()} ({len(rows):,} rows)"
    cell, status, answer = ask_query(client, query, runs)
    note = None
    if status != 200 or len(answer) != len(rows):
        note = f"{query.label}: HTTP {status}, {len(answer)} results where the SELECT found {len(rows)} rows"
    return cell, baseline_cell, note


def ask_query(client, query, runs):
    """(cell, HTTP status, answer) of one query asked `runs` times of a server."""
    body = json.dumps(query.body).encode() if query.body is not None else None
    content_type = "application/json" if body else None

    def ask():
        return client.request(query.method, query.path, body, content_type)

    status, data = ask()
    if status != 200:
        return f"HTTP {status} — no figure", status, []
    latency, (status, data) = measure_latency(ask, runs)
    answer = json.loads(data)
    return f"{latency.text()} ({len(answer):,} results, {_size(len(data))} JSON)", status, answer


def _size(nbytes):
    return f"{nbytes / 1e6:,.1f} MB" if nbytes >= 1e6 else f"{nbytes / 1e3:,.0f} kB"


def measure_queries(server, db_url, table, file_set, baseline, runs, orthanc=None):
    log(f"manage.py import, {file_set.describe()}")
    figure, problem = import_folder(server, file_set)
    table.add(f"manage.py import, {file_set.describe()}", figure.text_with_time(), baseline.text())
    if problem:
        table.note(f"import of {file_set.describe()} did not store everything: {problem}")
    orthanc_client = None
    if orthanc is not None:
        log(f"POST /instances, {file_set.describe()} → {orthanc.name} (to populate it)")
        figure, failures = post_instances(orthanc, [p.read_bytes() for p in file_set.paths], 4)
        table.add(
            f"{orthanc.name} populated by POST /instances, {file_set.describe()}, 4 threads",
            "—",
            "—",
            f"measured: {figure.text_with_time()}" + (f" — {len(failures)} FAILED" if failures else ""),
        )
        orthanc_client = orthanc.client()
    client = server.client()
    warm_up(server)
    system, _ = measure_latency(lambda: client.request("GET", "/system"), runs)
    table.add("GET /system (HTTP + auth floor)", system.text())
    with psycopg.connect(db_url, autocommit=True) as conn:
        studies = conn.execute("SELECT count(*) FROM explorer_study").fetchone()[0]
        for query in QUERIES:
            log(f"{query.label}, {runs} runs")
            pharos, base, note = measure_query(client, conn, query, runs)
            reference = query.reference
            if orthanc_client is not None:
                log(f"{query.label}, {runs} runs → {orthanc.name}")
                reference = f"measured {orthanc.index}: {ask_query(orthanc_client, query, runs)[0]}; ref. {reference}"
            table.add(f"{query.label}, {studies:,} studies", pharos, base, reference)
            if note:
                error = server.last_error()
                table.note(note + (f"; server log: {error}" if error else ""))
    client.close()
    if orthanc_client is not None:
        orthanc_client.close()


# --- the run -----------------------------------------------------------------------------------


def preamble(sizes, quick, db_version, load):
    return [
        f"Run {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{db_version}; server: `manage.py start` (gunicorn, threaded workers taking connections in turn, "
        "default workers/threads).",
        f"Sizes{' (--quick)' if quick else ''}: {sizes.ct:,} CT slices 512×512×16-bit, {sizes.small:,} small "
        f"64×64 SC, {sizes.studies:,} one-instance studies. Latencies over {LATENCY_RUNS} runs after 2 warm-up runs. "
        "Baseline for ingest rows: plain copy of the same files with fsync per file; "
        "for query rows: a bare SELECT of the same study rows through psycopg (JOIN patient; all columns "
        "where the answer is expanded, the public ids where it is a list of ids).",
        load.text() + ".",
    ]


def run(sizes, quick, only=None):
    table = Table()
    orthanc_text = "Orthanc: not installed (`which Orthanc` finds nothing): its column gives the task's references."
    with tempfile.TemporaryDirectory(prefix="pharos-bench-") as tmp:
        tmp = Path(tmp)
        sets = generate(tmp / "files", sizes)
        baselines = {key: copy_baseline(s, tmp / "copy" / key) for key, s in sets.items()}
        for key, figure in baselines.items():
            log(f"copy+fsync {sets[key].describe()}: {figure.text()}")
        db_name = f"pharos_bench_{os.getpid()}"
        db_url = create_database(db_name)
        db_version = postgres_version(db_url)
        server = Server(tmp / "data", db_url, OUT_DIR / "ingest-server.log")
        orthanc = None
        if shutil.which("Orthanc"):
            orthanc = Orthanc(
                shutil.which("Orthanc"), tmp / "orthanc", OUT_DIR / "ingest-orthanc.log", f"orthanc_bench_{os.getpid()}"
            )
            orthanc_text = (
                f"Orthanc: {orthanc.version()} measured in this run ({orthanc.index} index, no "
                f"authentication) on the same files; POST rows: {POST_ROUNDS} rounds of Orthanc then "
                "Pharos, figures at each one's median run, the ratio the median of the rounds' ratios."
            )
        try:
            if orthanc is not None:
                log(f"starting {orthanc.name} on port {orthanc.http_port}")
                orthanc.start()
            log(f"starting the server on port {server.port}, database {db_name}")
            server.start()
            import_start_up(server, table, tmp / "empty")
            if only in (None, "ct"):
                measure_ingest(server, table, sets["ct"], baselines["ct"], ORTHANC_CT_POST_4, orthanc)
            if only in (None, "small"):
                measure_ingest(server, table, sets["small"], baselines["small"], orthanc=orthanc)
            if only in (None, "queries"):
                measure_queries(server, db_url, table, sets["studies"], baselines["studies"], LATENCY_RUNS, orthanc)
        except Exception as exc:  # still print what was measured
            traceback.print_exc()
            table.note(f"the run stopped early: {type(exc).__name__}: {exc}")
        finally:
            server.stop()
            if orthanc is not None:
                orthanc.stop()
            drop_database(db_name)
    return table, db_version, orthanc_text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("--only", choices=("ct", "small", "queries"), help="measure one part only")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    with LoadMonitor() as load:
        table, db_version, orthanc_text = run(sizes, args.quick, args.only)
    lines = preamble(sizes, args.quick, db_version, load) + [orthanc_text]
    print("\n".join(lines) + "\n")
    print(table.text())
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "ingest.md").write_text(table.markdown("Pharos ingest and query benchmark", lines))
    print(f"\nwritten to {OUT_DIR / 'ingest.md'}")


if __name__ == "__main__":
    sys.exit(main())
