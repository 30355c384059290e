"""New copies of stored instances: /modify and /anonymize of a patient, study or series, and the
bulk operations. Each instance is read, changed in memory, and stored as a new instance through
the ingest funnel, with its ModifiedFrom or AnonymizedFrom link at every level whose id changed,
as Orthanc's ResourceModificationJob does.

Either all of it is kept or none of it: when a step fails or the job is stopped (should_stop
raises), every instance stored so far is deleted again, so no half-written study is left. The
source goes at the end only when asked (KeepSource false; Orthanc keeps it by default).

Instances are changed by a few threads at once on PostgreSQL: reading, writing and indexing wait
on the disk and the database, which lets another instance be parsed meanwhile. Changing the data set itself
is serialized, since the modification's map of new UIDs is shared by all instances.
"""

import io
import logging
import queue
import threading
from dataclasses import dataclass, field

import pydicom
from django.db import close_old_connections, connection

from explorer import dicom, index, ingest, levels, storage, transcoding
from explorer.errors import PharosError, UnknownResource

logger = logging.getLogger(__name__)

DESCRIPTION = "REST API"  # Orthanc's Description of a job submitted through REST
THREADS = 4


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
    """Runs `change(dataset)` over instances and stores the results through the ingest funnel.

    `change` edits a data set in place; it is called under a lock (it may keep a map of new
    UIDs). With a `link_field` ("modified_from", "anonymized_from"), each result is stored with
    an index.Link to its source, and to the source of each parent whose id changed.
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
        self._linked = set()  # the new patients, studies and series already linked

    def _changed(self, source):
        dataset = pydicom.dcmread(storage.path_for(source.file_uuid))
        with self.lock:
            self.change(dataset)
        return dataset

    def _one(self, source):
        try:
            dataset = self._changed(source)
        except OSError:
            # As Orthanc: an instance deleted since the job began is a failed instance.
            logger.warning("Instance %s cannot be read to be changed", source.public_id)
            return False
        if self.transcode:
            try:
                transcoding.transcode(dataset, self.transcode)
            except transcoding.TranscodingError as error:
                # As Orthanc: the instance keeps its transfer syntax. The failed attempt may
                # have decompressed it: it is changed again from its file (the same new UIDs).
                logger.warning("Cannot transcode instance %s, keeping its transfer syntax: %s", source.public_id, error)
                dataset = self._changed(source)
        new_ids = _new_ids(dataset)
        link = None
        if self.link_field:
            # The instance always names its source; a parent only when its id changed, and
            # only until one instance has linked it (the index writes it once, each the same).
            parents = tuple(
                old if old != new and new not in self._linked else None for old, new in zip(source.ids[:3], new_ids[:3])
            )
            link = index.Link(self.link_field, (*parents, source.public_id))
        # As Orthanc: a copy transcoded on purpose is not transcoded again at ingest.
        result = ingest.store_instance(
            _as_bytes(dataset), self.origin, link=link, skip_ingest_transcoding=bool(self.transcode)
        )
        if result.status != ingest.SUCCESS:
            raise CannotStoreInstance(f"Error while storing a modified instance {source.public_id}")
        with self.lock:
            if result.instance_id not in self._sources:
                self.outcome.created.append(result.instance_id)
            self.outcome.ids.append(result.ids)
            self._linked.update(result.ids[:3])
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
            if connection.in_atomic_block or connection.vendor == "sqlite" or len(sources) < 2 * THREADS:
                # Threads have their own connections, which cannot see an open transaction;
                # SQLite writes one transaction at a time, and its lock waits are not worth it.
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


def _change(sources, modification, progress, should_stop, origin):
    """Make the changed copies of `sources` (deleting the sources after, unless KeepSource):
    the job's Content as far as it is common to every resource, and the outcome."""
    link_field = "anonymized_from" if modification.is_anonymization else "modified_from"
    changer = Changer(modification.apply, origin, link_field, modification.transcode, modification.permissive)
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
    return content, outcome


def change_resource(level, public_id, modification, progress, should_stop, username="", remote_ip=""):
    """Orthanc's ResourceModification job for one patient, study or series: the job's Content.

    The new instances are stored with their ModifiedFrom (AnonymizedFrom) links; the source is
    deleted at the end when modification.keep_source is false."""
    resource = index.get(level, public_id)
    if resource is None:
        raise UnknownResource()
    content, outcome = _change(
        sources_below(level, resource), modification, progress, should_stop, origin_for(username, remote_ip)
    )
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
    content, outcome = _change(
        sources_of(public_ids), modification, progress, should_stop, origin_for(username, remote_ip)
    )
    made = []
    for depth, level in reversed(list(enumerate(levels.LEVELS))):
        for public_id in sorted({ids[depth] for ids in outcome.ids}):
            made.append({"ID": public_id, "Path": f"/{level.plural}/{public_id}", "Type": level.name})
    content["Resources"] = made
    if modification.transcode:
        content["Transcode"] = modification.transcode
    return content


def remove_sources(sources, outcome):
    """Delete the sources, but not one that is also a result (an instance whose UIDs were all
    kept, stored over itself)."""
    results = {ids[3] for ids in outcome.ids}
    delete_instances([s.public_id for s in sources if s.public_id not in results])
