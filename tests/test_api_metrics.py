"""GET /tools/metrics-prometheus (dicomnet/api/metrics.py): Orthanc's gauge names and format."""

import pytest

from dicomnet.models import Job
from tests.conftest import CT_SMALL, dicom_bytes, upload

pytestmark = pytest.mark.django_db


def test_the_index_and_the_jobs_as_prometheus_gauges(api):
    upload(api, dicom_bytes(CT_SMALL))
    for state in (Job.SUCCESS, Job.SUCCESS, Job.FAILURE, Job.PENDING):
        Job.objects.create(type="DicomModalityStore", state=state)
    response = api.get("/tools/metrics-prometheus")
    assert response["Content-Type"] == "text/plain; version=0.0.4"
    lines = [line.split(" ") for line in response.content.decode().splitlines()]
    assert all(len(line) == 3 and line[2].isdigit() for line in lines)  # name, value, time in ms
    assert {name: value for name, value, _ in lines} == {
        "orthanc_count_instances": "1",
        "orthanc_count_patients": "1",
        "orthanc_count_series": "1",
        "orthanc_count_studies": "1",
        "orthanc_disk_size_mb": "0.03738975525",
        "orthanc_jobs_completed": "3",
        "orthanc_jobs_failed": "1",
        "orthanc_jobs_pending": "1",
        "orthanc_jobs_running": "0",
        "orthanc_jobs_success": "2",
        "orthanc_uncompressed_size_mb": "0.03738975525",
    }
    assert api.get("/tools/metrics").content == b"1"
