"""ZIP archives of resources, streamed as they are written, laid out as Orthanc lays them out.

`<PatientID> <PatientName>/<AccessionNumber> <StudyDescription>/<Modality> <SeriesDescription>/<MO>000000.dcm`
"""

import functools
import logging
import operator
import zipfile

from explorer import index, storage, transcoding

logger = logging.getLogger(__name__)

CHUNK = 1 << 20


def clean_name(*parts):
    """Orthanc's folder names: '^' as a space, only letters, digits, '.', '_' and single spaces."""
    text = " ".join(p for p in parts if p)
    kept, last_space = [], False
    for char in text.replace("^", " "):
        if not char.isascii():
            continue
        if char.isspace():
            if not last_space:
                kept.append(" ")
            last_space = True
        elif char.isalnum() or char in "._":
            kept.append(char)
            last_space = False
    return "".join(kept).strip()


def archive_entries(level, resource):
    """(path in the ZIP, file uuid) for every instance below the resource, in Orthanc's layout."""
    return _entries(index.instances_below(level, resource))


def resources_entries(public_ids):
    """The same for every instance at or below any of these resources, of any level, each once
    (POST /tools/create-archive); KeyError names an id that is no resource."""
    below = []
    for public_id in public_ids:
        level, resource = index.resolve(public_id)
        if resource is None:
            raise KeyError(public_id)
        below.append(index.instances_below(level, resource))
    if not below:
        return iter(())
    # One query whose WHERE is the OR of each resource's: an instance comes once.
    return _entries(functools.reduce(operator.or_, below))


def _entries(instances):
    instances = (
        instances.select_related("series__study__patient")
        .defer("dataset")
        .order_by("series__study__patient_id", "series__study_id", "series_id", "index_in_series", "id")
    )
    counters = {}
    for instance in instances:
        series = instance.series
        study, patient = series.study, series.study.patient
        modality = series.main_tags.get("Modality", "")
        folder = "/".join(
            [
                clean_name(patient.main_tags.get("PatientID"), patient.main_tags.get("PatientName"))
                or "Unknown patient",
                clean_name(study.main_tags.get("AccessionNumber"), study.main_tags.get("StudyDescription"))
                or "Unknown study",
                clean_name(modality, series.main_tags.get("SeriesDescription")) or "Unknown series",
            ]
        )
        number = counters.get(folder, 0)
        counters[folder] = number + 1
        prefix = clean_name(modality)[:2].upper()
        name = f"{prefix}{number:06d}.dcm" if prefix else f"{number:08d}.dcm"
        yield f"{folder}/{name}", instance.file_uuid


class _Pipe:
    """A write-only file whose content is collected and handed out in pieces."""

    def __init__(self):
        self.pieces, self.position = [], 0

    def write(self, data):
        self.pieces.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self):
        return self.position

    def flush(self):
        pass

    def take(self):
        data, self.pieces = b"".join(self.pieces), []
        return data


def stream_zip(entries, syntax=None):
    """Yield the bytes of a ZIP holding the files, never the whole archive in memory; each
    file transcoded to the transfer syntax `syntax` if given (checked by the caller), or
    left as stored when it cannot be, as Orthanc's archive job does."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, file_uuid in entries:
            with archive.open(name, "w", force_zip64=True) as member:
                for block in _file_blocks(file_uuid, syntax):
                    member.write(block)
                    yield pipe.take()
            yield pipe.take()
    yield pipe.take()


def _file_blocks(file_uuid, syntax):
    if syntax is not None:
        try:
            yield transcoding.transcoded_file(storage.path_for(file_uuid), syntax)
            return
        except transcoding.TranscodingError as error:
            logger.info("Archive: %s kept as stored: %s", file_uuid, error.details)
    with storage.open_file(file_uuid) as source:
        yield from iter(lambda: source.read(CHUNK), b"")
