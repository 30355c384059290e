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
    viewer = response.context["viewer"]
    assert viewer.start == 2 and viewer.current["label"] == "Instance 3"
    page = response.context["page"]
    assert [crumb.level for crumb in page.breadcrumbs] == ["Patient", "Study", "Series"]
    series_fields = {f.label: f.value for f in page.modules[2].fields}
    assert series_fields["Status"] == "Unknown" and series_fields["Instances"] == "5"
    html = response.content.decode()
    assert 'id="series-previews"' in html and 'type="range"' in html
    middle = instances[2].public_id
    assert f'src="/instances/{middle}/rendered?max-size=768&amp;smooth&amp;returnUnsupportedImage"' in html
    assert f'href="/instances/{middle}/rendered?returnUnsupportedImage"' in html  # its full size


def test_page_queries_do_not_grow_with_the_rows(browser, brain_study):
    def queries(path):
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(path).status_code == 200
        return len(captured)

    before = queries(f"/ui/studies/{brain_study['study']}"), queries(f"/ui/series/{brain_study['series'][3]}")
    for n in range(6, 16):
        series_uid = generate_uid()
        for i in (1, 2):
            store(
                make_dicom(
                    PatientID="BRAIN-1",
                    PatientName="Doe^Jane",
                    StudyInstanceUID=brain_study["study_uid"],
                    SeriesInstanceUID=series_uid,
                    SeriesNumber=str(n),
                    InstanceNumber=str(i),
                )
            )
    after = queries(f"/ui/studies/{brain_study['study']}"), queries(f"/ui/series/{brain_study['series'][3]}")
    assert before == after


# ---------------------------------------------------------------- filters, pages, presets


def test_a_studys_series_are_filtered_by_description_modality_or_number(browser, brain_study):
    path = f"/ui/studies/{brain_study['study']}"

    def shown(text):
        response = browser.get(path, {"filter": text})
        return [row.description for row in response.context["series_rows"]]

    assert shown("axial") == ["T2 axial"]
    assert shown("sr") == ["Report"]
    assert shown("MR") == ["Localizer", "T2 axial"]
    assert shown("2") == ["Report", "T2 axial"]  # series 2, and "T2"
    html = browser.get(path, {"filter": "nothing"}).content.decode()
    assert "No series of this study matches “nothing”" in html
    assert 'value="nothing"' in html and 'aria-label="Filter the series"' in html


def test_a_patients_studies_are_filtered_by_description_or_date(browser, django_assert_max_num_queries):
    from explorer.models import Patient

    for description, day in (("Head CT", "20230105"), ("Chest X-ray", "20240315"), ("Head MR", "20240320")):
        store(make_dicom(PatientID="P-F", StudyDescription=description, StudyDate=day))
    path = f"/ui/patients/{Patient.objects.get(patient_id='P-F').public_id}"

    def shown(text):
        with django_assert_max_num_queries(12):  # the patient page's budget (tests/test_pages_resource.py)
            response = browser.get(path, {"filter": text})
        return sorted(row.description for row in response.context["studies"])

    assert shown("head") == ["Head CT", "Head MR"]
    assert shown("2024") == ["Chest X-ray", "Head MR"]
    assert shown("2024-03-20") == ["Head MR"]
    assert shown("20230105") == ["Head CT"]
    assert shown("") == ["Chest X-ray", "Head CT", "Head MR"]
    assert "No study of this patient matches" in browser.get(path, {"filter": "knee"}).content.decode()


def long_series(count):
    series_uid, study_uid = generate_uid(), generate_uid()
    for number in range(count, 0, -1):
        ids = store(make_dicom(StudyInstanceUID=study_uid, SeriesInstanceUID=series_uid, InstanceNumber=str(number)))
    return ids.ids[2]


def test_a_long_series_is_paged_and_filtered_by_instance_number(browser, django_assert_max_num_queries):
    series_id = long_series(120)
    path = f"/ui/series/{series_id}"
    with django_assert_max_num_queries(11):
        response = browser.get(path)
    listing = response.context["listing"]
    assert [row.number for row in listing.rows] == [str(n) for n in range(1, 51)]
    assert listing.page.paginator.num_pages == 3 and listing.next_url == "?page=2"
    assert len(response.context["viewer"].frames) == 120  # the viewer steps through all of them
    html = response.content.decode()
    assert html.count('class="row-link"') == 50 and 'rel="next"' in html

    third = browser.get(path, {"page": "3"}).context["listing"]
    assert [row.number for row in third.rows] == [str(n) for n in range(101, 121)]
    # A filter by number, or by range, keeps the pages of what it found.
    assert [row.number for row in browser.get(path, {"filter": "42"}).context["listing"].rows] == ["42"]
    ranged = browser.get(path, {"filter": "10-70", "window": "lung"})
    assert [row.number for row in ranged.context["listing"].rows] == [str(n) for n in range(10, 60)]
    assert ranged.context["listing"].next_url == "?filter=10-70&window=lung&page=2"
    assert ranged.context["listing"].total == 61
    assert "61 of 120" in ranged.content.decode()
    empty = browser.get(path, {"filter": "500"})
    assert "No instance of this series matches “500”" in empty.content.decode()


def test_the_series_viewer_draws_with_the_chosen_preset(browser, brain_study):
    response = browser.get(f"/ui/series/{brain_study['series'][3]}", {"window": "brain"})
    viewer = response.context["viewer"]
    assert viewer.src.endswith("&returnUnsupportedImage&window-center=40&window-width=80")
    assert "window" not in viewer.frames[0]["url"]  # the viewer appends the chosen preset's query
    assert viewer.link.endswith("?window=brain") and viewer.full_size_url.endswith("&window-width=80")
    html = response.content.decode()
    assert '<option value="brain" data-query="&amp;window-center=40&amp;window-width=80" selected>' in html
    assert html.count("?window=brain") >= 6  # the instance links keep it


def test_instance_numbers_and_ranges():
    from explorer.pages.children import number_range

    assert number_range("12") == (12, 12)
    assert number_range("20 - 10") == (10, 20)
    assert number_range("5..7") == (5, 7)
    assert number_range("axial") is None
