"""Explorer benchmark: server time of the list pages and of a CT preview, each beside a
baseline measured in the same run.

    .venv/bin/python bench/explorer.py            # 100, 1,000 and 10,000 studies, 20 runs each
    .venv/bin/python bench/explorer.py --quick    # 100 and 1,000 studies, 5 runs each

How, all in a temporary folder and a throw-away PostgreSQL database (pharos_explorer_<pid>
on 127.0.0.1:5432, user postgres), both removed at the end:

1. Django runs in this process on that database (`migrate`), and pages are asked with
   Django's test client as a logged-in user: the time is the server's whole work for a
   request (middleware, session, queries, template), without HTTP parsing or a network;
2. index rows are inserted with bulk_create, growing to each size in turn: two studies per
   patient, two series per study, three instances per series, names, dates (2015–2024) and
   modalities spread as bench/synthetic.py's tiny studies;
3. at each size: GET /ui/patients and /ui/studies, the first page and a filtered one
   (median and p95). The baselines are the page's own SQL, captured from one rendering and
   run again through psycopg: the main SELECT (the page of 50 rows), and every query of
   the request in a row (session and user included);
4. a 512×512 16-bit CT slice (bench/synthetic.py) is stored through the ingest funnel and
   GET /instances/{id}/preview is timed beside pydicom's own decode of the same stored
   file (`dcmread` + `pixel_array`);
5. prints the table and writes it as Markdown to bench/out/explorer.md.

Timings are printed, never asserted. The targets (pages under 100 ms at 10,000 studies,
preview under 20 ms) and Orthanc's ≈18 ms preview are the task's constants, not measured
here. The machine may be shared: the 1-minute load average during the run is printed too.
"""

import argparse
import os
import platform
import re
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
# This file is named like the `explorer` package: the project comes first on the path so
# that `import explorer` finds the package, and bench/ last for harness and synthetic.
sys.path[:] = [str(PROJECT)] + [p for p in sys.path if Path(p or ".").resolve() != BENCH] + [str(BENCH)]

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
import synthetic  # noqa: E402
from harness import LoadMonitor, Table, create_database, drop_database, log, measure_latency, postgres_version  # noqa: E402

OUT_DIR = BENCH / "out"
TARGET_SIZE = 10_000
PAGE_TARGET = "target < 100 ms"
PREVIEW_REFERENCE = "≈18 ms (target < 20 ms)"
SERIES_PER_STUDY = 2
INSTANCES_PER_SERIES = 3


@dataclass(frozen=True)
class Plan:
    sizes: tuple
    runs: int


FULL = Plan(sizes=(100, 1_000, 10_000), runs=20)
QUICK = Plan(sizes=(100, 1_000), runs=5)

PAGES = (
    ("/ui/patients", "first page"),
    ("/ui/patients?patient_name=smith", "filtered: patient name “smith”"),
    ("/ui/studies", "first page"),
    ("/ui/studies?modality=CT&date_from=2020-01-01&date_to=2020-12-31", "filtered: CT in 2020"),
)


# --- Django in this process ---------------------------------------------------------------------


def start_django(data_dir, db_url):
    os.environ.update(
        PHAROS_DATA_DIR=str(data_dir),
        DATABASE_URL=db_url,
        PHAROS_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="explorer.settings",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def logged_in_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_user("bench", password=uuid.uuid4().hex)
    client = Client()
    client.force_login(user)
    return client


# --- rows ---------------------------------------------------------------------------------------


def _study_rows(first, last, rng):
    """Model objects for studies first..last-1 (their patients, series and instances)."""
    from explorer.dicom import public_ids
    from explorer.models import Instance, Patient, Series, Study

    patients, studies, series, instances = [], [], [], []
    for i in range(first, last):
        number = i // 2
        patient_id = f"BENCH-Q-{number:06d}"
        name = synthetic._patient_name(number)
        study_uid = synthetic.uid("q-study", i)
        if i % 2 == 0 or i == first:
            patients.append(Patient(
                public_id=public_ids(patient_id, "", "", "")[0], patient_id=patient_id, patient_name=name,
                patient_birth_date=f"19{40 + number % 60:02d}0615",
                main_tags={"PatientName": name, "PatientID": patient_id, "PatientSex": "MF"[number % 2]},
            ))
        date = str(np.datetime64("2015-01-01") + int(rng.integers(0, 3653))).replace("-", "")
        modality = synthetic.MODALITIES[int(rng.integers(0, len(synthetic.MODALITIES)))]
        ids = public_ids(patient_id, study_uid, "", "")
        studies.append(
            Study(
                public_id=ids[1],
                study_instance_uid=study_uid,
                accession_number=f"ACC-Q-{i:06d}",
                study_date=date,
                study_description=f"{modality} EXAMINATION",
                main_tags={
                    "StudyDate": date,
                    "StudyTime": f"{8 + i % 10:02d}3000",
                    "StudyDescription": f"{modality} EXAMINATION",
                    "AccessionNumber": f"ACC-Q-{i:06d}",
                    "StudyInstanceUID": study_uid,
                },
            )
        )
        studies[-1].patient_key = patient_id
        for s in range(SERIES_PER_STUDY):
            series_uid = synthetic.uid("q-series", i, s)
            series_modality = modality if s == 0 else "SR"
            series.append(
                Series(
                    public_id=public_ids(patient_id, study_uid, series_uid, "")[2],
                    series_instance_uid=series_uid,
                    modality=series_modality,
                    main_tags={"Modality": series_modality, "SeriesNumber": str(s + 1)},
                )
            )
            series[-1].study_key = study_uid
            for n in range(INSTANCES_PER_SERIES):
                sop_uid = synthetic.uid("q-instance", i, s, n)
                instances.append(
                    Instance(
                        public_id=public_ids(patient_id, study_uid, series_uid, sop_uid)[3],
                        sop_instance_uid=sop_uid,
                        index_in_series=n + 1,
                        file_uuid=uuid.uuid4(),
                        file_size=1000,
                        file_md5="0" * 32,
                        main_tags={"InstanceNumber": str(n + 1), "SOPInstanceUID": sop_uid},
                    )
                )
                instances[-1].series_key = series_uid
    return patients, studies, series, instances


def grow_to(current, target, rng):
    """Insert studies `current`..`target`-1 with bulk_create, parents before children."""
    from django.db import transaction

    from explorer.models import Instance, Patient, Series, Study

    patients, studies, series, instances = _study_rows(current, target, rng)
    with transaction.atomic():
        Patient.objects.bulk_create(patients, ignore_conflicts=True)
        patient_pk = dict(
            Patient.objects.filter(patient_id__in={s.patient_key for s in studies}).values_list("patient_id", "pk")
        )
        for study in studies:
            study.patient_id = patient_pk[study.patient_key]
        study_pk = {s.study_instance_uid: s.pk for s in Study.objects.bulk_create(studies, batch_size=2000)}
        for one in series:
            one.study_id = study_pk[one.study_key]
        series_pk = {s.series_instance_uid: s.pk for s in Series.objects.bulk_create(series, batch_size=2000)}
        for instance in instances:
            instance.series_id = series_pk[instance.series_key]
        Instance.objects.bulk_create(instances, batch_size=5000)
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("ANALYZE")  # fresh statistics, as autovacuum would give a real server


# --- pages --------------------------------------------------------------------------------------


def captured_sql(client, path):
    """Every SQL statement one rendering of the page runs, as sent to the server."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered HTTP {response.status_code}")
    return [query["sql"] for query in captured.captured_queries]


def main_select(statements):
    """The page's main SELECT: the one that reads the sorted page of rows from the index
    (the paginator's LIMIT is 50, or fewer on a short last page)."""
    for sql in statements:
        if (
            sql.lstrip().startswith("SELECT")
            and 'FROM "explorer_' in sql
            and " ORDER BY " in sql
            and re.search(r" LIMIT \d+", sql)
        ):
            return sql
    raise RuntimeError("no paged SELECT among the page's queries")


def measure_page(client, conn, path, runs):
    """(page cell, baseline cell) for one page."""
    statements = captured_sql(client, path)
    main = main_select(statements)

    def page():
        response = client.get(path)
        assert response.status_code == 200, path
        return response

    def select():
        return conn.execute(main).fetchall()

    def every_query():
        for sql in statements:
            cursor = conn.execute(sql)
            if cursor.description is not None:  # a statement that answers rows
                cursor.fetchall()

    latency, response = measure_latency(page, runs)
    rows = len(select())
    select_latency, _ = measure_latency(select, runs)
    all_latency, _ = measure_latency(every_query, runs)
    size = len(response.content) / 1000
    return (
        f"{latency.text()} ({len(statements)} queries, {size:,.0f} kB HTML)",
        f"main SELECT {select_latency.text()} ({rows} row{'s' if rows != 1 else ''}); "
        f"all {len(statements)} queries {all_latency.text()}",
    )


def count_rows(conn):
    return conn.execute(
        "SELECT (SELECT count(*) FROM explorer_patient), (SELECT count(*) FROM explorer_study)"
    ).fetchone()


def measure_pages(client, table, plan):
    rng = np.random.default_rng(synthetic.SEED + 2)
    current = 0
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        for size in plan.sizes:
            log(f"inserting studies {current:,}..{size:,}")
            start = time.perf_counter()
            grow_to(current, size, rng)
            current = size
            patients, studies = count_rows(conn)
            log(f"{studies:,} studies of {patients:,} patients in the index ({time.perf_counter() - start:.1f} s)")
            for path, label in PAGES:
                log(f"GET {path}, {plan.runs} runs")
                pharos, baseline = measure_page(client, conn, path, plan.runs)
                reference = PAGE_TARGET if size == TARGET_SIZE else "—"
                table.add(f"GET {path.split('?')[0]} ({label}), {studies:,} studies", pharos, baseline, reference)


# --- preview ------------------------------------------------------------------------------------


def measure_preview(client, table, scratch, runs):
    import pydicom

    from explorer import storage
    from explorer.ingest import Origin, store_instance
    from explorer.models import Instance

    [path] = synthetic.write_ct_study(scratch / "ct", 1)
    result = store_instance(path.read_bytes(), Origin("Import"))
    instance = Instance.objects.get(public_id=result.instance_id)
    stored = storage.path_for(instance.file_uuid)

    def preview():
        response = client.get(f"/instances/{instance.public_id}/preview")
        assert response.status_code == 200 and response["Content-Type"] == "image/png", response.status_code
        return response

    def decode():
        return pydicom.dcmread(stored).pixel_array

    latency, response = measure_latency(preview, runs)
    baseline, pixels = measure_latency(decode, runs)
    table.add(
        f"GET /instances/{{id}}/preview, CT {pixels.shape[1]}×{pixels.shape[0]} 16-bit",
        f"{latency.text()} ({len(response.content) / 1000:,.0f} kB PNG)",
        f"dcmread + pixel_array: {baseline.text()}",
        PREVIEW_REFERENCE,
    )


# --- the run ------------------------------------------------------------------------------------


def preamble(plan, quick, db_version, load):
    return [
        f"Run {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{db_version}. Server time: Django's test client in this process, logged in (no HTTP, no network).",
        f"Sizes{' (--quick)' if quick else ''}: {', '.join(f'{s:,}' for s in plan.sizes)} studies "
        f"(two per patient, {SERIES_PER_STUDY} series × {INSTANCES_PER_SERIES} instances each), inserted with "
        f"bulk_create. Latencies over {plan.runs} runs after 2 warm-up runs. Page baselines: the page's own SQL "
        "captured from one rendering, run again through psycopg (the main SELECT that reads the page of at most 50 "
        "rows, and every query of the request in a row). Preview baseline: pydicom's dcmread + pixel_array of the "
        "same stored file.",
        load.text() + ".",
    ]


def run(plan, quick):
    table = Table()
    db_name = f"pharos_explorer_{os.getpid()}"
    db_url = create_database(db_name)
    db_version = postgres_version(db_url)
    try:
        with tempfile.TemporaryDirectory(prefix="pharos-bench-explorer-") as tmp:
            tmp = Path(tmp)
            start_django(tmp / "data", db_url)
            client = logged_in_client()
            try:
                measure_pages(client, table, plan)
                log("GET /instances/{id}/preview")
                measure_preview(client, table, tmp, plan.runs)
            except Exception as exc:  # still print what was measured
                traceback.print_exc()
                table.note(f"the run stopped early: {type(exc).__name__}: {exc}")
            finally:
                from django.db import connections

                connections.close_all()
    finally:
        drop_database(db_name)
    return table, db_version


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer runs, for a smoke run")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    with LoadMonitor() as load:
        table, db_version = run(plan, args.quick)
    lines = preamble(plan, args.quick, db_version, load)
    print("\n".join(lines) + "\n")
    print(table.text())
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "explorer.md").write_text(table.markdown("Pharos explorer benchmark", lines))
    print(f"\nwritten to {OUT_DIR / 'explorer.md'}")


if __name__ == "__main__":
    sys.exit(main())
