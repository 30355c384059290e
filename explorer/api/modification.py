"""POST /instances/{id}/modify and /anonymize: the changed file as the answer, nothing stored
(Orthanc's AnonymizeOrModifyInstance). The resource routes, which store, are jobs."""

import pydicom
from django.http import HttpResponse

from explorer import audit, index, levels, storage
from explorer.api.base import json_body
from explorer.errors import UnknownResource
from explorer.modification import Modification
from explorer.transcoding import to_bytes, transcode


def modify_instance(request, public_id):
    modification = Modification.from_modify_body(None, json_body(request))
    return _changed_file(request, public_id, modification, "modified copy downloaded")


def anonymize_instance(request, public_id):
    body = json_body(request)
    if isinstance(body, dict) and index.get(levels.INSTANCE, public_id) is None:
        raise UnknownResource()  # before the anonymization counter moves
    modification = Modification.from_anonymize_body(levels.INSTANCE, body)
    return _changed_file(request, public_id, modification, "anonymized copy downloaded")


def _changed_file(request, public_id, modification, detail):
    instance = index.get(levels.INSTANCE, public_id)
    if instance is None:
        raise UnknownResource()
    with storage.open_file(instance.file_uuid) as source:
        dataset = pydicom.dcmread(source)
    modification.apply(dataset)
    if modification.transcode:
        transcode(dataset, modification.transcode)
    answer = to_bytes(dataset)
    audit.modified(request, levels.INSTANCE, instance, detail=detail)
    return HttpResponse(answer, content_type="application/dicom")
