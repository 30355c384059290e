"""GET /series/{id}/ordered-slices (explorer/slices.py): the answers Orthanc 1.10.1 gives on the same files."""

import pytest
from pydicom.uid import generate_uid

from tests.conftest import make_dicom, upload

pytestmark = pytest.mark.django_db

AXIAL = [1, 0, 0, 0, 1, 0]


def series_of(api, *files):
    """Upload `files` (one series); their instance ids in upload order, and the series id."""
    answers = [upload(api, data).json() for data in files]
    return [a["ID"] for a in answers], answers[0]["ParentSeries"]


@pytest.fixture
def uids():
    return {"StudyInstanceUID": generate_uid(), "SeriesInstanceUID": generate_uid()}


def test_slices_on_one_plane_orientation_are_ordered_along_its_normal(api, uids):
    (middle, top, bottom), series = series_of(
        api,
        make_dicom(InstanceNumber=2, ImagePositionPatient=[0, 0, 5], ImageOrientationPatient=AXIAL, **uids),
        make_dicom(
            InstanceNumber=1, ImagePositionPatient=[0, 0, 10], ImageOrientationPatient=AXIAL, NumberOfFrames=2, **uids
        ),
        make_dicom(InstanceNumber=3, ImagePositionPatient=[0, 0, -1], ImageOrientationPatient=AXIAL, **uids),
    )
    assert api.get(f"/series/{series}/ordered-slices").json() == {
        "Dicom": [f"/instances/{i}/file" for i in (bottom, middle, top)],
        "Slices": [
            f"/instances/{bottom}/frames/0",
            f"/instances/{middle}/frames/0",
            f"/instances/{top}/frames/0",
            f"/instances/{top}/frames/1",
        ],
        "SlicesShort": [[bottom, 0, 1], [middle, 0, 1], [top, 0, 2]],
        "Type": "Volume",
    }


def test_slices_at_one_position_are_ordered_by_index_in_series(api, uids):
    (second, first), series = series_of(
        api,
        make_dicom(InstanceNumber=2, ImagePositionPatient=[0, 0, 5], ImageOrientationPatient=AXIAL, **uids),
        make_dicom(InstanceNumber=1, ImagePositionPatient=[0, 0, 5], ImageOrientationPatient=AXIAL, **uids),
    )
    answer = api.get(f"/series/{series}/ordered-slices").json()
    assert (answer["SlicesShort"], answer["Type"]) == ([[first, 0, 1], [second, 0, 1]], "Sequence")


def test_slices_with_neither_position_nor_index_cannot_be_ordered(api, uids):
    _, series = series_of(api, make_dicom(**uids), make_dicom(**uids))
    response = api.get(f"/series/{series}/ordered-slices")
    assert response.status_code == 500
    assert response.json() | {"Method": None, "Uri": None} == {
        "Details": f"Unable to order the slices of series {series}",
        "HttpError": "Internal Server Error",
        "HttpStatus": 500,
        "Message": "Unable to order the slices of the series",
        "Method": None,
        "OrthancError": "Unable to order the slices of the series",
        "OrthancStatus": 2040,
        "Uri": None,
    }
