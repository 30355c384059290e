"""DICOM network benchmark of the real server: C-STORE throughput and C-FIND latency with
DCMTK's tools, each figure beside a baseline measured in the same run.

    .venv/bin/python bench/dicom.py            # full size: 600 CT slices, 3,000 small, 10,000 studies
    .venv/bin/python bench/dicom.py --quick    # smoke run: 60 CT, 300 small, 1,000 studies

What it does, all in a temporary folder and a throw-away PostgreSQL database
(pharos_dicom_<pid> on 127.0.0.1:5432, user postgres), both removed at the end:

1. writes the synthetic files of bench/ingest.py (same generator, same seed): CT slices
   (512×512, 16-bit), small 64×64 secondary captures, tiny one-instance studies;
2. starts the baseline: a bare pynetdicom C-STORE SCP in its own process (this file with
   --bare-scp), which only writes each received data set (`event.encoded_dataset()`) to a
   file, with TCP_NODELAY on its sockets and a 4 MB maximum PDU; and, when Debian's
   `orthanc` package is installed, Orthanc on other ports (SQLite index, or PostgreSQL when
   the orthanc-postgresql plugin is installed too);
3. starts the server with `manage.py start` (its own data folder, database and ports);
4. C-STORE with DCMTK `storescu`: one association with every file, then four associations
   in parallel (four storescu processes, each a quarter of the files), in STORE_ROUNDS
   rounds, each sending the same files to the bare SCP, Orthanc and Pharos in turn (the
   machine's speed drifts: Pharos is compared with the bare SCP of its own round);
   everything is deleted between runs, and every run is checked to have stored every file;
5. imports the one-instance studies with `manage.py import --quiet` (C-STORE into Orthanc),
   registers findscu's AE title FINDSCU as the modality `finder` (PUT /modalities/finder)
   and times `findscu -S` at the STUDY level (median and p95 of whole findscu runs,
   including the process start, which the echoscu row shows), beside the same rows read by a
   bare SELECT through psycopg; answer counts are checked against the SELECT's;
6. stops everything (SIGTERM), drops the database(s), prints the table and writes it as
   Markdown to bench/out/dicom.md (the server's error log goes to bench/out/dicom-server.log).

DCMTK tools run with TCP_NODELAY=1 in their environment (else every exchange stalls ~40 ms)
and `-pdu 131072`, the largest receive PDU DCMTK 3.6 accepts on its command line (it refuses
`--max-send-pdu 4194304` too). Whatever the peer accepts (4 MB for Pharos and the bare SCP),
storescu 3.6.7 sends P-DATA PDUs of at most 128 kB (131,060-byte writes seen with strace).

Timings are printed, never asserted. MB is 10^6 bytes. Orthanc 1.10.1's figures in the last
column are the task's reference constants unless Orthanc was measured in this run. The
machine may be shared: the 1-minute load average during the run is printed with the table.
"""

import argparse
import itertools
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import psycopg
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
    measure_latency,
    middle,
    postgres_version,
    stop_process,
    wait_for_port,
)
from ingest import FULL, QUICK, STUDY_ROWS, delete_everything, generate, import_folder
from orthanc import Orthanc

OUT_DIR = Path(__file__).resolve().parent / "out"
BARE_MAX_PDU = 4 * 1024 * 1024
PARALLEL = 4
FIND_RUNS = 10
UNIVERSAL_RUNS = 5
REPEAT, REPEAT_UNIVERSAL, REPEAT_RUNS = 10, 2, 3  # findscu --repeat, for the time inside one association
FINDER_AET = "FINDSCU"

# The task's references (Orthanc 1.10.1 and a bare pynetdicom SCP on this kind of machine).
BARE_CT_REFERENCE = "≈300 CT slices/s expected (TCP_NODELAY, big PDU)"
ORTHANC_CT_4 = "≈280 inst/s (SQLite), ≈180 inst/s (PostgreSQL)"
ORTHANC_FIND_WILDCARD = "≈130 ms (PostgreSQL)"
ORTHANC_FIND_UNIVERSAL = "≈9 s (PostgreSQL)"
TARGET_STORE_RATIO = 0.8
STORE_ROUNDS = 3
TARGET_WILDCARD = 0.030
TARGET_UNIVERSAL = 1.0


# --- the bare SCP (runs in its own process: this file with --bare-scp PORT FOLDER) ------------


def bare_scp(port, folder):
    """A pynetdicom C-STORE (and C-ECHO) SCP that only writes what it receives to files."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, _config, evt
    from pynetdicom.sop_class import Verification

    _config.LOG_HANDLER_LEVEL = "none"
    folder = Path(folder)
    numbers = itertools.count()

    def no_delay(event):
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def on_store(event):
        with open(folder / f"{next(numbers):07d}.dcm", "wb") as out:
            out.write(event.encoded_dataset())
        return 0x0000

    ae = AE(ae_title="BARESCP")
    ae.maximum_pdu_size = BARE_MAX_PDU
    ae.maximum_associations = 50
    ae.add_supported_context(Verification)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ae.start_server(
        ("127.0.0.1", port), block=True, evt_handlers=[(evt.EVT_CONN_OPEN, no_delay), (evt.EVT_C_STORE, on_store)]
    )


class BareScp:
    name = "bare pynetdicom SCP"

    def __init__(self, folder):
        self.folder = Path(folder)
        self.port = free_port()
        self.aet = "BARESCP"
        self.process = None

    def start(self):
        self.folder.mkdir(parents=True)
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--bare-scp", str(self.port), str(self.folder)], cwd=Path(__file__).parent
        )
        wait_for_port(self.port, self.process, self.name)

    @property
    def pids(self):
        return [self.process.pid] if self.process else []

    def stop(self):
        stop_process(self.process)

    def count(self):
        return sum(1 for _ in self.folder.iterdir())

    def clear(self):
        for path in self.folder.iterdir():
            path.unlink()


# --- Pharos as a store target -------------------------------------------------------------------


def _processes():
    """{pid: (parent pid, command line)} of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            found[int(entry.name)] = (ppid, command)
    return found


def process_tree(root, marker):
    """The pids under `root` (not itself) whose command line contains `marker`, with all their
    descendants: e.g. `manage.py dicomserver` and the helper processes it starts."""
    processes = _processes()
    children = {}
    for pid, (ppid, _) in processes.items():
        children.setdefault(ppid, []).append(pid)
    found, pending = [], [(pid, False) for pid in children.get(root, [])]
    while pending:
        pid, inside = pending.pop()
        inside = inside or marker in processes[pid][1]
        if inside:
            found.append(pid)
        pending.extend((child, inside) for child in children.get(pid, []))
    return found


def cpu_seconds(pids):
    """User + system CPU time of the processes (all their threads), from /proc; None when unknown."""
    if not pids:
        return None
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class PharosTarget:
    name = "Pharos"

    def __init__(self, server):
        self.server = server
        self.port = int(server.env["PHAROS_DICOM_PORT"])
        self.aet = "PHAROS"
        # The processes whose CPU time is shown: `manage.py dicomserver` and any helpers it starts.
        self.pids = process_tree(server.process.pid, "dicomserver")

    def count(self):
        client = self.server.client()
        try:
            return client.json("GET", "/statistics")["CountInstances"]
        finally:
            client.close()

    def clear(self):
        delete_everything(self.server)


# --- DCMTK ---------------------------------------------------------------------------------------


def echo_latency(target, runs):
    command = ["echoscu", "-aet", FINDER_AET, "-aec", target.aet, "-pdu", DCMTK_PDU, "127.0.0.1", str(target.port)]

    def call():
        subprocess.run(command, env=DCMTK_ENV, check=True, capture_output=True)

    latency, _ = measure_latency(call, runs)
    return latency


def wait_for_echo(target, timeout=60):
    """C-ECHO until the target answers (its first association also warms it up)."""
    command = ["echoscu", "-aet", FINDER_AET, "-aec", target.aet, "127.0.0.1", str(target.port)]
    deadline = time.monotonic() + timeout
    while subprocess.run(command, env=DCMTK_ENV, capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{target.name} did not answer C-ECHO on port {target.port} within {timeout} s")
        time.sleep(0.2)


def storescu_command(target, paths):
    return [
        "storescu", "-aet", "BENCHSCU", "-aec", target.aet, "-pdu", DCMTK_PDU,
        "127.0.0.1", str(target.port), *map(str, paths),
    ]  # fmt: skip


def store_with_storescu(target, file_set, associations):
    """Send the file set in `associations` parallel storescu processes (each a contiguous share);
    returns (Throughput, problem or None). Checks that the target stored every file."""
    paths = file_set.paths
    share = -(-len(paths) // associations)
    chunks = [paths[i : i + share] for i in range(0, len(paths), share)]
    before = target.count()
    cpu_before = cpu_seconds(getattr(target, "pids", None))
    start = time.perf_counter()
    processes = [
        subprocess.Popen(storescu_command(target, chunk), env=DCMTK_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for chunk in chunks
    ]
    outputs = [p.communicate() for p in processes]
    seconds = time.perf_counter() - start
    cpu_after = cpu_seconds(getattr(target, "pids", None))
    target.cpu_per_instance = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / len(paths)
    problems = [
        f"storescu exited with {p.returncode}: {err.decode(errors='replace').strip()[-300:]}"
        for p, (_, err) in zip(processes, outputs)
        if p.returncode != 0 or err.strip()
    ]
    stored = target.count() - before
    if stored != len(paths):
        problems.append(f"{target.name} stored {stored} of {len(paths)} files")
    return Throughput(len(paths), file_set.size, seconds), ("; ".join(problems) or None)


@dataclass(frozen=True)
class Find:
    label: str
    keys: dict  # matching keys (the return keys are RETURN_KEYS)
    sql_where: str
    params: tuple
    runs: int
    target: float | None
    reference: str


RETURN_KEYS = (
    "PatientName", "PatientID", "StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber",
    "StudyDescription", "ModalitiesInStudy",
)  # fmt: skip

FINDS = (
    Find(
        "C-FIND Study PatientName=SMITH^J* (prefix wildcard)",
        {"PatientName": "SMITH^J*"},
        "p.patient_name ILIKE %s",
        ("SMITH^J%",),
        FIND_RUNS,
        TARGET_WILDCARD,
        ORTHANC_FIND_WILDCARD,
    ),
    Find(
        "C-FIND Study PatientName=*SMITH* (substring wildcard)",
        {"PatientName": "*SMITH*"},
        "p.patient_name ILIKE %s",
        ("%SMITH%",),
        FIND_RUNS,
        None,  # 1,500 answers: how fast answers flow, more than how fast a search is
        ORTHANC_FIND_WILDCARD,
    ),
    Find(
        "C-FIND Study StudyDate=20200101-20201231",
        {"StudyDate": "20200101-20201231"},
        "s.study_date BETWEEN %s AND %s",
        ("20200101", "20201231"),
        FIND_RUNS,
        None,
        "—",
    ),
    Find(
        "C-FIND Study AccessionNumber=ACC-Q-000042 (exact)",
        {"AccessionNumber": "ACC-Q-000042"},
        "s.accession_number = %s",
        ("ACC-Q-000042",),
        FIND_RUNS,
        None,
        "—",
    ),
    Find("C-FIND Study universal", {}, "TRUE", (), UNIVERSAL_RUNS, TARGET_UNIVERSAL, ORTHANC_FIND_UNIVERSAL),
)


def findscu_command(target, find, extract_to=None, repeat=1):
    command = ["findscu", "-S", "-aet", FINDER_AET, "-aec", target.aet, "-pdu", DCMTK_PDU]
    if repeat > 1:
        command += ["--repeat", str(repeat)]  # the same query again on the same association
    command += ["-k", "QueryRetrieveLevel=STUDY"]
    for keyword in RETURN_KEYS:
        value = find.keys.get(keyword)
        command += ["-k", keyword if value is None else f"{keyword}={value}"]
    command += ["-X", "-od", str(extract_to)] if extract_to else ["-q"]
    return command + ["127.0.0.1", str(target.port)]


def count_answers(target, find, folder):
    """An untimed findscu run that writes each answer to a file; returns the number of answers."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    subprocess.run(findscu_command(target, find, folder), env=DCMTK_ENV, check=True, capture_output=True)
    count = sum(1 for _ in folder.iterdir())
    shutil.rmtree(folder)
    return count


def _findscu_runs(target, find, runs, warmup, repeat=1):
    command = findscu_command(target, find, repeat=repeat)

    def call():
        result = subprocess.run(command, env=DCMTK_ENV, capture_output=True)
        if result.returncode != 0:
            error = result.stderr.decode(errors="replace")[-300:]
            raise RuntimeError(f"findscu exited with {result.returncode}: {error}")

    latency, _ = measure_latency(call, runs, warmup=warmup)
    return latency


def find_latency(target, find):
    """(whole findscu runs as a Latency, seconds per query inside one association). The second is
    (median time of `findscu --repeat 1+K` − median time of `findscu`) / K: it leaves out the
    process start and the association set-up and release."""
    whole = _findscu_runs(target, find, find.runs, warmup=1)
    repeat = REPEAT_UNIVERSAL if not find.keys else REPEAT
    repeated = _findscu_runs(target, find, REPEAT_RUNS, warmup=0, repeat=1 + repeat)
    return whole, max(0.0, (repeated.median - whole.median) / repeat)


def in_association_text(seconds):
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


# --- the measurements -----------------------------------------------------------------------------


def cpu_text(seconds):
    return "" if seconds is None else f", {seconds * 1000:,.1f} ms CPU/inst"


def ratio(figure, baseline):
    return (baseline.seconds / figure.seconds) * (figure.files / baseline.files)


def median_run(runs):
    """The run ((Throughput, CPU seconds per instance)) of median time."""
    return middle(runs, key=lambda run: run[0].seconds)


def measure_stores(table, pharos, bare, orthanc, file_set, reference_4):
    targets = [target for target in (bare, orthanc, pharos) if target is not None]
    for associations in (1, PARALLEL):
        what = f"C-STORE {file_set.describe()}, {associations} association{'s' if associations > 1 else ''}"
        runs = {target.name: [] for target in targets}
        # The machine's speed drifts within minutes: each round runs every target in turn,
        # and Pharos is compared with the bare SCP of its own round.
        for round_number in range(1, STORE_ROUNDS + 1):
            for target in targets:
                log(f"{what} → {target.name} (round {round_number} of {STORE_ROUNDS})")
                figure, problem = store_with_storescu(target, file_set, associations)
                runs[target.name].append((figure, target.cpu_per_instance))
                if problem:
                    table.note(f"{what} to {target.name}, round {round_number}: {problem}")
                target.clear()
        shares = [ratio(p, b) for (p, _), (b, _) in zip(runs[pharos.name], runs[bare.name])]
        share = statistics.median(shares)
        target_text = ""
        if associations > 1 and "CT" in file_set.label:
            target_text = f"; target ≥{TARGET_STORE_RATIO}× {'met' if share >= TARGET_STORE_RATIO else 'NOT met'}"
        figure, cpu = median_run(runs[pharos.name])
        rounds = ", ".join(f"{value:.2f}" for value in shares)
        cell = f"{figure.text()}{cpu_text(cpu)} — {share:.2f}× bare (rounds: {rounds}){target_text}"
        reference = reference_4 if associations > 1 else "—"
        if orthanc is not None:
            figure, cpu = median_run(runs[orthanc.name])
            reference = f"measured {orthanc.index}: {figure.text()}{cpu_text(cpu)}; ref. {reference}"
        figure, cpu = median_run(runs[bare.name])
        baseline_cell = figure.text() + cpu_text(cpu)
        if "CT" in file_set.label:
            baseline_cell += f" ({BARE_CT_REFERENCE})" if associations == 1 else ""
        table.add(what, cell, baseline_cell, reference)


def populate_orthanc(table, orthanc, file_set):
    log(f"C-STORE {file_set.describe()} → {orthanc.name} (to populate it)")
    figure, problem = store_with_storescu(orthanc, file_set, PARALLEL)
    table.add(f"{orthanc.name} populated by C-STORE, {file_set.describe()}, {PARALLEL} associations", "—", "—",
              f"measured: {figure.text_with_time()}")  # fmt: skip
    if problem:
        table.note(f"populating {orthanc.name}: {problem}")


def measure_finds(table, pharos, orthanc, db_url, file_set, bare, scratch):
    log(f"manage.py import, {file_set.describe()}")
    figure, problem = import_folder(pharos.server, file_set)
    table.add(f"manage.py import, {file_set.describe()} (to populate the index)", figure.text_with_time())
    if problem:
        table.note(f"import of {file_set.describe()} did not store everything: {problem}")
    if orthanc is not None:
        populate_orthanc(table, orthanc, file_set)
    client = pharos.server.client()
    body = json.dumps([FINDER_AET, "127.0.0.1", 104]).encode()
    status, answer = client.request("PUT", "/modalities/finder", body, "application/json")
    client.close()
    if status != 200:
        raise RuntimeError(f"PUT /modalities/finder answered HTTP {status}: {answer[:300]!r}")

    floor = {t.name: echo_latency(t, FIND_RUNS) for t in (pharos, bare, orthanc) if t is not None}
    table.add(
        "echoscu, whole run (process start + association + C-ECHO): the floor of every findscu row",
        floor[pharos.name].text(),
        f"bare SCP: {floor[bare.name].text()}",
        f"measured: {floor[orthanc.name].text()}" if orthanc else "—",
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        studies = conn.execute("SELECT count(*) FROM explorer_study").fetchone()[0]
        for find in FINDS:
            runs = find.runs
            log(f"{find.label}, {runs} runs")
            sql = f"{STUDY_ROWS} WHERE {find.sql_where} ORDER BY s.id"
            select, rows = measure_latency(lambda sql=sql, find=find: conn.execute(sql, find.params).fetchall(), runs)
            baseline_cell = f"SELECT: {select.text()} ({len(rows):,} rows)"
            answers = count_answers(pharos, find, scratch / "answers")
            latency, inside = find_latency(pharos, find)
            cell = f"{latency.text()} ({answers:,} answer{'s' if answers != 1 else ''}); "
            cell += f"inside one association ≈{in_association_text(inside)}"
            if find.target is not None:
                whole = "met" if latency.median < find.target else "NOT met"
                within = "met" if inside < find.target else "NOT met"
                cell += f" — target < {in_association_text(find.target)}: {whole} (whole run), {within} (inside)"
            if answers != len(rows):
                table.note(f"{find.label}: Pharos gave {answers} answers where the SELECT found {len(rows)} rows")
            reference = find.reference
            if orthanc is not None:
                orthanc_answers = count_answers(orthanc, find, scratch / "answers")
                orthanc_latency, orthanc_inside = find_latency(orthanc, find)
                reference = (
                    f"measured {orthanc.index}: {orthanc_latency.text()} ({orthanc_answers:,} answers); "
                    f"inside ≈{in_association_text(orthanc_inside)}; ref. {reference}"
                )
            table.add(f"{find.label}, {studies:,} studies (whole findscu runs: median/p95 of {runs})",
                      cell, baseline_cell, reference)  # fmt: skip


# --- the run ----------------------------------------------------------------------------------------


def preamble(sizes, quick, db_version, load, orthanc_text, server_text):
    return [
        f"Run {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{db_version}, {dcmtk_version()}; server: `manage.py start` (gunicorn, threaded workers taking connections "
        "in turn, default workers/threads; "
        f"DICOM: {server_text}, default settings, 4 MB maximum PDU).",
        f"Sizes{' (--quick)' if quick else ''}: {sizes.ct:,} CT slices 512×512×16-bit, {sizes.small:,} small "
        f"64×64 SC, {sizes.studies:,} one-instance studies (populated with `manage.py import --quiet`). "
        "C-STORE: DCMTK storescu, TCP_NODELAY=1, -pdu 131072 (it sends 128 kB PDUs whatever the peer accepts), "
        f"{PARALLEL} associations = {PARALLEL} storescu processes with a quarter of the files each; "
        "wall time of the storescu processes, every stored count checked. "
        "Baseline for C-STORE: a bare pynetdicom SCP in its own process writing `event.encoded_dataset()` to a "
        "file (no fsync; TCP_NODELAY, 4 MB PDU). "
        f"{STORE_ROUNDS} rounds, each running the bare SCP, Orthanc and Pharos in turn on the same files; "
        "figures are each one's median run, the ratio the median of Pharos's ratio to the bare SCP of the same round. "
        "CPU/inst: CPU time (user + system, all threads) of the receiving processes (Pharos: `manage.py dicomserver` "
        "and the helper processes it starts; "
        "bare: the SCP's process) during the run, divided by the instances. "
        f"C-FIND: whole `findscu -S -q` runs (STUDY level, return keys {', '.join(RETURN_KEYS)}), "
        "1 warm-up run; 'inside one association' is (median of `findscu --repeat 1+K` − median of `findscu`) / K "
        f"(K = {REPEAT}, {REPEAT_UNIVERSAL} for the universal query; {REPEAT_RUNS} runs): the query alone, without "
        "process start, association set-up and release; baseline: a bare SELECT of the same study rows "
        "(JOIN patient, all columns) through psycopg.",
        orthanc_text,
        load.text() + ".",
    ]


def dcmtk_version():
    result = subprocess.run(["storescu", "--version"], capture_output=True, text=True)
    first = (result.stdout or "").splitlines()[0] if result.stdout else "DCMTK ?"
    return "DCMTK " + first.split(" v", 1)[-1].split(" ", 1)[0] if " v" in first else first


def run(sizes, quick, only=None):
    table = Table()
    orthanc_binary = shutil.which("Orthanc")
    orthanc_text = "Orthanc: not installed (`which Orthanc` finds nothing): its column gives the task's references."
    server_text = "the DICOM server did not start"
    with tempfile.TemporaryDirectory(prefix="pharos-dicom-") as tmp:
        tmp = Path(tmp)
        sets = generate(tmp / "files", sizes)
        db_name = f"pharos_dicom_{os.getpid()}"
        db_url = create_database(db_name)
        db_version = postgres_version(db_url)
        server = Server(tmp / "data", db_url, OUT_DIR / "dicom-server.log")
        bare = BareScp(tmp / "bare")
        orthanc = None
        if orthanc_binary:
            orthanc_db = f"orthanc_dicom_{os.getpid()}"
            orthanc = Orthanc(
                orthanc_binary,
                tmp / "orthanc",
                OUT_DIR / "dicom-orthanc.log",
                orthanc_db,
                modalities={"finder": [FINDER_AET, "127.0.0.1", 104]},
            )
            orthanc_text = f"Orthanc: {orthanc.version()} measured in this run, {orthanc.index} index."
        try:
            log(f"starting the bare SCP on port {bare.port}")
            bare.start()
            if orthanc:
                log(f"starting {orthanc.name} on DICOM port {orthanc.port}")
                orthanc.start()
            log(f"starting the server on port {server.port}, database {db_name}")
            server.start()
            pharos = PharosTarget(server)
            for target in (pharos, bare, orthanc):  # ready (GET /system may answer first), and warm
                if target is not None:
                    wait_for_echo(target)
            pharos.pids = process_tree(server.process.pid, "dicomserver")  # helpers started by now
            server_text = f"{len(pharos.pids)} `manage.py dicomserver` process(es) on the DICOM port"
            if only in (None, "ct"):
                measure_stores(table, pharos, bare, orthanc, sets["ct"], ORTHANC_CT_4)
            if only in (None, "small"):
                measure_stores(table, pharos, bare, orthanc, sets["small"], "—")
            if only in (None, "find"):
                measure_finds(table, pharos, orthanc, db_url, sets["studies"], bare, tmp)
        except Exception as exc:  # still print what was measured
            traceback.print_exc()
            table.note(f"the run stopped early: {type(exc).__name__}: {exc}")
        finally:
            server.stop()
            bare.stop()
            if orthanc:
                orthanc.stop()
            drop_database(db_name)
    return table, db_version, orthanc_text, server_text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("--only", choices=("ct", "small", "find"), help="measure one part only")
    parser.add_argument("--bare-scp", nargs=2, metavar=("PORT", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_scp:
        return bare_scp(int(args.bare_scp[0]), args.bare_scp[1])
    sizes = QUICK if args.quick else FULL
    with LoadMonitor() as load:
        table, db_version, orthanc_text, server_text = run(sizes, args.quick, args.only)
    lines = preamble(sizes, args.quick, db_version, load, orthanc_text, server_text)
    print("\n".join(lines) + "\n")
    print(table.text())
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "dicom.md").write_text(table.markdown("Pharos DICOM network benchmark", lines))
    print(f"\nwritten to {OUT_DIR / 'dicom.md'}")


if __name__ == "__main__":
    sys.exit(main())
