"""The export log (dicomnet/exports.py, GET/DELETE /exports): what Orthanc 1.10.1 with
LogExportedResources logs for the same sends of CT_small and MR_small, and how it pages."""

import json
import re

import pytest

from dicomnet import jobs
from dicomnet.models import Export, Job
from explorer.ingest import Origin, store_instance
from tests.conftest import CT_SMALL_IDS, dicom_bytes
from tests.dicom_peers import free_port, modality

# A job run closes old connections (as in a worker): the tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

CT_STUDY, CT_PATIENT = CT_SMALL_IDS["study"], CT_SMALL_IDS["patient"]
MR_INSTANCE = "2f859814-2cf8fe4f-c7963e7d-d32c018d-66fc8cfa"
MR_SERIES = "211fb9b0-46831f91-29422fb0-3d1353fd-1a2228a9"

# Orthanc's GET /exports after the three sends of test_sends_are_logged_as_orthanc_logs_them.
ORTHANC_EXPORTS = [
    {
        "ID": CT_STUDY,
        "Path": f"/studies/{CT_STUDY}",
        "PatientID": "1CT1",
        "RemoteModality": "collector",
        "ResourceType": "Study",
        "Seq": 1,
        "StudyInstanceUID": "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
    },
    {
        "ID": CT_PATIENT,
        "Path": f"/patients/{CT_PATIENT}",
        "PatientID": "1CT1",
        "RemoteModality": "collector",
        "ResourceType": "Patient",
        "Seq": 2,
    },
    {
        "ID": MR_INSTANCE,
        "Path": f"/instances/{MR_INSTANCE}",
        "PatientID": "4MR1",
        "RemoteModality": "collector",
        "ResourceType": "Instance",
        "SOPInstanceUID": "1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457",
        "Seq": 3,
        "SeriesInstanceUID": "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457",
        "StudyInstanceUID": "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457",
    },
    {  # a send that failed is logged all the same
        "ID": MR_SERIES,
        "Path": f"/series/{MR_SERIES}",
        "PatientID": "4MR1",
        "RemoteModality": "dead",
        "ResourceType": "Series",
        "Seq": 4,
        "SeriesInstanceUID": "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457",
        "StudyInstanceUID": "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457",
    },
]


@pytest.fixture
def stored():
    for name in ("CT_small.dcm", "MR_small.dcm"):
        store_instance(dicom_bytes(name), Origin())


@pytest.fixture
def logging_on(settings):
    settings.PHAROS_LOG_EXPORTED_RESOURCES = True


def store(api, name, body):
    return api.post(f"/modalities/{name}/store", data=json.dumps(body), content_type="application/json")


def exports(api, query=""):
    response = api.get(f"/exports{query}")
    assert response.status_code == 200, response.content
    answer = response.json()
    for export in answer["Exports"]:
        assert re.fullmatch(r"\d{8}T\d{6}", export.pop("Date"))
    return answer


@pytest.fixture
def sent(api, stored, logging_on, collector):
    """The three sends; the Seq before the first (PostgreSQL's sequences go on from test to test)."""
    modality("COLLECTOR", collector.port)
    modality("DEAD", free_port())  # nothing listens there
    assert store(api, "collector", CT_STUDY).status_code == 200
    assert store(api, "collector", [CT_PATIENT, MR_INSTANCE]).status_code == 200
    assert store(api, "dead", {"Resources": [MR_SERIES]}).status_code == 500
    return Export.objects.order_by("id").first().id - 1


def orthanc(before, first=0, last=4):
    """Orthanc's entries first..last-1, numbered after `before`."""
    return [export | {"Seq": export["Seq"] + before} for export in ORTHANC_EXPORTS[first:last]]


def test_sends_are_logged_as_orthanc_logs_them(api, sent):
    assert exports(api, f"?since={sent}") == {"Done": True, "Exports": orthanc(sent), "Last": sent + 4}
    if sent == 0:
        assert exports(api) == {"Done": True, "Exports": ORTHANC_EXPORTS, "Last": 4}


def test_a_job_run_again_is_not_logged_again(api, sent):
    failed = Job.objects.get(parameters__Modality="dead")
    jobs.resubmit(failed)
    jobs.run(failed.id)
    assert Job.objects.get(pk=failed.pk).state == Job.FAILURE
    assert exports(api, f"?since={sent}")["Last"] == sent + 4


def test_the_log_pages_as_orthancs(api, sent):
    second = {"Done": False, "Exports": orthanc(sent, 1, 2), "Last": sent + 2}
    assert exports(api, f"?since={sent + 1}&limit=1") == second
    assert exports(api, "?limit=1") == {"Done": False, "Exports": orthanc(sent, 0, 1), "Last": sent + 1}  # since 0
    assert exports(api, f"?since={sent + 2}") == {"Done": True, "Exports": orthanc(sent, 2), "Last": sent + 4}
    assert exports(api, "?since=0&limit=0") == {"Done": False, "Exports": [], "Last": 0}
    # Past the end Orthanc answers `since` as Last.
    assert exports(api, f"?since={sent + 50}&limit=10") == {"Done": True, "Exports": [], "Last": sent + 50}
    assert exports(api, "?last") == {"Done": True, "Exports": orthanc(sent, 3), "Last": sent + 4}


def test_delete_empties_the_log(api, sent):
    response = api.delete("/exports")
    assert (response.status_code, response["Content-Type"], response.content) == (200, "text/plain", b"")
    assert exports(api) == {"Done": True, "Exports": [], "Last": 0}
    assert exports(api, "?last") == {"Done": True, "Exports": [], "Last": 0}


def test_nothing_is_logged_unless_asked(api, stored, collector):
    modality("COLLECTOR", collector.port)
    assert store(api, "collector", CT_STUDY).status_code == 200
    assert exports(api) == {"Done": True, "Exports": [], "Last": 0}
    assert not Export.objects.exists()
