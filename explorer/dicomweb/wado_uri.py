"""WADO-URI (PS3.18 9): /wado?requestType=WADO&studyUID=…&seriesUID=…&objectUID=…

As Orthanc's DICOMweb plugin answers it: the instance is found by objectUID, and studyUID and
seriesUID, when given, must be its own (else 404); `contentType` is application/dicom (the
stored file; with `transferSyntax`, transcoded), image/jpeg (the default, also spelt
image/jpg) or image/png, a list of them taking the first Pharos serves. Pictures are drawn as
/rendered draws them (explorer/dicomweb/rendered.py), with PS3.18's `frameNumber` (from 1),
`rows` and `columns` (the largest size, the aspect kept), `windowCenter` and `windowWidth`,
and `imageQuality`.

Where Orthanc answers 404 to a request without requestType=WADO or without objectUID, Pharos
answers 400 and says what is missing; Orthanc also labels its JPEG answers image/png.
"""

from django.http import FileResponse, HttpResponse

from explorer import audit, levels, previews, storage, transcoding
from explorer.dicomweb import rendered
from explorer.dicomweb.resources import check_uid
from explorer.errors import BadRequest, ParameterOutOfRange, UnknownResource
from explorer.models import Instance

DICOM = "application/dicom"
CONTENT_TYPES = {DICOM: DICOM, "image/jpeg": rendered.JPEG, "image/jpg": rendered.JPEG, "image/png": rendered.PNG}


def wado(request):
    query = request.GET
    if query.get("requestType") != "WADO":
        raise BadRequest(f"WADO-URI needs requestType=WADO, not {query.get('requestType', 'none')!r}")
    if not query.get("objectUID"):
        raise BadRequest("WADO-URI needs the objectUID (SOPInstanceUID) of the instance")
    instance = _instance(query)
    media = _content_type(query.get("contentType", ""))
    if media == DICOM:
        return _file(request, instance, query.get("transferSyntax"))
    quality = _number(query, "imageQuality", 1, 100) or previews.JPEG_QUALITY
    options = rendered.Rendering(
        viewport=_size(query), padded=False, smooth=True, window=_window(query), quality=quality
    )
    frame = _number(query, "frameNumber", 1, None) or 1
    return HttpResponse(rendered.picture(instance, frame - 1, options, media), content_type=media)


def _instance(query):
    object_uid = check_uid(query["objectUID"], "objectUID")
    found = Instance.objects.filter(sop_instance_uid=object_uid).select_related("series__study")
    for key, field in (("seriesUID", "series__series_instance_uid"), ("studyUID", "series__study__study_instance_uid")):
        if query.get(key):
            found = found.filter(**{field: check_uid(query[key], key)})
    instance = found.first()
    if instance is None:
        raise UnknownResource(f"No instance {object_uid} is stored in the study and series named")
    return instance


def _content_type(text):
    """The first content type of the list that Pharos serves; JPEG when none is named."""
    named = [entry.split(";")[0].strip().lower() for entry in text.split(",") if entry.strip()]
    if not named:
        return rendered.JPEG
    for media in named:
        if media in CONTENT_TYPES:
            return CONTENT_TYPES[media]
    raise BadRequest(f"WADO-URI serves application/dicom, image/jpeg and image/png, not {text!r}")


def _file(request, instance, syntax):
    audit.record(audit.DOWNLOAD, request, level=levels.INSTANCE, resource=instance, detail="DICOM file (WADO-URI)")
    if syntax:
        syntax = transcoding.transfer_syntax(syntax)
        if syntax != instance.transfer_syntax_uid:
            data = transcoding.transcoded_file(storage.path_for(instance.file_uuid), syntax)
            return HttpResponse(data, content_type=DICOM)
    return FileResponse(storage.open_file(instance.file_uuid), content_type=DICOM)


def _number(query, name, low, high, kind=int):
    text = query.get(name, "").strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise ParameterOutOfRange(f"{name} must be a number, not {text!r}") from None
    if value < low or (high is not None and value > high):
        raise ParameterOutOfRange(f"{name} is out of range: {text}")
    return value


def _size(query):
    rows = _number(query, "rows", 1, rendered.LARGEST_SIDE)
    columns = _number(query, "columns", 1, rendered.LARGEST_SIDE)
    return None if rows is None and columns is None else (columns, rows)


def _window(query):
    center = _number(query, "windowCenter", float("-inf"), None, float)
    width = _number(query, "windowWidth", 1e-6, None, float)
    if center is None and width is None:
        return None
    return (center, width)
