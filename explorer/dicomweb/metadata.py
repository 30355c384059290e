"""WADO-RS metadata (PS3.18 10.4.1.1.2): each instance's DICOM JSON as Orthanc's DICOMweb plugin
writes it, made from the index without opening a DICOM file, and kept in a cache.

The index holds every instance's data set as DICOM JSON (explorer/dicom.py `dataset_json`).
Orthanc's answer differs from it in two ways, which `instance_json` makes:

- every binary value (OB, OW, OF, OD, OL, OV, UN; pixel data above all) is a BulkDataURI
  pointing at `…/instances/{uid}/bulk/{tag path}`, whatever its size (the index keeps the
  small ones inline); a value inside a sequence is named by its path, items counted from 1:
  `…/bulk/54000100/2/54001010`, tags in lower-case hexadecimal, as Orthanc writes them;
- numbers written as text (IS, DS) are JSON numbers (a value that is no number stays text).

Orthanc 1.10.1 also lists the data set trailing padding (FFFC,FFFC), which the index does not
keep, and leaves compressed pixel data out, which is given here as a BulkDataURI like any
other pixel data (its bulk route answers it).

Each instance's JSON is written once, to DATA_DIR/cache/dicomweb-metadata/ (beside the
storage area), named by the UUID of its file: a changed instance is a new file, and
explorer/storage.py deletes the cache entry with the file. The bulk URIs are kept relative
there; the answer puts the request's root URL in front of them, so that one cache serves
every host name. A series' answer is its instances' entries joined, streamed.
"""

import os
import tempfile
from pathlib import Path

import orjson

from explorer import storage
from explorer.models import Instance

CACHE_KIND = "dicomweb-metadata"
BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
BULK_KEY = b'"BulkDataURI":"'
# Instances whose index JSON is read from the database at a time.
BATCH = 200


def root_url(request):
    """The absolute URL of the DICOMweb root for this request ("http://host/dicom-web/"), as
    Orthanc builds it: the host of a `Forwarded` header if one is given (a proxy's), else the
    request's Host."""
    path = request.path
    root = path[: path.index("/dicom-web/") + len("/dicom-web/")] if "/dicom-web/" in path else "/dicom-web/"
    forwarded = _forwarded(request.headers.get("Forwarded", ""))
    if forwarded.get("host"):
        scheme = forwarded.get("proto") if forwarded.get("proto") in ("http", "https") else request.scheme
        return f"{scheme}://{forwarded['host']}{root}"
    return request.build_absolute_uri(root)


def _forwarded(header):
    """The first element of a Forwarded header (RFC 7239) as {name: value}."""
    values = {}
    for pair in header.split(",")[0].split(";"):
        name, _, value = pair.strip().partition("=")
        value = value.strip().strip('"')
        if name and value and all(c.isalnum() or c in ".-:[]_" for c in value):
            values[name.lower()] = value
    return values


def instance_path(study_uid, series_uid, sop_uid):
    return f"studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"


def instance_json(dataset, path):
    """The DICOMweb JSON of one instance (its index JSON `dataset`) as bytes, bulk data URIs
    relative to the DICOMweb root; `path` is instance_path()."""
    return orjson.dumps(_converted(dataset, f"{path}/bulk/"))


def _converted(elements, bulk_prefix):
    converted = {}
    for key, element in elements.items():
        vr = element.get("vr")
        if vr in BINARY_VRS and ("InlineBinary" in element or "BulkDataURI" in element):
            element = {"vr": vr, "BulkDataURI": bulk_prefix + key.lower()}
        elif vr == "SQ" and element.get("Value"):
            items = [
                _converted(item, f"{bulk_prefix}{key.lower()}/{number}/")
                for number, item in enumerate(element["Value"], start=1)
            ]
            element = {"vr": vr, "Value": items}
        elif vr in ("IS", "DS") and element.get("Value"):
            element = {"vr": vr, "Value": [_number(value, vr) for value in element["Value"]]}
        elif len(element.get("Value") or ()) > 1 and "" in element["Value"]:
            # An empty value among several is null in DICOM JSON (PS3.18 F.2.5), as Orthanc writes it.
            element = {"vr": vr, "Value": [None if value == "" else value for value in element["Value"]]}
        converted[key] = element
    return converted


def _number(value, vr):
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    if vr == "DS":
        try:
            number = float(text)
        except ValueError:
            return value
        if number == number and abs(number) != float("inf"):  # JSON has no NaN nor infinity
            return number
    return value


# ------------------------------------------------------------------ the cache


def cache_path(file_uuid):
    return storage.derived_path(CACHE_KIND, file_uuid)


def _read_cached(file_uuid):
    try:
        with open(cache_path(file_uuid), "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _write_cached(file_uuid, data):
    """Keep an instance's JSON; never left behind by a deletion that ran meanwhile."""
    path = cache_path(file_uuid)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".writing-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except OSError:
        return  # a cache that cannot be written is only slower
    # storage.delete removes the file, then this entry: if the file is gone now, the deletion
    # may have passed before the entry existed, and it is removed here.
    if not storage.path_for(file_uuid).exists():
        path.unlink(missing_ok=True)


def forget(file_uuid):
    Path(cache_path(file_uuid)).unlink(missing_ok=True)


def instances_json(instances):
    """The JSON (bytes, relative bulk URIs) of each instance of the queryset, in its order:
    from the cache, else from the index (then cached)."""
    rows = instances.values_list(
        "pk", "file_uuid", "sop_instance_uid", "series__series_instance_uid", "series__study__study_instance_uid"
    )
    pending = []
    for row in rows.iterator(chunk_size=2000):
        cached = _read_cached(row[1])
        if cached is not None and not pending:
            yield cached
            continue
        pending.append((row, cached))
        if len(pending) >= BATCH:
            yield from _completed(pending)
            pending = []
    yield from _completed(pending)


def _completed(pending):
    """The JSON of these rows in order, those not cached made from the index's data sets."""
    missing = [row[0] for row, cached in pending if cached is None]
    datasets = dict(Instance.objects.filter(pk__in=missing).values_list("pk", "dataset")) if missing else {}
    for (pk, file_uuid, sop_uid, series_uid, study_uid), cached in pending:
        if cached is None:
            dataset = datasets.get(pk)
            if dataset is None:
                continue  # deleted since it was listed
            cached = instance_json(dataset, instance_path(study_uid, series_uid, sop_uid))
            _write_cached(file_uuid, cached)
        yield cached


def answer_chunks(instances, root):
    """The body of a metadata answer: a JSON array of the instances' JSON, the bulk URIs made
    absolute with `root`, a batch of instances at a time."""
    absolute = BULK_KEY + root.encode()
    yield b"["
    batch, size, first = [], 0, True
    for part in instances_json(instances):
        batch.append(part)
        size += len(part)
        if size >= 256 * 1024:
            yield (b"" if first else b",") + b",".join(batch).replace(BULK_KEY, absolute)
            batch, size, first = [], 0, False
    if batch:
        yield (b"" if first else b",") + b",".join(batch).replace(BULK_KEY, absolute)
    yield b"]"
