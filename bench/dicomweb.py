"""DICOMweb benchmark: Pharos's QIDO-RS, WADO-RS and STOW-RS beside Orthanc 1.10.1 and its
DICOMweb plugin, in the same run on the same files.

    .venv/bin/python bench/dicomweb.py            # 10,000 studies, a 600-slice series
    .venv/bin/python bench/dicomweb.py --quick    # smoke run: 1,000 studies, 60 slices
    .venv/bin/python bench/dicomweb.py --studies 2000 --slices 200   # any size (also BENCH_DICOMWEB_QUICK=1)
    .venv/bin/python bench/dicomweb.py --profile  # py-spy records Pharos's processes during each step
                                                  # (raw files in bench/out; py-spy on PATH, in the venv or $PY_SPY)

What it does, in a temporary folder and throw-away PostgreSQL databases, all removed at the end:

1. writes the files (bench/dicomweb_setup.py): one-instance studies (names, dates, modalities
   varied), one series of 512×512 16-bit CT slices, and a second such series for STOW-RS;
2. starts Orthanc (Debian's, PostgreSQL index when orthanc-postgresql is installed, SQLite
   otherwise, with its DICOMweb plugin) and Pharos (`manage.py start`), and loads the studies and
   the series into each by POST /instances from four clients;
3. QIDO-RS at the studies' count: OHIF's study list (its first page of 101, as its worklist
   asks), a wildcard on PatientName, and a date range with a modality (median and p95 of 20);
4. WADO-RS metadata of the series: cold, three rounds of: both servers restarted on the same
   data, the page cache dropped when the benchmark may, one request (a round before them, the
   first request since the series was stored, is shown apart); and warm (median and p95 of 20);
5. WADO-RS retrieval of the series as multipart/related in its stored syntax (`transfer-syntax=*`);
6. every frame of the series as OHIF asks for them: one request per frame, Accept
   `multipart/related; type=application/octet-stream; transfer-syntax=*`, FRAME_CLIENTS
   keep-alive connections at once, as a browser opens;
7. STOW-RS of the second series, 1 client × 10 instances per request and 4 clients × 1 instance
   per request; the study is checked whole then deleted after each run;
8. prints each figure beside Orthanc's and the ratio of their speeds (Orthanc's time ÷
   Pharos's), with the issue's target, and writes the table to bench/out/dicomweb.md.

Every step measures Orthanc and Pharos in turn, their order alternating from round to round
(five rounds for retrieval, frames and STOW-RS); the ratio is then the median of the rounds' ratios.
Timings are printed, never asserted. MB is 10^6 bytes. The machine may be shared: the 1-minute
load average during the run is printed with the table.
"""

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

import dicomweb_setup as setup
from dicom import cpu_seconds
from harness import (
    MB,
    LoadMonitor,
    Table,
    create_database,
    drop_database,
    log,
    measure_latency,
    postgres_version,
)

OUT_DIR = Path(__file__).resolve().parent / "out"
FRAME_CLIENTS = 6  # a browser's connections to one host
METADATA_TARGET = 5.0  # × Orthanc's speed
OTHER_TARGET = 1.0
COLUMNS = ("measurement", "Pharos", "Orthanc 1.10.1 + DICOMweb plugin, same run", "speed ÷ Orthanc's", "target")
SERIES_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'


@dataclass(frozen=True)
class Plan:
    studies: int
    slices: int
    runs: int  # latency samples per request kind
    cold_rounds: int
    rounds: int  # retrievals, frame sweeps and STOW runs per target


FULL = Plan(studies=10_000, slices=600, runs=20, cold_rounds=3, rounds=5)
QUICK = Plan(studies=1_000, slices=60, runs=5, cold_rounds=1, rounds=1)


def in_turn(targets, round_number):
    """Both targets, Orthanc first in even rounds and Pharos first in odd ones."""
    return list(targets) if round_number % 2 == 0 else list(reversed(targets))


# --- requests ----------------------------------------------------------------------------------------


def timed(call):
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


# --- measurements --------------------------------------------------------------------------------------


@dataclass
class Figure:
    seconds: float  # the time compared between the servers (a median); None when it failed
    text: str
    rounds: list = None  # each round's time, when measured in rounds


@dataclass
class Failed:
    text: str


def attempt(target, call):
    """call(target), or Failed with the reason: the other measurements go on."""
    try:
        return call(target)
    except Exception as exc:
        log(f"{target.name} failed: {type(exc).__name__}: {exc}"[:400])
        return Failed(f"failed: {type(exc).__name__}: {exc}"[:120])


def summary(runs, make):
    """make(runs) from every round's result, or the first failure as the figure."""
    failed = next((r for r in runs if isinstance(r, Failed)), None)
    return Figure(None, failed.text) if failed else make(runs)


def qido_queries():
    includefield = {"includefield": "00081030,00080060"}
    return (
        ("OHIF's study list (limit=101)", {"limit": 101, "offset": 0, "fuzzymatching": "false"} | includefield),
        ("PatientName=SMITH*", {"PatientName": "SMITH*"}),
        ("StudyDate=2020 & ModalitiesInStudy=CT", {"StudyDate": "20200101-20201231", "ModalitiesInStudy": "CT"}),
    )


def measure_qido(target, query, runs):
    client = target.client()
    try:
        path = "/dicom-web/studies?" + urlencode(query, safe="*,")  # as OHIF's encodeURIComponent leaves them
        latency, answers = measure_latency(lambda: setup.get_json(client, path), runs)
        found = f"{len(answers):,} {'study' if len(answers) == 1 else 'studies'}"
        return Figure(latency.median, f"{latency.text()} ({found})")
    finally:
        client.close()


def metadata_path(series):
    return f"/dicom-web/studies/{series.study_uid}/series/{series.series_uid}/metadata"


def measure_metadata(target, series, runs):
    client = target.client()
    try:
        latency, answer = measure_latency(lambda: setup.get_json(client, metadata_path(series)), runs)
        setup.check_count(target, "metadata", len(answer), len(series.paths))
        return Figure(latency.median, f"{latency.text()} ({len(answer):,} instances)")
    finally:
        client.close()


def first_metadata(target, series):
    """The time of one metadata request on a new connection."""
    client = target.client()
    try:
        seconds, answer = timed(lambda: setup.get_json(client, metadata_path(series)))
        setup.check_count(target, "metadata", len(answer), len(series.paths))
        return seconds
    finally:
        client.close()


def measure_retrieve(target, series):
    client = target.client()
    try:
        path = f"/dicom-web/studies/{series.study_uid}/series/{series.series_uid}"
        seconds, (size, parts) = timed(lambda: setup.get_parts(client, path, SERIES_ACCEPT))
        setup.check_count(target, "retrieval", parts, len(series.paths))
        return seconds, size
    finally:
        client.close()


# --- caches ----------------------------------------------------------------------------------------------


def drop_page_cache():
    """Write dirty pages out and drop the page cache; False when this process may not."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
    except OSError:
        return False
    return True


# --- profiling ---------------------------------------------------------------------------------------------


class NoProfile:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def profiling(enabled, target, label):
    if not enabled or not isinstance(target, setup.PharosTarget):
        return NoProfile()
    from modify import Profiler  # py-spy record on every process of the server's group

    return Profiler(target.server, f"dicomweb-{label}")


# --- the run ---------------------------------------------------------------------------------------------


def ratio_cells(pharos, orthanc, target):
    """(speed ratio, target text) of two Figures: Orthanc's time ÷ Pharos's, the median of the
    rounds' ratios when both were measured in the same rounds (the machine drifts)."""
    if not pharos or not orthanc or pharos.seconds is None or orthanc.seconds is None:
        return "—", f"≥{target:g}×"
    text = ""
    if pharos.rounds and orthanc.rounds and len(pharos.rounds) == len(orthanc.rounds) > 1:
        ratios = [o / p for p, o in zip(pharos.rounds, orthanc.rounds)]
        ratio = statistics.median(ratios)
        text = f" (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    else:
        ratio = orthanc.seconds / pharos.seconds
    return f"{ratio:.2f}×{text}", f"≥{target:g}×: {'met' if ratio >= target else 'NOT met'}"


class Run:
    def __init__(self, plan, profile):
        self.plan = plan
        self.profile = profile
        self.table = Table(COLUMNS)
        self.cache_note = ""
        self.cpu = {}  # {(label, "Pharos"/"Orthanc"): [CPU seconds, items]} over every round

    def cpu_text(self, label, name, unit):
        """The server's CPU time per item of a step (PostgreSQL's own processes left out)."""
        seconds, items = self.cpu.get((label, name), (None, 0))
        if seconds is None or not items:
            return ""
        per_item = seconds / items
        return f"; CPU {per_item * 1000:,.1f} ms/{unit}" if per_item < 1 else f"; CPU {per_item:,.2f} s/{unit}"

    def add(self, measurement, figures, target):
        pharos, orthanc = figures.get("Pharos"), figures.get("Orthanc")
        pharos, orthanc = (f if not isinstance(f, Failed) else Figure(None, f.text) for f in (pharos, orthanc))
        ratio, target_text = ratio_cells(pharos, orthanc, target)
        cells = [f.text if f else "not measured" for f in (pharos, orthanc)]
        self.table.add(measurement, *cells, ratio, target_text)
        log(f"{measurement}: Pharos {cells[0]}; Orthanc {cells[1]}; {ratio}")

    def each(self, targets, label, call, round_number=0, items=1):
        """{"Pharos"/"Orthanc": call(target)} measured in turn; the servers' CPU time is kept
        for the label, with the items (requests, instances) each call handles."""
        figures = {}
        for target in in_turn(targets, round_number):
            pids = target.pids()
            before = cpu_seconds(pids)
            with profiling(self.profile, target, label):
                figures[key(target)] = attempt(target, call)
            after = cpu_seconds(pids)
            used = self.cpu.setdefault((label, key(target)), [0.0, 0])
            if before is None or after is None or used[0] is None:
                used[0] = None
            else:
                used[0] += after - before
                used[1] += items
        return figures

    def with_cpu(self, figures, label, unit):
        for name, figure in figures.items():
            if isinstance(figure, Figure) and figure.seconds is not None:
                figure.text += self.cpu_text(label, name, unit)
        return figures

    def qido(self, targets):
        for label, query in qido_queries():
            slug = "qido-" + label.split("=")[0].split()[0].lower().strip("'s")
            call = partial(measure_qido, query=query, runs=self.plan.runs)
            figures = self.with_cpu(self.each(targets, slug, call, items=self.plan.runs + 2), slug, "request")
            self.add(f"QIDO-RS /studies {label}, {self.plan.studies:,} studies", figures, OTHER_TARGET)

    def metadata(self, targets, series):
        """Round 0 is the first request for the series since it was stored, rounds 1… are cold
        ones: each after both servers restarted and the page cache dropped, as round 0."""
        first = {key(t): [] for t in targets}
        cold = {key(t): [] for t in targets}
        for round_number in range(self.plan.cold_rounds + 1):
            log(f"metadata cold, round {round_number} of {self.plan.cold_rounds}: restarting both servers")
            for target in targets:
                target.restart()
            dropped = drop_page_cache()
            self.cache_note = (
                "cold: both servers restarted, then the page cache dropped (`echo 1 > /proc/sys/vm/drop_caches`)"
                if dropped
                else "cold: both servers restarted; the page cache could not be dropped (not root)"
            )
            for target in in_turn(targets, round_number):
                with profiling(self.profile, target, "metadata-first" if round_number == 0 else "metadata-cold"):
                    samples = first if round_number == 0 else cold
                    samples[key(target)].append(attempt(target, lambda t: first_metadata(t, series)))

        def cold_figure(samples):
            listed = ", ".join(f"{s * 1000:,.0f}" for s in samples)
            median = statistics.median(samples)
            text = f"median {median * 1000:,.0f} ms (rounds: {listed} ms)" if len(samples) > 1 else f"{listed} ms"
            return Figure(median, text, samples)

        count = len(series.paths)
        figures = {name: summary(samples, cold_figure) for name, samples in first.items()}
        self.add(f"WADO-RS metadata, series of {count}, first request since stored, cold", figures,
                 METADATA_TARGET)  # fmt: skip
        figures = {name: summary(samples, cold_figure) for name, samples in cold.items()}
        self.add(f"WADO-RS metadata, series of {count}, cold", figures, METADATA_TARGET)
        call = partial(measure_metadata, series=series, runs=self.plan.runs)
        figures = self.each(targets, "metadata-warm", call, items=self.plan.runs + 2)
        figures = self.with_cpu(figures, "metadata-warm", "request")
        self.add(f"WADO-RS metadata, series of {len(series.paths)}, warm", figures, METADATA_TARGET)

    def retrieve(self, targets, series):
        samples = {key(t): [] for t in targets}
        for target in targets:  # a first untimed retrieval each: every file in the page cache
            attempt(target, lambda t: measure_retrieve(t, series))
        for round_number in range(self.plan.rounds):
            figures = self.each(targets, "retrieve", lambda t: measure_retrieve(t, series), round_number)
            for name, value in figures.items():
                samples[name].append(value)

        def retrieve_figure(runs):
            seconds, size = sorted(runs)[len(runs) // 2]
            return Figure(seconds, f"{seconds:,.2f} s, {size / MB / seconds:,.0f} MB/s "
                          f"({len(series.paths) / seconds:,.0f} inst/s)", [r[0] for r in runs])  # fmt: skip

        figures = {name: summary(runs, retrieve_figure) for name, runs in samples.items()}
        figures = self.with_cpu(figures, "retrieve", "series")
        self.add(f"WADO-RS retrieve series of {len(series.paths)}, stored syntax", figures, OTHER_TARGET)

    def frames(self, targets, series):
        samples = {key(t): [] for t in targets}
        for round_number in range(self.plan.rounds):
            call = partial(setup.fetch_frames, series=series, clients=FRAME_CLIENTS)
            figures = self.each(targets, "frames", call, round_number, items=len(series.instance_uids))
            for name, value in figures.items():
                samples[name].append(value)

        def frames_figure(runs):
            seconds, latency, size = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
            count = len(series.instance_uids)
            text = f"{count / seconds:,.0f} frames/s ({seconds:,.2f} s; per frame {latency.text()})"
            return Figure(seconds, text, [r[0] for r in runs])

        figures = self.with_cpu(
            {name: summary(runs, frames_figure) for name, runs in samples.items()}, "frames", "frame"
        )
        self.add(f"WADO-RS {len(series.paths)} frames, one request each, {FRAME_CLIENTS} clients", figures,
                 OTHER_TARGET)  # fmt: skip

    def stow(self, targets, stow_series):
        payloads = [p.read_bytes() for p in stow_series.paths]
        for clients, per_request in ((1, 10), (4, 1)):
            bodies = [setup.multipart(payloads[i : i + per_request]) for i in range(0, len(payloads), per_request)]
            samples = {key(t): [] for t in targets}
            label = f"stow-{clients}x{per_request}"
            for round_number in range(self.plan.rounds):
                once = partial(setup.stow_and_delete, bodies=bodies, clients=clients, series=stow_series)
                for name, seconds in self.each(targets, label, once, round_number, items=len(payloads)).items():
                    samples[name].append(seconds)

            def stow_figure(runs):
                seconds = statistics.median(runs)
                listed = ", ".join(f"{len(payloads) / s:,.0f}" for s in runs)
                text = f"{len(payloads) / seconds:,.0f} inst/s ({seconds:,.2f} s; rounds: {listed})"
                return Figure(seconds, text, runs)

            figures = {name: summary(runs, stow_figure) for name, runs in samples.items()}
            figures = self.with_cpu(figures, label, "instance")
            plural = "s" if per_request > 1 else ""
            self.add(f"STOW-RS {len(payloads)} slices, {clients} client{'s' if clients > 1 else ''} × "
                     f"{per_request} instance{plural}/request", figures, OTHER_TARGET)  # fmt: skip


def key(target):
    return "Pharos" if isinstance(target, setup.PharosTarget) else "Orthanc"


def run(plan, profile, only):
    bench = Run(plan, profile)
    versions = {}
    with tempfile.TemporaryDirectory(prefix="pharos-dicomweb-") as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        studies = setup.write_studies(tmp / "files" / "studies", plan.studies if only in (None, "qido") else 0)
        series = setup.write_ct_series(tmp / "files" / "series", plan.slices, "series")
        stow_series = setup.write_ct_series(tmp / "files" / "stow", plan.slices, "stow")
        log(f"wrote {plan.studies:,} studies and 2 × {plan.slices} CT slices ({series.size / MB:,.0f} MB each) "
            f"in {time.perf_counter() - start:.1f} s")  # fmt: skip
        db_name = f"pharos_dicomweb_{os.getpid()}"
        pharos = setup.PharosTarget(tmp / "data", create_database(db_name), OUT_DIR)
        orthanc = (
            setup.OrthancTarget(tmp / "orthanc", f"orthanc_dicomweb_{os.getpid()}", OUT_DIR)
            if shutil.which("Orthanc")
            else None
        )
        targets = [t for t in (orthanc, pharos) if t is not None]
        try:
            for target in targets:
                log(f"starting {target.name}")
                target.start()
            if orthanc:
                versions["Orthanc"] = orthanc.version()
            for target in targets:
                if only in (None, "qido"):
                    setup.load(target, studies, f"{plan.studies:,} studies")
                setup.load(target, series.paths, f"a series of {plan.slices} CT slices")
            if only in (None, "qido"):
                bench.qido(targets)
            if only in (None, "metadata"):
                bench.metadata(targets, series)
            if only in (None, "retrieve"):
                bench.retrieve(targets, series)
            if only in (None, "frames"):
                bench.frames(targets, series)
            if only in (None, "stow"):
                bench.stow(targets, stow_series)
        except Exception as exc:  # still print what was measured
            traceback.print_exc()
            bench.table.note(f"the run stopped early: {type(exc).__name__}: {exc}"[:500])
        finally:
            for target in targets:
                target.stop()
            drop_database(db_name)
    return bench, versions


def preamble(plan, quick, db_version, load, versions, cache_note):
    orthanc = versions.get("Orthanc", "not installed (`which Orthanc` finds nothing): no comparison")
    return [
        f"Run {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{db_version}; Pharos: `manage.py start` (default workers and threads), PostgreSQL; "
        f"Orthanc: {orthanc}, default DICOMweb settings (metadata read from every file).",
        f"Sizes{' (--quick)' if quick else ''}: {plan.studies:,} one-instance studies, a series of {plan.slices} CT "
        f"slices 512×512×16-bit (explicit VR little endian, uncompressed), another such series for STOW-RS; both "
        "servers loaded by POST /instances from 4 clients. Latencies: median and p95 of "
        f"{plan.runs} requests on one keep-alive connection after 2 untimed; retrieve, frames and STOW: the median "
        f"of {plan.rounds} round(s), each running both servers in turn, the order alternating; "
        f"{cache_note or 'cold: not measured'} ({plan.cold_rounds} round(s); PostgreSQL, shared with other work, "
        "is not restarted). Ratio: Orthanc's time ÷ Pharos's (above 1: Pharos is faster).",
        load.text() + ".",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.studies:,} studies, {QUICK.slices} slices")
    parser.add_argument("--studies", type=int, help="the number of one-instance studies")
    parser.add_argument("--slices", type=int, help="the slices of the series")
    parser.add_argument("--only", choices=("qido", "metadata", "retrieve", "frames", "stow"), help="one part only")
    parser.add_argument("--profile", action="store_true", help="py-spy record Pharos's processes during each step")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("BENCH_DICOMWEB_QUICK") == "1"
    plan = QUICK if quick else FULL
    if args.studies or args.slices:
        plan = Plan(args.studies or plan.studies, args.slices or plan.slices, plan.runs, plan.cold_rounds, plan.rounds)
    OUT_DIR.mkdir(exist_ok=True)
    with LoadMonitor() as load:
        bench, versions = run(plan, args.profile, args.only)
    db = postgres_version(create_database(name := f"pharos_dicomweb_version_{os.getpid()}"))
    drop_database(name)
    lines = preamble(plan, quick, db, load, versions, bench.cache_note)
    print("\n".join(lines) + "\n")
    print(bench.table.text())
    (OUT_DIR / "dicomweb.md").write_text(bench.table.markdown("Pharos DICOMweb benchmark", lines))
    print(f"\nwritten to {OUT_DIR / 'dicomweb.md'}")


if __name__ == "__main__":
    sys.exit(main())
