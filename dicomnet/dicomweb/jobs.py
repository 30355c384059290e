"""STOW-RS to and WADO-RS from a remote DICOMweb server as jobs (dicomnet/jobs.py), the way
DICOM sends are: Orthanc's job types DicomWebStowClient and DicomWebWadoRetrieveClient, with
the content its DICOMweb plugin gives them (counts as strings).

`start_stow`, `start_retrieve` and `start_wado` make the job; `run_now` runs one within the
request (Orthanc's "Synchronous": true), else a worker runs it. A remote failure ends the job
as Failure with the reason in ErrorDetails and Orthanc's FunctionError* keys in its content.
"""

import logging

from django.db import transaction

from dicomnet import jobs
from dicomnet.dicomweb import client, servers, storing
from dicomnet.dicomweb.client import RemoteError
from dicomnet.models import Job
from explorer import audit, storage
from explorer.index import instances_of

logger = logging.getLogger(__name__)

STOW, RETRIEVE = "DicomWebStowClient", "DicomWebWadoRetrieveClient"
MB = 1024 * 1024


def _submit(job_type, parameters, synchronous, priority):
    """The new job: run here and returned finished when `synchronous`, else queued."""
    if synchronous:
        job = Job.objects.create(type=job_type, parameters=parameters, priority=priority)
        return jobs.execute(job.id) or job
    with transaction.atomic():
        return jobs.submit(job_type, parameters, priority)


def _username(user):
    return getattr(user, "username", "") or ""


def start_stow(server, resources, user=None, headers=None, synchronous=False, priority=0):
    """Send these resources (public ids, any level; the caller checked they exist) to the
    server, for this user: the job."""
    audit.record_ids(audit.SEND, None, resources, f"to DICOMweb server {server.name} ({server.url})", user=user)
    parameters = {"Server": server.name, "Resources": list(resources), "HttpHeaders": headers or {}}
    return _submit(STOW, parameters | {"Username": _username(user)}, synchronous, priority)


def resource_uri(study, series=None, instance=None):
    """The WADO-RS URI of a study, a series of it, or an instance of that series."""
    uri = f"/studies/{study}"
    if series:
        uri += f"/series/{series}"
        if instance:
            uri += f"/instances/{instance}"
    return uri


def start_retrieve(server, uris, user=None, arguments=None, headers=None, synchronous=False, priority=0):
    """Pull these WADO-RS URIs (resource_uri) of the server into Pharos, for this user: the job."""
    shown = "; ".join(uris[: audit.NAMED_RESOURCES]) + (" …" if len(uris) > audit.NAMED_RESOURCES else "")
    audit.record(audit.RETRIEVE, user=user, detail=f"WADO-RS from DICOMweb server {server.name}: {shown}")
    parameters = {
        "Server": server.name,
        "Resources": list(uris),
        "Arguments": arguments or {},
        "HttpHeaders": headers or {},
        "Username": _username(user),
    }
    return _submit(RETRIEVE, parameters, synchronous, priority)


def _failed(error, content):
    """JobFailed for a remote error, with the keys Orthanc's plugin puts in the content."""
    content |= {"FunctionErrorCode": jobs.NETWORK_CODE, "FunctionErrorDescription": jobs.NETWORK_TEXT}
    return jobs.JobFailed(str(error), content)


def _batches(instances):
    """The instances in groups of at most STOW_MAX_INSTANCES and about STOW_MAX_SIZE bytes."""
    batch, size = [], 0
    for instance in instances:
        data = storage.read(instance.file_uuid)
        if batch and (len(batch) >= client.STOW_MAX_INSTANCES or size + len(data) > client.STOW_MAX_SIZE):
            yield batch
            batch, size = [], 0
        batch.append(data)
        size += len(data)
    if batch:
        yield batch


@jobs.runner(STOW)
def stow_job(job, progress, should_stop):
    p = job.parameters
    server = servers.get(p["Server"])
    instances = instances_of(p["Resources"])
    sent = network = 0
    content = {"InstancesCount": str(len(instances))}
    for batch in _batches(instances):
        should_stop()
        try:
            client.stow(server, batch, p.get("HttpHeaders"))
        except RemoteError as error:
            logger.warning("Job %s (%s) to %s failed: %s", job.id, STOW, server.name, error)
            raise _failed(error, content | {"NetworkSizeMB": str(network // MB)}) from error
        sent += len(batch)
        network += sum(len(data) for data in batch)
        progress(sent, len(instances))
    return content | {"NetworkSizeMB": str(network // MB)}


@jobs.runner(RETRIEVE)
def retrieve_job(job, progress, should_stop):
    p = job.parameters
    server = servers.get(p["Server"])
    received = storing.receiver(p.get("Username", ""))
    network = 0

    def store(data):
        should_stop()
        received.store(data)

    def content():
        return {"NetworkUsageMB": str(network // MB), "ReceivedInstancesCount": str(len(received.instances))}

    for done, uri in enumerate(p["Resources"]):
        try:
            network += client.retrieve(server, uri, store, p.get("Arguments"), p.get("HttpHeaders"))
        except RemoteError as error:
            logger.warning("Job %s (%s) from %s failed: %s", job.id, RETRIEVE, server.name, error)
            raise _failed(error, content()) from error
        progress(done + 1, len(p["Resources"]))
    if received.refused:
        count = len(received.refused)
        raise jobs.JobFailed(f"{count} retrieved file(s) could not be stored: {received.refused[0]}", content())
    return content()
