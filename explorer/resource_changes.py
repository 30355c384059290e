"""New copies of stored instances: /modify and /anonymize of a patient, study or series, and the
bulk operations. Each instance is read, changed in memory, and stored as a new instance through
the ingest funnel, with its ModifiedFrom or AnonymizedFrom link at every level whose id changed,
as Orthanc's ResourceModificationJob does.

Either all of it is kept or none of it: when a step fails or the job is stopped (should_stop
raises), every instance stored so far is deleted again, so no half-written study is left. The
source goes at the end only when asked (KeepSource false; Orthanc keeps it by default).

Instances are changed by a few threads at once: reading, writing and indexing wait on the disk
and the database, which lets another instance be parsed meanwhile. Changing the data set itself
is serialized, since the modification's map of new UIDs is shared by all instances.
"""

import io
import logging
import queue
import threading
from dataclasses import dataclass, field

import pydicom
from django.db import close_old_connections, connection

from explorer import dicom, index, ingest, levels, storage
from explorer.errors import PharosError, UnknownResource

logger = logging.getLogger(__name__)

DESCRIPTION = "REST API"  # Orthanc's Description of a job submitted through REST
THREADS = 3


class CannotStoreInstance(PharosError):
    http_status, orthanc_status, orthanc_error = 500, 2018, "Cannot store an instance"


@dataclass
class Source:
    """A stored instance to change: its public id, its file, and the ids of its parents."""

    public_id: str
    file_uuid: str
    ids: tuple  # patient, study, series, instance public ids


def sources_below(level, resource):
    """The instances of a resource, in the order they arrived, with their parents' ids."""
    rows = (
        index.instances_below(level, resource)
        .order_by("id")
        .values_list(
            "public_id",
            "file_uuid",
            "series__study__patient__public_id",
            "series__study__public_id",
            "series__public_id",
        )
    )
    return [Source(p, str(u), (pa, st, se, p)) for p, u, pa, st, se in rows]


def sources_of(public_ids):
    """The instances at or below each of these resources (any level), each once."""
    found, seen = [], set()
    for public_id in public_ids:
        level, resource = index.resolve(public_id)
        if resource is None:
            continue
        for source in sources_below(level, resource):
            if source.public_id not in seen:
                seen.add(source.public_id)
                found.append(source)
    return found


@dataclass
class Outcome:
    """What a run over a set of instances made."""

    created: list = field(default_factory=list)  # public ids of the new instances
    ids: list = field(default_factory=list)  # the (patient, study, series, instance) ids of each
    failed: int = 0


def _new_ids(dataset):
    values = [dicom.element_text(dataset, k) or "" for k in dicom.IDENTIFIERS]
    return dicom.public_ids(*values)


def _as_bytes(dataset):
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    out = io.BytesIO()
    pydicom.dcmwrite(out, dataset, enforce_file_format=True)
    return out.getvalue()


class Changer:
    """Runs `change(dataset) -> link field or None` over instances and stores the results.

    `change` edits a data set in place; it is called under a lock. The result is stored with
    a Link (index.Link) on the given field to the source at each level whose id changed.
    """

    def __init__(self, change, origin, link_field=None, transcode=None, permissive=False):
        self.change = change
        self.origin = origin
        self.link_field = link_field
        self.transcode = transcode
        self.permissive = permissive
        self.lock = threading.Lock()
        self.outcome = Outcome()
        self._sources = set()

    def _one(self, source):
        try:
            dataset = pydicom.dcmread(storage.path_for(source.file_uuid))
        except OSError:
            # As Orthanc: an instance deleted since the job began is a failed instance.
            logger.warning("Instance %s cannot be read to be changed", source.public_id)
            return False
        with self.lock:
            self.change(dataset)
        if self.transcode:
            from explorer import transcoding

            transcoding.transcode(dataset, self.transcode)
        new_ids = _new_ids(dataset)
        link = None
        if self.link_field:
            # The instance always names its source; a parent only when its id changed.
            parents = tuple(old if old != new else None for old, new in zip(source.ids[:3], new_ids[:3]))
            link = index.Link(self.link_field, (*parents, source.public_id))
        result = ingest.store_instance(_as_bytes(dataset), self.origin, link=link)
        if result.status != ingest.SUCCESS:
            raise CannotStoreInstance(f"Error while storing a modified instance {source.public_id}")
        with self.lock:
            if result.instance_id not in self._sources:
                self.outcome.created.append(result.instance_id)
            self.outcome.ids.append(result.ids)
        return True

    def _step(self, source):
        try:
            done = self._one(source)
        except Exception:
            if not self.permissive:
                raise
            logger.warning("Ignoring an error in a permissive job", exc_info=True)
            done = False
        if not done:
            if not self.permissive:
                raise CannotStoreInstance(f"Instance {source.public_id} could not be changed")
            with self.lock:
                self.outcome.failed += 1

    def run(self, sources, progress, should_stop):
        """Change every source; on any failure or stop, delete what was stored and re-raise."""
        self._sources = {s.public_id for s in sources}
        try:
            if connection.in_atomic_block or len(sources) < 2 * THREADS:
                # Threads have their own connections, which cannot see an open transaction.
                for done, source in enumerate(sources, 1):
                    should_stop()
                    self._step(source)
                    progress(done, len(sources))
            else:
                self._run_threaded(sources, progress, should_stop)
        except BaseException:
            delete_instances(self.outcome.created)
            raise
        return self.outcome

    def _run_threaded(self, sources, progress, should_stop):
        todo = queue.Queue()
        for source in sources:
            todo.put(source)
        errors, done = [], queue.Queue()
        stop = threading.Event()

        def work():
            try:
                while not stop.is_set():
                    try:
                        source = todo.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        self._step(source)
                    except BaseException as error:
                        errors.append(error)
                        stop.set()
                        return
                    done.put(1)
            finally:
                close_old_connections()
                connection.close()

        threads = [threading.Thread(target=work, daemon=True) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        count = 0
        try:
            while count < len(sources) and not errors:
                should_stop()
                try:
                    count += done.get(timeout=0.2)
                except queue.Empty:
                    if not any(t.is_alive() for t in threads):
                        break
                    continue
                progress(count, len(sources))
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        if errors:
            raise errors[0]


def run_telling(changer, sources, progress, should_stop, content):
    """changer.run; an error it ends with carries the job's content (Orthanc's failed job still
    shows what it was to do)."""
    try:
        return changer.run(sources, progress, should_stop)
    except PharosError as error:
        error.job_content = content
        raise


def delete_instances(public_ids):
    """Delete instances by public id, then their parents left empty."""
    if public_ids:
        index.delete_instances(public_ids)


def origin_for(username="", remote_ip=""):
    return ingest.Origin(kind="RestApi", remote_ip=remote_ip, username=username)


def change_resource(level, public_id, modification, progress, should_stop, username="", remote_ip=""):
    """Orthanc's ResourceModification job for one patient, study or series: the job's Content.

    The new instances are stored with their ModifiedFrom (AnonymizedFrom) links; the source is
    deleted at the end when modification.keep_source is false."""
    resource = index.get(level, public_id)
    if resource is None:
        raise UnknownResource(f"Unknown {level.name.lower()}: {public_id}")
    sources = sources_below(level, resource)
    link_field = "anonymized_from" if modification.is_anonymization else "modified_from"
    changer = Changer(
        modification.apply,
        origin_for(username, remote_ip),
        link_field,
        modification.transcode,
        modification.permissive,
    )
    content = {
        "Description": DESCRIPTION,
        "FailedInstancesCount": 0,
        "InstancesCount": len(sources),
        "IsAnonymization": bool(modification.is_anonymization),
    }
    outcome = run_telling(changer, sources, progress, should_stop, content)
    if not modification.keep_source:
        remove_sources(sources, outcome)
    content["FailedInstancesCount"] = outcome.failed
    if outcome.ids:
        # Orthanc names the resource its first changed instance landed in.
        first = outcome.ids[0]
        depth = levels.LEVELS.index(level)
        content |= {"ID": first[depth], "Path": f"/{level.plural}/{first[depth]}", "Type": level.name}
        content["PatientID"] = first[0]
    if modification.transcode:
        content["Transcode"] = modification.transcode
    return content


def change_resources(public_ids, modification, progress, should_stop, username="", remote_ip=""):
    """Orthanc's ResourceModification job for a set of resources (/tools/bulk-modify and
    bulk-anonymize): the Content lists every resource made, by level."""
    sources = sources_of(public_ids)
    link_field = "anonymized_from" if modification.is_anonymization else "modified_from"
    changer = Changer(
        modification.apply,
        origin_for(username, remote_ip),
        link_field,
        modification.transcode,
        modification.permissive,
    )
    content = {
        "Description": DESCRIPTION,
        "FailedInstancesCount": 0,
        "InstancesCount": len(sources),
        "IsAnonymization": bool(modification.is_anonymization),
    }
    outcome = run_telling(changer, sources, progress, should_stop, content)
    if not modification.keep_source:
        remove_sources(sources, outcome)
    made = []
    for depth, level in reversed(list(enumerate(levels.LEVELS))):
        for public_id in sorted({ids[depth] for ids in outcome.ids}):
            made.append({"ID": public_id, "Path": f"/{level.plural}/{public_id}", "Type": level.name})
    content["FailedInstancesCount"] = outcome.failed
    content["Resources"] = made
    if modification.transcode:
        content["Transcode"] = modification.transcode
    return content


def remove_sources(sources, outcome):
    """Delete the sources, but not one that is also a result (an instance whose UIDs were all
    kept, stored over itself)."""
    results = {ids[3] for ids in outcome.ids}
    delete_instances([s.public_id for s in sources if s.public_id not in results])
