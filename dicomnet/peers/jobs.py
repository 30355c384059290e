"""Sending to a peer as a job (Orthanc's OrthancPeerStore), run by the same workers and with the
same states as a DICOM send (dicomnet/jobs.py): each instance POSTed to the peer's /instances,
as stored, transcoded, or gzipped with Content-Encoding: gzip, as Orthanc's job sends them.

The job's parameters hold the peer's name, never its password: the peer is read again when the
job runs (a job resumed or resubmitted uses the peer as it is then). Its content is Orthanc's:
`{Compress, Description, FailedInstancesCount, InstancesCount, ParentResources, Peer, Size,
SizeMB, Transcode?}`.
"""

import contextlib
import io
import logging

from django.db import transaction

from dicomnet import exports, jobs
from dicomnet.models import Job
from dicomnet.peers import client, configuration
from explorer import audit, index, storage, transcoding
from explorer.errors import BadFileFormat, UnknownResource
from explorer.index import instances_of

logger = logging.getLogger("dicomnet.peers")

TYPE = "OrthancPeerStore"
MEGABYTE = 1024 * 1024


def check_resources(resources):
    """The public ids to send, checked as Orthanc checks them: each a string of an id's shape
    (BadFileFormat) naming a stored resource (UnknownResource)."""
    checked = []
    for resource in resources:
        if not isinstance(resource, str):
            raise BadFileFormat("Resources to be exported must be specified as a JSON array of strings")
        stripped = resource.strip()
        if not looks_like_id(stripped):
            raise BadFileFormat(f"This string is not a valid Orthanc identifier: {stripped}")
        if index.resolve(stripped)[1] is None:
            raise UnknownResource(f"No resource with id {stripped}")
        checked.append(stripped)
    return checked


def looks_like_id(text):
    groups = text.split("-")
    return len(groups) == 5 and all(len(g) == 8 and all(c in "0123456789abcdef" for c in g) for g in groups)


def parameters(peer, resources, transcode=None, compress=False, permissive=False):
    """The job's parameters: what to send where, by name and ids only."""
    found = {"Peer": peer.name, "Resources": list(resources), "Compress": bool(compress)}
    if transcode:
        try:
            found["Transcode"] = str(transcoding.transfer_syntax(transcode))
        except transcoding.UnknownTransferSyntax as error:
            raise BadFileFormat(f"Unknown transfer syntax UID: {transcode}") from error
    if permissive:
        found["Permissive"] = True
    return found


def start_store(
    peer, resources, request=None, *, transcode=None, compress=False, permissive=False, priority=0, synchronous=False
):
    """Send resources (public ids of any level) to a peer as a job; the job, finished when
    `synchronous` (run within this request), else queued once the transaction commits.
    The send is recorded in the audit trail, for the user of `request` (the current one)."""
    resources = check_resources(resources)
    params = parameters(peer, resources, transcode, compress, permissive)
    audit.record_ids(audit.SEND, request, resources, f"to the peer {peer.name} ({peer.url})")
    if synchronous:
        return jobs.execute(Job.objects.create(type=TYPE, parameters=params, priority=priority).id)
    with transaction.atomic():
        return jobs.submit(TYPE, params, priority)


def content(peer, params, instances_count, failed=0, size=0):
    answer = {
        "Compress": params.get("Compress", False),
        "Description": params.get("Description", "REST API"),
        "FailedInstancesCount": failed,
        "InstancesCount": instances_count,
        "Peer": configuration.described(peer) if peer is not None else [params["Peer"]],
        "Size": str(size),
        "SizeMB": size // MEGABYTE,
    }
    if params.get("Resources"):
        answer["ParentResources"] = params["Resources"]
    if params.get("Transcode"):
        answer["Transcode"] = params["Transcode"]
    return answer


def body_of(instance, syntax):
    """The instance's file to send: as stored, or in `syntax` when asked and possible (Orthanc
    sends the stored file when it cannot transcode it)."""
    path = storage.path_for(instance.file_uuid)
    if syntax and syntax != instance.transfer_syntax_uid:
        try:
            return io.BytesIO(transcoding.transcoded_file(path, transcoding.transfer_syntax(syntax)))
        except Exception as error:  # any encoder's failure: the stored file goes, as in Orthanc
            logger.warning("Instance %s sent as stored, not transcoded to %s: %s", instance.public_id, syntax, error)
    return open(path, "rb")


@jobs.runner(TYPE)
def store_job(job, progress, should_stop):
    params = job.parameters
    peer = configuration.OrthancPeer.objects.filter(name=params["Peer"]).first()
    exports.log_sent(params["Resources"], params["Peer"], job.id)
    instances = instances_of(params["Resources"])
    if peer is None:
        raise jobs.JobFailed(f"No peer with symbolic name: {params['Peer']}", content(None, params, len(instances)))
    failed, size = 0, 0
    try:
        with client.session(peer) as opened:
            for done, instance in enumerate(instances):
                should_stop()
                try:
                    body = body_of(instance, params.get("Transcode"))
                except FileNotFoundError:
                    # Deleted since the job was asked: Orthanc counts it failed and goes on.
                    logger.warning("An instance was removed after the job was issued: %s", instance.public_id)
                    failed += 1
                    continue
                with contextlib.closing(body):
                    size += client.post_instance(opened, peer, body, params.get("Compress", False))[1]
                progress(done + 1, len(instances))
    except client.PeerError as error:
        logger.warning("Job %s (%s) failed: %s", job.id, TYPE, error)
        raise jobs.JobFailed(str(error), content(peer, params, len(instances), failed, size)) from error
    answer = content(peer, params, len(instances), failed, size)
    if failed and not params.get("Permissive"):
        raise jobs.JobFailed(f"{failed} of {len(instances)} instances could not be sent to {peer.name}", answer)
    return answer
