"""Modify, anonymize and transcode benchmark: a CT study on Pharos beside Orthanc 1.10.1 in the
same run, and the transcoding rate of GDCM's and DCMTK's command-line tools on the same files.

    .venv/bin/python bench/modify.py                 # 600 CT slices
    .venv/bin/python bench/modify.py --quick         # smoke run: 60 CT slices
    .venv/bin/python bench/modify.py --orthanc-only  # Orthanc and the tools, no Pharos
    .venv/bin/python bench/modify.py --profile       # py-spy samples Pharos's processes (raw files in bench/out;
                                                     # py-spy found on PATH, in the venv, or as $PY_SPY)

What it does, in a temporary folder and throw-away PostgreSQL databases, all removed at the end:

1. writes one study of CT slices (512×512, 16-bit, three series; bench/synthetic.py);
2. converts every file with `gdcmconv --jpegls`, `gdcmconv --j2k`, `dcmcjpls` (and `dcmcjp2k`
   when installed: Debian's dcmtk 3.6.7 has none), as many processes at once as there are cores;
3. starts Orthanc (Debian's, PostgreSQL index when the plugin is there, with the GDCM plugin for
   JPEG 2000) and Pharos (`manage.py start`), and stores the study in each (POST /instances);
4. on each server in turn, Orthanc first: POST /studies/{id}/anonymize {}, POST
   /studies/{id}/modify {"Replace": {"PatientName": …}}, and POST /studies/{id}/modify
   {"Transcode": UID} for JPEG 2000 lossless then JPEG-LS lossless, synchronous (the answer
   comes when the new study is stored; --asynchronous posts a job and polls /jobs/{id}). Each
   makes a new study (new UIDs below the study, as both servers do by default), whose instance
   count and transfer syntax are checked, and which is deleted before the next step;
5. prints instances per second, Pharos's ratio to Orthanc, and writes bench/out/modify.md.

JPEG-LS comes last: Debian's Orthanc 1.10.1 crashes (a segmentation fault in DCMTK's CharLS)
when it encodes JPEG-LS, and the run notes it when it does. Timings are printed, never asserted.
"""

import argparse
import concurrent.futures
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import synthetic
from harness import LoadMonitor, Server, Table, Throughput, create_database, drop_database, log, postgres_version
from ingest import post_instances, warm_up
from orthanc import Orthanc, plugin

OUT_DIR = Path(__file__).resolve().parent / "out"
FULL, QUICK = 600, 60
JPEG_LS = "1.2.840.10008.1.2.4.80"
JPEG_2000 = "1.2.840.10008.1.2.4.90"
JOB_TIMEOUT = 1800  # seconds

# (label, route, body, the transfer syntax the result must have or None)
OPERATIONS = (
    ("anonymize", "anonymize", {}, None),
    ("modify PatientName", "modify", {"Replace": {"PatientName": "BENCH^MODIFIED"}}, None),
    ("transcode to JPEG 2000 lossless", "modify", {"Transcode": JPEG_2000}, JPEG_2000),
    ("transcode to JPEG-LS lossless", "modify", {"Transcode": JPEG_LS}, JPEG_LS),
)


# --- the command-line tools -----------------------------------------------------------------


def tool_commands():
    """(label, command builder) of the installed tools, and notes about the missing ones."""
    tools, notes = [], []
    if shutil.which("gdcmconv"):
        tools.append(("gdcmconv --j2k", JPEG_2000, lambda src, dst: ["gdcmconv", "--j2k", src, dst]))
        tools.append(("gdcmconv --jpegls", JPEG_LS, lambda src, dst: ["gdcmconv", "--jpegls", src, dst]))
    else:
        notes.append("gdcmconv is not installed (Debian: libgdcm-tools)")
    if shutil.which("dcmcjpls"):
        tools.append(("dcmcjpls (lossless)", JPEG_LS, lambda src, dst: ["dcmcjpls", "+el", src, dst]))
    else:
        notes.append("dcmcjpls is not installed (Debian: dcmtk)")
    if shutil.which("dcmcjp2k"):
        tools.append(("dcmcjp2k (lossless)", JPEG_2000, lambda src, dst: ["dcmcjp2k", src, dst]))
    else:
        notes.append("dcmcjp2k is not installed: Debian's dcmtk 3.6.7 has no JPEG 2000 codec")
    return tools, notes


def run_tool(build, paths, target):
    """Convert every file, one process per file, as many at once as there are cores."""
    target.mkdir(parents=True)

    def convert(indexed):
        i, path = indexed
        result = subprocess.run(build(str(path), str(target / f"{i:05d}.dcm")), capture_output=True)
        return result.returncode

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
        codes = list(pool.map(convert, enumerate(paths)))
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in paths)
    return Throughput(len(paths), size, seconds), sum(1 for code in codes if code)


# --- one operation on one server ---------------------------------------------------------------


def study_of(client):
    studies = client.json("GET", "/studies")
    if len(studies) != 1:
        raise RuntimeError(f"expected one study, found {len(studies)}")
    return studies[0]


def change(client, study, route, body, asynchronous):
    """Run the operation; the new study's id."""
    if not asynchronous:
        return client.json("POST", f"/studies/{study}/{route}", body)["ID"]
    job = client.json("POST", f"/studies/{study}/{route}", body | {"Asynchronous": True})["ID"]
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        state = client.json("GET", f"/jobs/{job}")
        if state["State"] == "Success":
            return state["Content"]["ID"]
        if state["State"] in ("Failure", "Paused"):
            raise RuntimeError(f"job {job} ended {state['State']}: {state.get('ErrorDescription')}")
        time.sleep(0.05)
    raise RuntimeError(f"job {job} did not end within {JOB_TIMEOUT} s")


def check_result(client, new_study, count, syntax):
    """The new study has every instance, in the syntax asked for; None when it does."""
    found = client.json("GET", f"/studies/{new_study}/statistics")["CountInstances"]
    if int(found) != count:
        return f"the new study has {found} instances of {count}"
    if syntax:
        instance = client.json("GET", f"/studies/{new_study}/instances")[0]["ID"]
        status, answer = client.request("GET", f"/instances/{instance}/metadata/TransferSyntax")
        if status == 200 and answer.decode().strip() != syntax:
            return f"an instance is in {answer.decode().strip()}, not {syntax}"
    return None


def measure(target, route, body, count, size, asynchronous):
    """(Throughput or None, problem or None) of one operation on one server."""
    client = target.client()
    try:
        study = study_of(client)
        start = time.perf_counter()
        new_study = change(client, study, route, body, asynchronous)
        seconds = time.perf_counter() - start
        problem = check_result(client, new_study, count, body.get("Transcode"))
        client.json("DELETE", f"/studies/{new_study}")
        return Throughput(count, size, seconds), problem
    except Exception as exc:  # the other measurements go on
        return None, f"{type(exc).__name__}: {exc}"[:300]
    finally:
        client.close()


# --- profiling Pharos with py-spy ---------------------------------------------------------------


class Profiler:
    """py-spy record on every process of Pharos's group while an operation runs (raw
    collapsed stacks, one file per process, in bench/out/profile-<operation>-<pid>.txt)."""

    def __init__(self, server, label):
        self.server, self.label = server, label.split()[0] if "transcode" not in label else label.split()[-2]
        self.recorders = []

    def pids(self):
        group = os.getpgid(self.server.process.pid)
        out = subprocess.run(["ps", "-e", "-o", "pid=,pgid="], capture_output=True, text=True).stdout
        return [int(pid) for pid, pgid in (line.split() for line in out.splitlines()) if int(pgid) == group]

    def __enter__(self):
        py_spy = os.environ.get("PY_SPY") or shutil.which("py-spy") or Path(sys.executable).with_name("py-spy")
        for pid in self.pids():
            path = OUT_DIR / f"profile-{self.label}-{pid}.txt"
            command = [str(py_spy), "record", "-p", str(pid), "-f", "raw", "--nonblocking", "-o", str(path)]
            self.recorders.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1)  # py-spy attaches
        return self

    def __exit__(self, *exc):
        for recorder in self.recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for recorder in self.recorders:
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()


# --- the run ---------------------------------------------------------------------------------------


def ratio(pharos, orthanc):
    if pharos is None or orthanc is None:
        return ""
    return f" ({orthanc.seconds / pharos.seconds:.2f}× Orthanc)"


def figure(throughput, problem):
    if throughput is None:
        return f"failed: {problem}"
    text = f"{throughput.files / throughput.seconds:,.1f} inst/s ({throughput.seconds:,.1f} s)"
    return text + (f" — WRONG: {problem}" if problem else "")


def _ended(process):
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        return False
    return True


def start_servers(tmp, orthanc_only):
    orthanc = server = None
    if shutil.which("Orthanc"):
        gdcm = plugin("libOrthancGdcm.so*")
        orthanc = Orthanc(
            shutil.which("Orthanc"),
            tmp / "orthanc",
            OUT_DIR / "modify-orthanc.log",
            f"orthanc_modify_{os.getpid()}",
            plugins=[gdcm] if gdcm else [],
            # GDCM before DCMTK: DCMTK has no JPEG 2000 encoder.
            config={"BuiltinDecoderTranscoderOrder": "After"},
        )
        log(f"starting {orthanc.name} on port {orthanc.http_port}")
        orthanc.start()
    db_name = None
    if not orthanc_only:
        db_name = f"pharos_modify_{os.getpid()}"
        server = Server(tmp / "data", create_database(db_name), OUT_DIR / "modify-server.log")
        log(f"starting Pharos on port {server.port}, database {db_name}")
        server.start()
        warm_up(server)
    return orthanc, server, db_name


def run(count, asynchronous, orthanc_only, profile, only, no_tools=False):
    table = Table()
    versions = []
    with tempfile.TemporaryDirectory(prefix="pharos-modify-") as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        paths = synthetic.write_ct_study(tmp / "files", count)
        size = sum(p.stat().st_size for p in paths)
        log(f"wrote {count} CT slices ({size / 1e6:,.1f} MB) in {time.perf_counter() - start:.1f} s")
        tools, notes = tool_commands()
        tool_figures = {}
        if only in (None, "transcode") and not no_tools:
            for label, syntax, build in tools:
                throughput, failed = run_tool(build, paths, tmp / "tools" / label.split()[0] / syntax)
                log(f"{label}: {throughput.text()}" + (f", {failed} failed" if failed else ""))
                rate = throughput.files / throughput.seconds
                tool_figures.setdefault(syntax, []).append(f"{label}: {rate:,.1f} inst/s")
        for note in notes:
            table.note(note)
        orthanc = server = db_name = None
        try:
            orthanc, server, db_name = start_servers(tmp, orthanc_only)
            targets = [t for t in (orthanc, server) if t is not None]
            payloads = [p.read_bytes() for p in paths]
            for target in targets:
                stored, failures = post_instances(target, payloads, 4)
                log(f"stored the study in {type(target).__name__}: {stored.text()}")
                if failures:
                    raise RuntimeError(f"{len(failures)} uploads failed: {failures[0]}")
            for label, route, body, syntax in OPERATIONS:
                if only == "transcode" and not syntax or only in ("anonymize", "modify") and syntax:
                    continue
                figures = {}
                for target in targets:
                    if target is orthanc and orthanc.process.poll() is not None:
                        figures[target] = (None, "Orthanc is no longer running")
                        continue
                    profiling = Profiler(server, label) if profile and target is server else None
                    if profiling:
                        profiling.__enter__()
                    try:
                        figures[target] = measure(target, route, body, count, size, asynchronous)
                    finally:
                        if profiling:
                            profiling.__exit__()
                    if target is orthanc and figures[target][0] is None and _ended(orthanc.process):
                        figures[target] = (None, f"Orthanc crashed (exit code {orthanc.process.returncode})")
                    log(f"{label}, {type(target).__name__}: {figure(*figures[target])}")
                pharos = figures.get(server, (None, "not measured (--orthanc-only)"))
                reference = figures.get(orthanc, (None, "Orthanc is not installed"))
                table.add(
                    f"{label}, {count} CT slices",
                    figure(*pharos) + ratio(pharos[0], reference[0]),
                    "; ".join(tool_figures.get(syntax, [])) or "—",
                    figure(*reference),
                )
            if orthanc is not None:
                versions.append(f"{orthanc.version()} ({orthanc.index} index, GDCM plugin)")
        except Exception as exc:  # still print what was measured
            traceback.print_exc()
            table.note(f"the run stopped early: {type(exc).__name__}: {exc}")
        finally:
            if server is not None:
                server.stop()
            if orthanc is not None:
                orthanc.stop()
            if db_name:
                drop_database(db_name)
    return table, versions


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} slices instead of {FULL}, for a smoke run")
    parser.add_argument("--asynchronous", action="store_true", help="run each operation as a job and poll it")
    parser.add_argument("--orthanc-only", action="store_true", help="measure Orthanc and the tools only")
    parser.add_argument("--profile", action="store_true", help="py-spy record Pharos's processes during each step")
    parser.add_argument("--only", choices=("anonymize", "modify", "transcode"), help="measure one kind of step")
    parser.add_argument("--no-tools", action="store_true", help="skip gdcmconv and DCMTK")
    args = parser.parse_args()
    count = QUICK if args.quick else FULL
    OUT_DIR.mkdir(exist_ok=True)
    with LoadMonitor() as load:
        table, versions = run(count, args.asynchronous, args.orthanc_only, args.profile, args.only, args.no_tools)
    db = postgres_version(create_database(name := f"pharos_modify_version_{os.getpid()}"))
    drop_database(name)
    calls = "jobs, polled" if args.asynchronous else "synchronous calls"
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores, Python {platform.python_version()}, {db}; "
        f"{count} CT slices 512×512×16-bit in three series, uncompressed ({calls}).",
        "Baseline column: the command-line tools on the same files, one process per file, "
        f"{os.cpu_count()} at once. Each server's figure is one run; the new study is deleted after each.",
        "Orthanc: " + (", ".join(versions) or "not run") + ".",
        load.text() + ".",
    ]
    print("\n".join(lines) + "\n")
    print(table.text())
    (OUT_DIR / "modify.md").write_text(table.markdown("Pharos modify, anonymize and transcode benchmark", lines))
    print(f"\nwritten to {OUT_DIR / 'modify.md'}")


if __name__ == "__main__":
    sys.exit(main())
