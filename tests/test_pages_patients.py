"""The patient list (explorer.pages.patients): sorted, filtered, paged in the database."""

import pytest

from explorer.pages.formatting import NOT_DICOM_DATE
from explorer.pages.patients import patient_listing
from tests.conftest import CT_SMALL_IDS
from tests.page_helpers import many_studies, sample_with, store

pytestmark = pytest.mark.django_db

CT_PATIENT = CT_SMALL_IDS["patient"]


def test_the_patient_list(browser, samples, brain_study):
    response = browser.get("/ui/patients")
    assert response.status_code == 200
    html = response.content.decode()
    assert "CompressedSamples, CT1" in html
    assert "Doe, Jane" in html
    assert f'href="/ui/patients/{CT_PATIENT}"' in html
    listing = response.context["listing"]
    assert listing.total == 5
    names = [row.name for row in listing.rows]
    assert names == sorted(names)  # by name by default
    jane = next(row for row in listing.rows if row.patient_id == "BRAIN-1")
    assert (jane.birth_date, jane.sex, jane.study_count) == ("2 Apr 1970", "Female", 1)


def test_patients_are_sorted_by_any_column(browser, samples):
    by_id = patient_listing({"sort": "id"})
    assert [row.patient_id for row in by_id.rows] == sorted(row.patient_id for row in by_id.rows)
    reverse = patient_listing({"sort": "-id"})
    assert [row.patient_id for row in reverse.rows] == [row.patient_id for row in by_id.rows][::-1]
    header = next(column for column in by_id.columns if column.key == "id")
    assert header.direction == "ascending" and header.url == "?sort=-id"
    assert patient_listing({"sort": "nonsense"}).sort == "name"


def test_patients_are_filtered(browser, samples, brain_study):
    def ids(**params):
        return [row.patient_id for row in patient_listing(params).rows]

    assert ids(patient_name="compressed") == ["1CT1", "4MR1"]
    assert ids(patient_name="Compressed*CT?") == ["1CT1"]
    assert ids(patient_name="jane doe") == ["BRAIN-1"]  # typed Given Family: tried as Family^Given
    assert ids(patient_name="doe jane") == ["BRAIN-1"]
    assert ids(patient_id="4mr1") == ["4MR1"]
    assert ids(patient_id="4MR") == []  # IDs are exact…
    assert ids(patient_id="4M*") == ["4MR1"]  # …unless a wildcard says otherwise
    assert ids(birth_date="1970-04-02") == ["BRAIN-1"]
    html = browser.get("/ui/patients", {"patient_name": "doe"}).content.decode()
    assert "1 patient match the filters" in html or "1 patient matches the filters" in html


def test_the_patient_list_is_paged_in_the_database(browser, django_assert_max_num_queries):
    many_studies(60)
    with django_assert_max_num_queries(6):
        first = browser.get("/ui/patients")
    assert len(first.context["listing"].rows) == 50
    second = browser.get("/ui/patients", {"page": 2, "sort": "-name"})
    rows = second.context["listing"].rows
    assert len(rows) == 10
    assert rows[0].patient_id == "P009" and rows[-1].patient_id == "P000"
    html = second.content.decode()
    assert 'href="?page=1&amp;sort=-name"' in html or 'href="?sort=-name&amp;page=1"' in html


def test_a_birth_date_that_is_not_a_dicom_date_is_shown_as_written_and_marked(browser):
    store(sample_with("CT_small.dcm", PatientBirthDate="1970", PatientID="YEAR-ONLY"))
    response = browser.get("/ui/patients")
    [row] = response.context["listing"].rows
    assert (row.birth_date, row.birth_date_note) == ("1970", NOT_DICOM_DATE)
    assert f'<span class="noted" title="{NOT_DICOM_DATE}">1970<span class="value-mark"' in response.content.decode()


def test_an_invalid_birth_date_filter_shows_its_error_alone(browser, samples):
    html = browser.get("/ui/patients", {"birth_date": "1970-02-31"}).content.decode()
    assert "Enter a valid date" in html
    assert "No patient" not in html and "0 patients" not in html
    html = browser.get("/ui/patients", {"patient_id": "NOWHERE"}).content.decode()
    assert "No patient matches these filters." in html and "stored yet" not in html
