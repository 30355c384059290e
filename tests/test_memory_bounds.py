"""Bounded memory, shown on a real server (`manage.py start`, tests/pharos_server.py): while a
500 MB DICOM file, a ZIP of it and a ZIP bomb are uploaded, no web worker's peak memory
(VmHWM) passes MEMORY_BOUND; the bomb is refused with 413; a body beyond the upload limit is
refused before it is read; an upload cut short leaves no file in storage/incoming.

The files are written to disk in chunks and sent from there in chunks: the test holds
little of them in memory itself.
"""

import base64
import http.client
import io
import json
import os
import socket
import struct
import threading
import zipfile
from pathlib import Path

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tests.conftest import CT_SMALL, dicom_bytes
from tests.dicom_peers import child_processes, wait_until
from tests.pharos_server import Server, own_database

PASSWORD = "memory-password"
AUTHORIZATION = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
MiB = 1024 * 1024
MEMORY_BOUND = 300 * MiB
PIXEL_DATA_SIZE = 500 * MiB  # 5 frames of 10240 × 10240 bytes
BOMB_MEMBER_SIZE = 2048 * MiB  # of zeros, a few MB once deflated
EXPANSION_LIMIT = 1024 * MiB  # PHAROS_MAX_ZIP_EXPANSION: the 500 MB file fits, the bomb not
UPLOAD_LIMIT = 1024 * MiB  # PHAROS_MAX_UPLOAD_SIZE
CHUNK = MiB


def write_large_dicom(path):
    """A valid DICOM file whose pixel data (zeros) is written in chunks after its header."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.PatientID = "MEMORY-BOUNDS"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "OT"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 10240, 10240, 5
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    header = io.BytesIO()
    ds.save_as(header, enforce_file_format=True)
    zeros = bytes(CHUNK)
    with open(path, "wb") as out:
        out.write(header.getvalue())
        out.write(struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OB", 0, PIXEL_DATA_SIZE))  # (7FE0,0010) OB
        for _ in range(PIXEL_DATA_SIZE // CHUNK):
            out.write(zeros)


def write_zip(path, name, chunks):
    """A ZIP archive of one member written from `chunks` as they come (zipfile's streaming
    writer): a multi-GiB member never exists whole, in memory or on disk."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(name, "w", force_zip64=True) as member:
            for chunk in chunks:
                member.write(chunk)


def file_chunks(path):
    with open(path, "rb") as source:
        yield from iter(lambda: source.read(CHUNK), b"")


def make_large_files(folder):
    write_large_dicom(folder / "large.dcm")
    write_zip(folder / "large.zip", "large.dcm", file_chunks(folder / "large.dcm"))


def make_bomb(folder):
    zeros = bytes(CHUNK)
    write_zip(folder / "bomb.zip", "zeros.dcm", (zeros for _ in range(BOMB_MEMBER_SIZE // CHUNK)))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return tmp_path_factory.mktemp("memory-files")


@pytest.fixture(scope="module")
def server(tmp_path_factory, files):
    # The files are made while the server starts (zlib lets other threads run as it compresses).
    makers = [threading.Thread(target=make, args=(files,)) for make in (make_large_files, make_bomb)]
    for maker in makers:
        maker.start()
    with own_database("pharos_memory_bounds") as url:
        data_dir = tmp_path_factory.mktemp("memory") / "data"
        server = Server(
            data_dir,
            PASSWORD,
            url,
            PHAROS_MAX_ZIP_EXPANSION=str(EXPANSION_LIMIT),
            PHAROS_MAX_UPLOAD_SIZE=str(UPLOAD_LIMIT),
        )
        server.incoming = data_dir / "storage" / "incoming"
        for maker in makers:
            maker.join()
        yield server
        assert server.stop() == 0


def web_workers(server):
    """The gunicorn worker processes below the server (children of gunicorn's master)."""
    workers, parents = [], [server.process.pid]
    while parents:
        parent = parents.pop()
        for pid, command in child_processes(parent).items():
            parents.append(pid)
            if b"gunicorn" in command and b"gunicorn" in Path(f"/proc/{parent}/cmdline").read_bytes():
                workers.append(pid)
    assert workers, "no gunicorn worker found below the server"
    return workers


def peak_memory(pid):
    """The process's peak resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def assert_memory_bounded(server):
    peaks = {pid: peak_memory(pid) for pid in web_workers(server)}
    assert max(peaks.values()) < MEMORY_BOUND, f"peak memory of the web workers: {peaks}"


def post_file(server, path, content_type):
    """(status, JSON answer) of POST /instances with the file as body, sent in chunks."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600, blocksize=CHUNK)
    try:
        with open(path, "rb") as body:
            headers = {
                "Authorization": AUTHORIZATION,
                "Content-Type": content_type,
                "Content-Length": str(path.stat().st_size),
            }
            connection.request("POST", "/instances", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def incoming_files(server):
    return sorted(server.incoming.iterdir()) if server.incoming.exists() else []


def files_being_received(server):
    """The incoming folder's files, and those without a name that a web worker holds open there
    (the body it spools while the request arrives, explorer/asgi.py)."""
    held = []
    for pid in web_workers(server):
        for descriptor in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(descriptor)
            except OSError:
                continue
            if target.startswith(str(server.incoming) + "/"):
                held.append(target)
    return incoming_files(server) + held


def test_a_500_mb_file_is_stored_by_a_worker_of_bounded_memory(server, files):
    status, answer = post_file(server, files / "large.dcm", "application/dicom")
    assert status == 200 and answer["Status"] == "Success", answer
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("GET", answer["Path"], headers={"Authorization": AUTHORIZATION})
    stored = json.loads(connection.getresponse().read())
    assert stored["FileSize"] == (files / "large.dcm").stat().st_size
    assert_memory_bounded(server)
    assert incoming_files(server) == []


def test_a_zip_member_of_500_mb_is_expanded_in_chunks(server, files):
    status, answer = post_file(server, files / "large.zip", "application/zip")
    assert status == 200 and [a["Filename"] for a in answer] == ["large.dcm"], answer
    assert_memory_bounded(server)
    assert incoming_files(server) == []


def test_a_zip_bomb_is_refused_with_413_before_it_is_expanded(server, files):
    assert (files / "bomb.zip").stat().st_size < 20 * MiB
    status, answer = post_file(server, files / "bomb.zip", "application/zip")
    assert status == 413, answer
    assert answer["HttpStatus"] == 413 and answer["Uri"] == "/instances"
    assert "PHAROS_MAX_ZIP_EXPANSION" in answer["Details"] and str(BOMB_MEMBER_SIZE) in answer["Details"]
    assert_memory_bounded(server)
    assert incoming_files(server) == []


def test_a_body_beyond_the_upload_limit_is_refused_before_it_is_read(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.putrequest("POST", "/instances")
    connection.putheader("Authorization", AUTHORIZATION)
    connection.putheader("Content-Type", "application/dicom")
    connection.putheader("Content-Length", str(UPLOAD_LIMIT + 1))
    connection.endheaders()  # and no byte of the body: the answer comes without it
    response = connection.getresponse()
    answer = json.loads(response.read())
    assert response.status == 413 and "PHAROS_MAX_UPLOAD_SIZE" in answer["Details"], answer
    connection.close()


def test_a_chunked_body_is_read(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    data = dicom_bytes(CT_SMALL)
    body = (data[i : i + 10000] for i in range(0, len(data), 10000))
    headers = {"Authorization": AUTHORIZATION, "Content-Type": "application/dicom"}
    connection.request("POST", "/instances", body=body, headers=headers, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read())["Status"] == "Success"
    connection.close()


@pytest.mark.parametrize("content_type", ["application/dicom", "multipart/form-data; boundary=BOUNDARY"])
def test_an_upload_cut_short_leaves_no_file_behind(server, content_type):
    head = (
        "POST /instances HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: {AUTHORIZATION}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {20 * MiB}\r\n\r\n"
    ).encode()
    first_part = b'--BOUNDARY\r\nContent-Disposition: form-data; name="f"; filename="a.dcm"\r\n\r\n'
    with socket.create_connection(("127.0.0.1", server.port)) as client:
        client.sendall(head + first_part + bytes(8 * MiB))
        # The server receives it into a file of the incoming folder as it comes...
        wait_until(lambda: files_being_received(server), 30, "no file is being received")
    # ...and removes it once the client has gone.
    wait_until(lambda: files_being_received(server) == [], 30, "the partial upload was left in storage/incoming")
