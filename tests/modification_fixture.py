"""Writes tests/orthanc_modification.json from a running Orthanc 1.10.1, for instance
`/work/shared/tools/reference-orthanc start`:

    DJANGO_SETTINGS_MODULE=explorer.settings PYTHONPATH=$PWD .venv/bin/python -m tests.modification_fixture http://127.0.0.1:8243

Each file is uploaded, and each body is posted to /instances/{id}/modify or /anonymize; the answer
is summed up as tests/modification_cases.classify does. The error bodies are posted to the
routes of the first instance and of its parents."""

import io
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import django
import pydicom

FILES = [
    "CT_small.dcm",
    "MR_small.dcm",
    "test-SR.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm",
    "US1_UNCR.dcm",
    "rtstruct.dcm",
    "rtplan.dcm",
    "rtdose.dcm",
]
OPS = [
    ("anonymize", {}),
    ("anonymize", {"DicomVersion": "2017c"}),
    ("anonymize", {"DicomVersion": "2008"}),
    (
        "anonymize",
        {
            "KeepPrivateTags": True,
            "Keep": ["StudyDescription", "SeriesDescription"],
            "Replace": {"PatientName": "hello", "0010-0020": "world"},
            "Remove": ["Modality"],
            "Force": True,
        },
    ),
    ("anonymize", {"Keep": ["StudyInstanceUID", "ReferencedImageSequence"], "Force": True}),
    ("anonymize", {"Keep": ["ContentSequence"], "KeepPrivateTags": True}),
    ("anonymize", {"Replace": {"StudyInstanceUID": "1.2.3.9", "SOPInstanceUID": "1.2.3.10"}, "Force": True}),
    (
        "modify",
        {"Replace": {"PatientName": "Zoë", "0029,1031": "abc"}, "Remove": ["6000,3000"], "RemovePrivateTags": True},
    ),
    ("modify", {"Replace": {"PatientName": "Doe^Jane", "InstitutionName": "Pharos"}, "Remove": ["StationName"]}),
    ("modify", {"Replace": {"StudyInstanceUID": "1.2.3.4", "StudyDescription": "x"}, "Force": True}),
    ("modify", {"Replace": {"SeriesInstanceUID": "1.2.3.5"}, "Force": True}),
    ("modify", {"Replace": {"PatientID": "new-id"}, "Force": True}),
    ("modify", {"RemovePrivateTags": True, "Keep": ["SOPInstanceUID"], "Force": True}),
    (
        "modify",
        {
            "Replace": {
                "ReferencedImageSequence[*].ReferencedSOPInstanceUID": "1.2.3.6",
                "ReferencedStudySequence": [{"ReferencedSOPClassUID": "1.2.3", "ReferencedSOPInstanceUID": "1.2.3.7"}],
                "PatientComments": None,
                "0018,0050": "2.5",
            },
            "Remove": ["ReferencedImageSequence[0].ReferencedSOPClassUID", "ContentSequence[*].ContentSequence"],
        },
    ),
]

ERRORS = [
    ("instances", "modify", {"Replace": {"StudyInstanceUID": "1.2"}}),
    ("instances", "modify", {"Remove": ["SOPInstanceUID"]}),
    ("instances", "modify", {"Keep": ["SeriesInstanceUID"]}),
    ("instances", "modify", {"Replace": {"PatientID": "x"}}),
    ("instances", "modify", {"Force": 1}),
    ("instances", "modify", {"RemovePrivateTags": "yes"}),
    ("instances", "modify", {"Replace": ["PatientName"]}),
    ("instances", "modify", {"Remove": "PatientName"}),
    ("instances", "modify", {"Replace": {"NoSuchTag": "x"}}),
    ("instances", "modify", {"Replace": {"PatientName": 3}}),
    ("instances", "modify", {"Replace": {"PatientName": ["x"]}}),
    ("instances", "modify", {"Replace": {"Seq[x].PatientName": "x"}}),
    ("instances", "modify", {"Replace": {"ReferencedImageSequence.PatientName": "x"}}),
    ("instances", "modify", {"Transcode": "1.2.3"}),
    ("instances", "modify", {"Transcode": 3}),
    ("instances", "modify", {"PrivateCreator": 3}),
    ("instances", "modify", []),
    ("instances", "anonymize", {"DicomVersion": "2000"}),
    ("instances", "anonymize", {"DicomVersion": 2021}),
    ("instances", "anonymize", {"KeepPrivateTags": "true"}),
    ("instances", "anonymize", {"Replace": {"PatientID": "x"}}),
    ("instances", "anonymize", {"Keep": ["StudyInstanceUID"]}),
    ("instances", "anonymize", {"Remove": ["PatientID"], "Force": True}),
    ("instances", "anonymize", []),
    ("series", "modify", {"Replace": {"PatientID": "x"}, "Force": True}),
    ("series", "modify", {"Replace": {"StudyInstanceUID": "1.2"}, "Force": True}),
    ("studies", "modify", {"Replace": {"PatientID": "x"}, "Force": True}),
    ("patients", "modify", {"Replace": {"PatientName": "x"}}),
    ("series", "modify", {"Asynchronous": "yes"}),
    ("series", "modify", {"Priority": "high"}),
    ("series", "modify", {"Permissive": 1}),
    ("series", "modify", {"KeepSource": 1}),
]


def call(base, method, path, body=None):
    data = body if isinstance(body, bytes) else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def changes(base):
    from tests.modification_cases import NESTED, classify, flatten, source

    found = []
    for name in [*FILES, NESTED]:
        data = source(name)
        instance = json.loads(call(base, "POST", "/instances", data)[1])["ID"]
        before = flatten(pydicom.dcmread(io.BytesIO(data)))
        for op, body in OPS:
            status, answer = call(base, "POST", f"/instances/{instance}/{op}", body)
            case = {"file": name, "op": op, "body": body, "status": status}
            if status != 200:
                found.append(case | {"error": json.loads(answer)})
                continue
            result = pydicom.dcmread(io.BytesIO(answer))
            meta_follows = result.file_meta.MediaStorageSOPInstanceUID == result.SOPInstanceUID
            summed_up = classify(before, flatten(result))
            for kind in ("added", "replaced"):
                # The DeidentificationMethod names the software that applied the profile.
                summed_up[kind] = {p: v.replace("Orthanc 1.10.1", "Pharos") for p, v in summed_up[kind].items()}
            found.append(case | {"meta_follows": meta_follows} | summed_up)
    return found


def errors(base):
    instance = json.loads(call(base, "GET", "/instances")[1])[0]
    ids = {"instances": instance}
    for level, relation in (("series", "series"), ("studies", "study"), ("patients", "patient")):
        ids[level] = json.loads(call(base, "GET", f"/instances/{instance}/{relation}")[1])["ID"]
    found = []
    for level, op, body in ERRORS:
        status, answer = call(base, "POST", f"/{level}/{ids[level]}/{op}", body)
        shown = None
        if status != 200:
            whole = json.loads(answer)
            keys = ("HttpStatus", "Details", "Message", "OrthancError", "OrthancStatus")
            shown = {key: whole[key] for key in keys if key in whole}
        found.append({"level": level, "op": op, "body": body, "status": status, "answer": shown})
    return found


def main(base):
    django.setup()
    target = Path(__file__).parent / "orthanc_modification.json"
    about = json.loads(target.read_text())["about"]
    rows = [json.dumps(case, sort_keys=True, ensure_ascii=False) for case in changes(base)]
    refusals = [json.dumps(case, sort_keys=True) for case in errors(base)]
    text = "{\n" + f' "about": {json.dumps(about)},\n "changes": [\n  ' + ",\n  ".join(rows)
    text += '\n ],\n "errors": [\n  ' + ",\n  ".join(refusals) + "\n ]\n}\n"
    target.write_text(text)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8243")
