"""The DICOMweb benchmark's two servers and its data, written quickly and loaded into each the same way.

- studies: bench/synthetic.py's one-instance studies (10,000: names, dates and modalities varied);
- the CT series: one series of 512×512 16-bit CT slices (600), made from one pydicom dataset
  whose UIDs, position and pixel noise change from slice to slice;
- the STOW set: as many slices again in another study, for STOW-RS.

Both servers are loaded by POST /instances from four keep-alive clients, the same files in the
same order; the series' UIDs are returned so the benchmark can address it over DICOMweb. Pharos
runs as `manage.py start`, Orthanc as Debian's with its DICOMweb plugin (bench/orthanc.py); the
requests both answer alike (GET with an Accept, a multipart answer counted in chunks, STOW-RS
from several clients, a study looked up and deleted through the REST API) are here too.
"""

import json
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import synthetic
from dicom import process_tree
from harness import MB, Latency, Server, log, run_concurrently
from ingest import post_instances, warm_up
from orthanc import Orthanc, plugin

LOAD_THREADS = 4
NOISE_FIELDS = 8  # distinct noise images, cycled: generating one per slice would cost more than writing it
DICOM_JSON = "application/dicom+json"
FRAME_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"


@dataclass
class Series:
    study_uid: str
    series_uid: str
    instance_uids: list
    paths: list

    @property
    def size(self):
        return sum(p.stat().st_size for p in self.paths)


def write_ct_series(folder, count, name):
    """`count` CT slices in one series of one study; `name` makes the UIDs (one name, one study)."""
    rng = np.random.default_rng(synthetic.SEED)
    phantom = synthetic._ct_phantom(512)
    noisy = [
        np.clip(phantom + rng.normal(0.0, 25.0, phantom.shape), 0, 4095).astype("<u2").tobytes()
        for _ in range(NOISE_FIELDS)
    ]
    study_uid = synthetic.uid("dicomweb", name, "study")
    series_uid = synthetic.uid("dicomweb", name, "series")
    common = synthetic._ct_common(study_uid) | dict(
        PatientID=f"BENCH-DICOMWEB-{name.upper()}",
        AccessionNumber=f"ACC-{name.upper()}",
        FrameOfReferenceUID=synthetic.uid("dicomweb", name, "frame"),
    )
    series = Series(study_uid, series_uid, [], [])
    for i in range(count):
        z = -i * 1.25
        ds = synthetic._dataset(
            **common,
            SOPClassUID=synthetic.CT_IMAGE_STORAGE,
            SOPInstanceUID=synthetic.uid("dicomweb", name, "instance", i),
            SeriesInstanceUID=series_uid,
            SeriesNumber=2,
            SeriesDescription="AXIAL 1.25mm STANDARD",
            SeriesDate="20240315",
            SeriesTime="101600",
            ConvolutionKernel="STANDARD",
            SliceThickness=1.25,
            ImagesInAcquisition=count,
            AcquisitionNumber=1,
            InstanceNumber=i + 1,
            ContentDate="20240315",
            ContentTime=f"101600.{i:06d}",
            ImagePositionPatient=[-200.0, -200.0, z],
            SliceLocation=z,
        )
        ds.add_new(0x7FE00010, "OW", noisy[i % NOISE_FIELDS])
        series.paths.append(synthetic._save(ds, Path(folder) / f"{i + 1:04d}.dcm"))
        series.instance_uids.append(ds.SOPInstanceUID)
    return series


def write_studies(folder, count):
    return synthetic.write_tiny_studies(folder, count)


def load(target, paths, what):
    """POST every file to /instances from four clients; fails loudly when one is refused."""
    payloads = [p.read_bytes() for p in paths]
    stored, failures = post_instances(target, payloads, LOAD_THREADS)
    log(f"loaded {what} into {target.name}: {stored.text_with_time()}")
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(payloads)} uploads to {target.name} failed: {failures[0]}")
    return stored


def multipart(payloads, part_type="application/dicom"):
    """(body, Content-Type) of a multipart/related body holding the payloads, as STOW-RS takes it."""
    boundary = uuid.uuid4().hex
    chunks = []
    for data in payloads:
        chunks += [f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode(), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f'multipart/related; type="{part_type}"; boundary={boundary}'


# --- the two servers ------------------------------------------------------------------------------


class PharosTarget:
    name = "Pharos"

    def __init__(self, folder, db_url, log_dir):
        self.server = Server(folder, db_url, log_dir / "dicomweb-server.log")

    def start(self):
        self.server.start()
        warm_up(self.server)

    def restart(self):
        self.server.stop()
        self.start()

    def stop(self):
        self.server.stop()

    def client(self):
        return self.server.client()

    def pids(self):
        """`manage.py start` and every process under it (gunicorn's, the DICOM server's)."""
        return [self.server.process.pid, *process_tree(self.server.process.pid, "")]


class OrthancTarget:
    def __init__(self, folder, db_name, log_dir):
        dicomweb = plugin("libOrthancDicomWeb.so*")
        if dicomweb is None:
            raise RuntimeError("Orthanc's DICOMweb plugin is not installed (Debian: orthanc-dicomweb)")
        self.orthanc = Orthanc(
            shutil.which("Orthanc"),
            folder,
            log_dir / "dicomweb-orthanc.log",
            db_name,
            plugins=[dicomweb],
            config={"DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True, "WadoRoot": "/wado"}},
        )
        self.name = self.orthanc.name

    def start(self):
        self.orthanc.start()

    def restart(self):
        self.orthanc.restart()

    def stop(self):
        self.orthanc.stop()

    def client(self):
        return self.orthanc.client()

    def pids(self):
        return self.orthanc.pids

    def version(self):
        dicomweb = _package_version("orthanc-dicomweb")
        return f"{self.orthanc.version()}, DICOMweb plugin {dicomweb}, {self.orthanc.index} index"


def _package_version(package):
    result = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True)
    return result.stdout.strip() or "?"


def delete_study(target, series, check=True):
    """Check that the stored study is whole, then DELETE it through the REST API both servers share."""
    client = target.client()
    try:
        status, answer = client.request("POST", "/tools/lookup", series.study_uid.encode(), "text/plain")
        if status != 200:
            raise RuntimeError(f"POST /tools/lookup answered HTTP {status}: {answer[:300]!r}")
        found = json.loads(answer)
        study = next((item["ID"] for item in found if item["Type"] == "Study"), None)
        if study is None and not check:
            return
        if study is None:
            raise RuntimeError(f"{target.name} has not stored the study")
        count = client.json("GET", f"/studies/{study}/statistics")["CountInstances"]
        if check:
            check_count(target, "stored study", int(count), len(series.paths))
        client.json("DELETE", f"/studies/{study}")
    finally:
        client.close()


# --- requests both servers answer alike ----------------------------------------------------------


def get(client, path, accept):
    """(status, body) of a GET with an Accept header."""
    return client.request("GET", path, headers={"Accept": accept})


def get_json(client, path):
    status, body = get(client, path, DICOM_JSON)
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body[:100]!r}")
    return json.loads(body) if body else []


def get_parts(client, path, accept):
    """GET a multipart answer, read in 1 MB chunks: (bytes read, parts counted)."""
    connection = client.connection
    connection.request("GET", path, headers={"Authorization": client.authorization, "Accept": accept})
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {response.read()[:100]!r}")
    content_type = response.getheader("Content-Type", "")
    boundary = next((p.split("=", 1)[1].strip('"') for p in content_type.split(";") if "boundary=" in p), None)
    if boundary is None:
        raise RuntimeError(f"GET {path} answered {content_type!r}, without a boundary")
    marker = b"--" + boundary.encode()
    size = parts = 0
    tail = b""
    while chunk := response.read(MB):
        size += len(chunk)
        window = tail + chunk
        parts += window.count(marker)
        tail = window[-(len(marker) - 1) :]
    return size, parts - 1  # the closing delimiter is one marker more


def check_count(target, what, found, expected):
    if found != expected:
        raise RuntimeError(f"{target.name}'s {what} has {found} items where {expected} were expected")


def stow(target, bodies, clients):
    """POST every (body, content type) to /dicom-web/studies from `clients` connections: seconds."""
    pending = iter(bodies)
    lock = threading.Lock()
    failures = []

    def work():
        client = target.client()
        try:
            while True:
                with lock:
                    item = next(pending, None)
                if item is None:
                    return
                body, content_type = item
                status, answer = client.request(
                    "POST", "/dicom-web/studies", body, content_type, headers={"Accept": DICOM_JSON}
                )
                if status != 200:
                    failures.append(f"HTTP {status}: {answer[:300]!r}")
        finally:
            client.close()

    seconds = run_concurrently(work, clients)
    if failures:
        raise RuntimeError(f"{len(failures)} STOW-RS requests to {target.name} failed: {failures[0]}")
    return seconds


def stow_and_delete(target, bodies, clients, series):
    """The seconds of a STOW-RS run; the study it stored is checked and deleted after it."""
    try:
        seconds = stow(target, bodies, clients)
    except Exception:
        delete_study(target, series, check=False)  # what was stored goes
        raise
    delete_study(target, series)
    return seconds


def fetch_frames(target, series, clients):
    """Every frame of the series, one request each, from `clients` connections at once:
    (seconds, per-request Latency, bytes)."""
    pending = iter(series.instance_uids)
    lock = threading.Lock()
    latency = Latency()
    sizes, failures = [], []
    base = f"/dicom-web/studies/{series.study_uid}/series/{series.series_uid}/instances"

    def work():
        client = target.client()
        try:
            while True:
                with lock:
                    uid = next(pending, None)
                if uid is None:
                    return
                start = time.perf_counter()
                status, body = get(client, f"{base}/{uid}/frames/1", FRAME_ACCEPT)
                latency.samples.append(time.perf_counter() - start)
                if status != 200 or len(body) < 512 * 512 * 2:
                    failures.append(f"HTTP {status}, {len(body)} bytes: {body[:200]!r}")
                sizes.append(len(body))
        finally:
            client.close()

    seconds = run_concurrently(work, clients)
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(series.instance_uids)} frames failed on {target.name}: "
                           f"{failures[0]}")  # fmt: skip
    return seconds, latency, sum(sizes)
