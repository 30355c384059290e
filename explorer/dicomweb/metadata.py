"""WADO-RS metadata (PS3.18 10.4.1.1.2): each instance's DICOM JSON as Orthanc's DICOMweb plugin
writes it, made from the index without opening a DICOM file, and kept in a cache.

The index holds every instance's data set as DICOM JSON (explorer/dicom.py `dataset_json`).
Orthanc's answer differs from it in these ways, which `instance_json` makes:

- every binary value (OB, OW, OF, OD, OL, OV, UN; pixel data above all) is a BulkDataURI
  pointing at `…/instances/{uid}/bulk/{tag path}`, whatever its size (the index keeps the
  small ones inline); a value inside a sequence is named by its path, items counted from 1:
  `…/bulk/54000100/2/54001010`, tags in lower-case hexadecimal, as Orthanc writes them;
- numbers written as text (IS, DS) are JSON numbers (a value that is no number stays text).

Orthanc 1.10.1 also lists the data set trailing padding (FFFC,FFFC), which the index does not
keep, and leaves compressed pixel data out, which is given here as a BulkDataURI like any
other pixel data (its bulk route answers it).

- an empty value among several is null.

Each instance's JSON is written once, when it is stored (explorer/ingest.py calls `remember`),
or at the first request that misses it, to DATA_DIR/cache/dicomweb-metadata/ (beside the
storage area), named by the UUID of its file: a changed instance is a new file, and
explorer/storage.py deletes the cache entry with the file. The bulk URIs are kept relative
there; the answer puts the request's root URL in front of them, so that one cache serves
every host name. A series' answer is its instances' entries joined, streamed.
"""

import contextlib
import os
import re
import threading

import orjson
from django.db.models import TextField
from django.db.models.functions import Cast

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


# What each VR asks of the conversion; the others' elements are kept as they are.
BULK, SEQUENCE, NUMBERS = 1, 2, 3
CONVERSION = {vr: BULK for vr in BINARY_VRS} | {"SQ": SEQUENCE, "IS": NUMBERS, "DS": NUMBERS}


def _converted(elements, bulk_prefix):
    """The elements as Orthanc writes them (a new dict: those given are left as they are)."""
    converted = {}
    for key, element in elements.items():
        kind = CONVERSION.get(element.get("vr"))
        if kind is None:
            values = element.get("Value")
            if values and len(values) > 1 and "" in values:
                # An empty value among several is null in DICOM JSON (PS3.18 F.2.5), as Orthanc writes it.
                element = {"vr": element["vr"], "Value": [None if value == "" else value for value in values]}
        elif kind == BULK:
            if "InlineBinary" in element or "BulkDataURI" in element:
                element = {"vr": element["vr"], "BulkDataURI": bulk_prefix + key.lower()}
        elif kind == SEQUENCE:
            if element.get("Value"):
                items = element["Value"]
                prefix = f"{bulk_prefix}{key.lower()}/"
                element = {"vr": "SQ", "Value": [_converted(item, f"{prefix}{n}/") for n, item in enumerate(items, 1)]}
        elif element.get("Value"):
            vr = element["vr"]
            element = {"vr": vr, "Value": [_number(value, vr) for value in element["Value"]]}
        converted[key] = element
    return converted


INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
# Numbers repeat from instance to instance of a series: each text is converted once.
_numbers = {}


def _number(value, vr):
    if not isinstance(value, str):
        return value
    key = (value, vr)
    number = _numbers.get(key)
    if number is None:
        number = _converted_number(value, vr)
        if len(_numbers) >= 50_000:
            _numbers.clear()
        _numbers[key] = number
    return number


def _converted_number(value, vr):
    if INTEGER.match(value):
        return int(value)
    if vr == "DS":
        try:
            number = float(value)
        except ValueError:
            return value
        if number == number and abs(number) != float("inf"):  # JSON has no NaN nor infinity
            return number
    return value


# ------------------------------------------------------------------ the cache


def cache_path(file_uuid):
    return storage.derived_path(CACHE_KIND, file_uuid)


class _Cache:
    """The cache's and the storage area's folders as texts, for one answer: a path object and
    a UUID parsed per instance cost as much as reading the entry."""

    def __init__(self):
        self.storage = os.fspath(storage.root())
        self.root = os.fspath(storage.derived_root(CACHE_KIND))

    def path(self, name):
        return os.path.join(self.root, name[:2], name + ".json")

    def read(self, file_uuid):
        try:
            with open(self.path(str(file_uuid)), "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def write(self, file_uuid, data):
        """Keep an instance's JSON; never left behind by a deletion that ran meanwhile."""
        name = str(file_uuid)
        path = self.path(name)
        temporary = f"{path}.{os.getpid()}-{threading.get_ident()}.writing"
        try:
            folder = os.path.dirname(path)
            if folder not in _made_folders:
                os.makedirs(folder, exist_ok=True)
                _made_folders.add(folder)
            try:
                out = os.open(temporary, _WRITE_FLAGS, 0o644)
            except FileNotFoundError:  # the folder was removed since it was made
                os.makedirs(folder, exist_ok=True)
                out = os.open(temporary, _WRITE_FLAGS, 0o644)
            try:
                with memoryview(data) as left:
                    while left:
                        left = left[os.write(out, left) :]
            finally:
                os.close(out)
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            return  # a cache that cannot be written is only slower
        # storage.delete removes the file, then this entry: if the file is gone now, the
        # deletion may have passed before the entry existed, and it is removed here.
        if not os.path.exists(os.path.join(self.storage, name[:2], name[2:4], name + ".dcm")):
            with contextlib.suppress(OSError):
                os.unlink(path)


# The cache's folders made by this process (256 at most): each arrival writes an entry, and
# asking for its folder again cost as much as writing it.
_made_folders = set()
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def remember(dataset, identifiers, file_uuid):
    """Cache the JSON of an instance just stored (its index JSON and its identifiers, by
    keyword), as recent versions of Orthanc's DICOMweb plugin cache it at ingest: the
    first metadata request of a series then reads it and nothing else."""
    path = instance_path(
        identifiers["StudyInstanceUID"], identifiers["SeriesInstanceUID"], identifiers["SOPInstanceUID"]
    )
    _Cache().write(file_uuid, instance_json(dataset, path))


def instances_json(instances):
    """The JSON (bytes, relative bulk URIs) of each instance of the queryset, in its order:
    from the cache, else from the index (then cached)."""
    rows = instances.values_list(
        "pk", "file_uuid", "sop_instance_uid", "series__series_instance_uid", "series__study__study_instance_uid"
    )
    cache, pending = _Cache(), []
    for row in rows.iterator(chunk_size=2000):
        cached = cache.read(row[1])
        if cached is not None and not pending:
            yield cached
            continue
        pending.append((row, cached))
        if len(pending) >= BATCH:
            yield from _completed(pending, cache)
            pending = []
    yield from _completed(pending, cache)


def _completed(pending, cache):
    """The JSON of these rows in order, those not cached made from the index's data sets."""
    missing = [row[0] for row, cached in pending if cached is None]
    datasets = {}
    if missing:
        # As text, parsed by orjson: Django's JSONField parses with the json module, five
        # times slower.
        texts = Instance.objects.filter(pk__in=missing).annotate(text=Cast("dataset", TextField()))
        datasets = dict(texts.values_list("pk", "text"))
    for (pk, file_uuid, sop_uid, series_uid, study_uid), cached in pending:
        if cached is None:
            text = datasets.get(pk)
            if text is None:
                continue  # deleted since it was listed
            cached = instance_json(orjson.loads(text), instance_path(study_uid, series_uid, sop_uid))
            cache.write(file_uuid, cached)
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
