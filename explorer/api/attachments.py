"""GET /{level}/{id}/attachments[/dicom[/…]]: the stored DICOM file as Orthanc's "dicom"
attachment (content type 1), read-only; Pharos keeps no other attachment and never compresses."""

from django.http import FileResponse, HttpResponse

from explorer import levels, storage
from explorer.api.base import flag, json_response
from explorer.api.resources import get_resource
from explorer.errors import InexistentItem

DICOM = "dicom"
DICOM_CONTENT_TYPE = 1
TEXT_VALUES = {
    "md5": lambda instance: instance.file_md5,
    "compressed-md5": lambda instance: instance.file_md5,
    "size": lambda instance: str(instance.file_size),
    "compressed-size": lambda instance: str(instance.file_size),
    "is-compressed": lambda instance: "0",
}
OPERATIONS = sorted([*TEXT_VALUES, "data", "compressed-data", "info"])


def list_attachments(request, level, public_id):
    get_resource(level, public_id)
    names = [DICOM] if level is levels.INSTANCE else []
    if flag(request, "full"):
        return json_response({name: DICOM_CONTENT_TYPE for name in names})
    return json_response(names)


def _dicom_attachment(level, public_id, name):
    resource = get_resource(level, public_id)
    if level is not levels.INSTANCE or name != DICOM:
        raise InexistentItem()
    return resource


def _with_etag(response, instance):
    response["ETag"] = f'"0-{instance.file_md5}"'  # Orthanc's revision 0 and the file's MD5
    return response


def operations(request, level, public_id, name):
    return _with_etag(json_response(OPERATIONS), _dicom_attachment(level, public_id, name))


def attachment(request, level, public_id, name, operation):
    instance = _dicom_attachment(level, public_id, name)
    if operation in ("data", "compressed-data"):
        response = FileResponse(storage.open_file(instance.file_uuid), content_type="application/dicom")
        response["Content-Disposition"] = f'filename="{instance.file_uuid}.dcm"'
    elif operation == "info":
        response = json_response(
            {
                "CompressedMD5": instance.file_md5,
                "CompressedSize": instance.file_size,
                "ContentType": DICOM_CONTENT_TYPE,
                "UncompressedMD5": instance.file_md5,
                "UncompressedSize": instance.file_size,
                "Uuid": str(instance.file_uuid),
            }
        )
    else:
        response = HttpResponse(TEXT_VALUES[operation](instance), content_type="text/plain")
    return _with_etag(response, instance)
