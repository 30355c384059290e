"""GET /{level}/{id}/metadata[/{name}]: the metadata Orthanc records for each resource,
answered from the index (no user metadata: nothing can be written here yet), in Orthanc's
order (its metadata numbers)."""

import hashlib

import pydicom
from django.http import HttpResponse

from explorer import levels, storage
from explorer.api.base import flag, json_response, timestamp
from explorer.api.resources import get_resource
from explorer.errors import InexistentItem

PIXEL_DATA = "7FE00010"


def _pixel_data_offset(instance):
    """Where the top-level Pixel Data element starts in the file, as Orthanc records it;
    pydicom stops reading (and rewinds) at that element's tag."""
    with storage.open_file(instance.file_uuid) as handle:
        pydicom.dcmread(handle, stop_before_pixels=True)
        return handle.tell()


def _instance_metadata(instance):
    # Orthanc's order: its metadata numbers (IndexInSeries = 1, ReceptionDate = 2, …).
    found = {}
    if instance.index_in_series is not None:
        found["IndexInSeries"] = lambda: str(instance.index_in_series)
    found["ReceptionDate"] = lambda: timestamp(instance.received_at)
    found["RemoteAET"] = lambda: instance.remote_aet
    found |= _links(instance)
    found["Origin"] = lambda: instance.origin
    if instance.transfer_syntax_uid:
        found["TransferSyntax"] = lambda: instance.transfer_syntax_uid
    if instance.sop_class_uid:
        found["SopClassUid"] = lambda: instance.sop_class_uid
    # Orthanc knows the peer's address for DICOM and REST arrivals, the called AE title
    # for DICOM ones and the user for REST ones.
    if instance.origin in ("DicomProtocol", "RestApi"):
        found["RemoteIP"] = lambda: instance.remote_ip
    if instance.origin == "DicomProtocol":
        found["CalledAET"] = lambda: instance.called_aet
    if instance.origin == "RestApi":
        found["HttpUsername"] = lambda: instance.http_username
    if PIXEL_DATA in instance.dataset:
        found["PixelDataOffset"] = lambda: str(_pixel_data_offset(instance))
    return found


def _links(resource):
    """ModifiedFrom and AnonymizedFrom (Orthanc's metadata 5 and 6), when the resource has them."""
    found = {}
    if resource.modified_from:
        found["ModifiedFrom"] = lambda: resource.modified_from
    if resource.anonymized_from:
        found["AnonymizedFrom"] = lambda: resource.anonymized_from
    return found


def _series_metadata(series):
    latest = series.instances.order_by("-received_at", "-id").first()
    return {
        "RemoteAET": lambda: latest.remote_aet if latest else "",
        **_links(series),
        "LastUpdate": lambda: timestamp(series.last_update),
    }


def metadata_of(level, resource):
    """{name: function giving the value}: values are computed only when asked for."""
    if level is levels.INSTANCE:
        return _instance_metadata(resource)
    if level is levels.SERIES:
        return _series_metadata(resource)
    return _links(resource) | {"LastUpdate": lambda: timestamp(resource.last_update)}


def list_metadata(request, level, public_id):
    """GET …/metadata: the names, or with ?expand the names and values."""
    found = metadata_of(level, get_resource(level, public_id))
    if flag(request, "expand"):
        return json_response({name: value() for name, value in found.items()})
    return json_response(list(found))


def show_metadata(request, level, public_id, name):
    """GET …/metadata/{name}: the value as plain text, with Orthanc's ETag (revision 0)."""
    found = metadata_of(level, get_resource(level, public_id))
    if name not in found:
        raise InexistentItem()
    value = found[name]()
    response = HttpResponse(value, content_type="text/plain")
    response["ETag"] = f'"0-{hashlib.md5(value.encode()).hexdigest()}"'
    return response
