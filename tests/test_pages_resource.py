"""A resource's page (explorer.pages.resource): its modules, breadcrumbs and actions, on every level."""

from datetime import timedelta

import pytest
from django.utils import timezone

from explorer.models import Series, Study
from explorer.pages.formatting import NOT_DICOM_DATE, format_moment
from explorer.pages.resource import series_fields, stability_fields
from tests.conftest import CT_SMALL_IDS
from tests.page_helpers import sample_with, store

pytestmark = pytest.mark.django_db

CT_PATIENT, CT_STUDY, CT_SERIES, CT_INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))


def test_the_patient_page(browser, samples, django_assert_max_num_queries):
    # One reads the user's rights (explorer/rights_backend.py); three record the view in the audit
    # trail (its insert, in a savepoint of its own); three read the Send control's destinations,
    # one per kind (modalities, DICOMweb servers, peers), whatever their number.
    with django_assert_max_num_queries(12):
        response = browser.get(f"/ui/patients/{CT_PATIENT}")
    assert response.status_code == 200
    html = response.content.decode()
    page = response.context["page"]
    assert [crumb.level for crumb in page.breadcrumbs] == ["Patient"]
    fields = {f.label: f.value for f in page.modules[0].fields}
    assert fields["Patient Name"] == "CompressedSamples, CT1"
    assert fields["Patient ID"] == "1CT1"
    assert fields["Patient Sex"] == "Other"
    assert [s.description for s in response.context["studies"]] == ["e+1"]
    assert f'href="/patients/{CT_PATIENT}/archive"' in html
    assert f'href="/ui/patients/{CT_PATIENT}/delete"' in html
    # The place where "Send to modality" will go: an include every resource page renders.
    assert "explorer/_send_action.html" in [t.name for t in response.templates]


def test_every_sample_renders_on_every_level(browser, samples):
    for patient, study, series, instance in samples.values():
        for path in (
            f"/ui/patients/{patient}",
            f"/ui/studies/{study}",
            f"/ui/series/{series}",
            f"/ui/instances/{instance}",
        ):
            assert browser.get(path).status_code == 200, path


def test_unknown_resources_are_a_404_page(browser):
    for path in (
        "/ui/patients/nope",
        "/ui/studies/nope",
        "/ui/series/nope",
        "/ui/instances/nope",
        "/ui/series/nope/delete",
    ):
        response = browser.get(path)
        assert response.status_code == 404
        assert b"It may have been deleted" in response.content
        level = path.split("/")[2].rstrip("s").replace("serie", "series").replace("studie", "study")
        assert f"<title>No such {level} · Pharos</title>" in response.content.decode()
        assert f"Pharos holds no {level} with the id <code>nope</code>" in response.content.decode()


def fields_of(response):
    """{label: Field} of the page's own module."""
    return {f.label: f for f in response.context["page"].modules[-1].fields}


def test_study_and_series_pages_say_whether_they_are_stable(browser, samples, settings):
    settings.PHAROS_STABLE_AGE = 60
    for url in (f"/ui/studies/{CT_STUDY}", f"/ui/series/{CT_SERIES}"):
        fields = fields_of(browser.get(url))
        assert fields["State"].value == "Receiving"
        assert fields["State"].note == "An instance arrived less than 60 seconds ago: more may follow."
        assert fields["Last instance received"].value  # "4 Dec 2026 12:35:02"
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Study.objects.filter(public_id=CT_STUDY).update(last_update=an_hour_ago)
    response = browser.get(f"/ui/studies/{CT_STUDY}")
    fields = fields_of(response)
    assert fields["State"].value == "Stable"
    assert fields["Last instance received"].value == format_moment(an_hour_ago)
    html = response.content.decode()
    assert '<span class="noted" title="No new instance has arrived for 60 seconds or more.">Stable' in html


def test_stability_is_read_against_the_stable_age(settings):
    settings.PHAROS_STABLE_AGE = 30
    now = timezone.now()
    assert stability_fields(Study(last_update=now - timedelta(seconds=29)), now)[0].value == "Receiving"
    assert stability_fields(Study(last_update=now - timedelta(seconds=30)), now)[0].value == "Stable"


def test_the_series_status_is_explained():
    announced = Series(main_tags={"ImagesInAcquisition": "3", "NumberOfTemporalPositions": "1"})
    status, count = series_fields(announced, [1, 2, 3])
    assert (status.value, count.value) == ("Complete", "3 / 3")
    assert status.note == "Every one of the 3 instances the series' tags announce is here."
    status, _ = series_fields(announced, [1, 3])
    assert (status.value, status.note) == (
        "Missing",
        "The series' tags announce 3 instances; 2 are here, some are still missing.",
    )
    assert series_fields(announced, [1, 1, 2])[0].value == "Inconsistent"
    status, count = series_fields(Series(main_tags={}), [None])
    assert (status.value, count.value) == ("Unknown", "1")
    assert "do not say how many instances it has" in status.note


def test_the_series_page_explains_its_status_in_a_tooltip(browser, samples):
    html = browser.get(f"/ui/series/{CT_SERIES}").content.decode()
    note = "The series&#x27; tags do not say how many instances it has"
    assert f'<dt>Status</dt><dd><span class="noted" title="{note}' in html
    assert f'<span class="visually-hidden"> ({note}' in html


def test_a_main_tag_date_that_is_not_a_dicom_date_is_marked(browser, samples):
    ids = store(sample_with("CT_small.dcm", StudyDate="19.01.2004", PatientID="OLD-DATE")).ids
    response = browser.get(f"/ui/studies/{ids[1]}")
    date = fields_of(response)["Study Date"]
    assert (date.value, date.note, date.mark) == ("19.01.2004", NOT_DICOM_DATE, "?")
    assert '<span class="value-mark" aria-hidden="true">?</span>' in response.content.decode()
    assert fields_of(browser.get(f"/ui/studies/{CT_STUDY}"))["Study Date"].note == ""
