"""What resource pages list below them (explorer.pages.children): a study's series with
their thumbnails, a series' instances, in a number of queries that does not grow with them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pydicom.uid import generate_uid

from explorer.models import Instance
from tests.conftest import make_dicom
from tests.page_helpers import store

pytestmark = pytest.mark.django_db


def test_the_study_page(browser, brain_study, django_assert_max_num_queries):
    # One reads the user's rights (explorer/rights_backend.py); three record the view in the audit
    # trail (its insert, in a savepoint of its own); three read the Send control's destinations,
    # one per kind (modalities, DICOMweb servers, peers).
    with django_assert_max_num_queries(12):
        response = browser.get(f"/ui/studies/{brain_study['study']}")
    assert response.status_code == 200
    page = response.context["page"]
    assert [crumb.label for crumb in page.breadcrumbs] == ["Doe, Jane", "Brain MRI"]
    assert [m.level for m in page.modules] == ["Patient", "Study"]
    study_fields = {f.label: f.value for f in page.modules[1].fields}
    assert study_fields["Study Date"] == "15 Mar 2024"
    assert study_fields["Study Time"] == "10:15:00"
    rows = response.context["series_rows"]
    assert [(r.number, r.modality, r.description, r.instance_count) for r in rows] == [
        ("1", "MR", "Localizer", 1),
        ("2", "SR", "Report", 2),
        ("3", "MR", "T2 axial", 5),
    ]
    # The thumbnail is the middle instance: number 3 of 5, number 1 of 2.
    t2 = Instance.objects.get(series__public_id=brain_study["series"][3], index_in_series=3)
    report = Instance.objects.get(series__public_id=brain_study["series"][2], index_in_series=1)
    assert t2.public_id in rows[2].thumbnail_url and report.public_id in rows[1].thumbnail_url
    html = response.content.decode()
    assert html.count('loading="lazy"') == 3
    assert f'href="/studies/{brain_study["study"]}/archive"' in html


def test_the_series_page(browser, brain_study, django_assert_max_num_queries):
    series_id = brain_study["series"][3]
    # Three of them record the view in the audit trail (its insert, in a savepoint of its own),
    # three read the Send control's destinations, one per kind.
    with django_assert_max_num_queries(11):
        response = browser.get(f"/ui/series/{series_id}")
    assert response.status_code == 200
    instances = response.context["instances"]
    assert [row.number for row in instances] == ["1", "2", "3", "4", "5"]
    assert response.context["start"] == 2
    page = response.context["page"]
    assert [crumb.level for crumb in page.breadcrumbs] == ["Patient", "Study", "Series"]
    series_fields = {f.label: f.value for f in page.modules[2].fields}
    assert series_fields["Status"] == "Unknown" and series_fields["Instances"] == "5"
    html = response.content.decode()
    assert 'id="series-previews"' in html and 'type="range"' in html
    assert f'src="/instances/{instances[2].public_id}/preview?returnUnsupportedImage"' in html


def test_page_queries_do_not_grow_with_the_rows(browser, brain_study):
    def queries(path):
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(path).status_code == 200
        return len(captured)

    before = queries(f"/ui/studies/{brain_study['study']}"), queries(f"/ui/series/{brain_study['series'][3]}")
    for n in range(6, 16):
        series_uid = generate_uid()
        for i in (1, 2):
            store(make_dicom(PatientID="BRAIN-1", PatientName="Doe^Jane", StudyInstanceUID=brain_study["study_uid"],
                             SeriesInstanceUID=series_uid, SeriesNumber=str(n), InstanceNumber=str(i)))
    after = queries(f"/ui/studies/{brain_study['study']}"), queries(f"/ui/series/{brain_study['series'][3]}")
    assert before == after
