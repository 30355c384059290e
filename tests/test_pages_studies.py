"""The study list (explorer.pages.studies): filtered, sorted, paged with few queries."""

from datetime import date

import pytest

from explorer import levels, query
from explorer.pages.formatting import NOT_DICOM_DATE
from explorer.pages.studies import study_listing
from tests.page_helpers import many_studies, sample_with, store

pytestmark = pytest.mark.django_db


def test_the_study_list(browser, samples, brain_study):
    response = browser.get("/ui/studies")
    assert response.status_code == 200
    listing = response.context["listing"]
    assert listing.total == 5
    dates = [row.date for row in listing.rows]
    assert dates[0] == "15 Mar 2024"  # newest first
    brain = listing.rows[0]
    assert (brain.description, brain.patient_name, brain.accession_number) == ("Brain MRI", "Doe, Jane", "ACC-42")
    assert (brain.modalities, brain.series_count, brain.instance_count) == (("MR", "SR"), 3, 8)
    assert brain.time == "10:15"
    html = response.content.decode()
    assert f'href="/ui/studies/{brain_study["study"]}"' in html
    assert f'href="/ui/patients/{brain_study["patient"]}"' in html


def test_studies_are_filtered(browser, samples, brain_study):
    def descriptions(**params):
        return sorted(row.description or row.patient_id for row in study_listing(params, today=date(2024, 3, 20)).rows)

    assert descriptions(accession_number="ACC-42") == ["Brain MRI"]
    assert descriptions(accession_number="acc*") == ["Brain MRI"]
    assert descriptions(study_description="brain") == ["Brain MRI"]
    assert descriptions(modality="sr") == ["Brain MRI"]
    assert descriptions(modality="CT") == ["e+1"]
    assert descriptions(patient_name="samples") == ["4MR1", "e+1"]
    assert descriptions(patient_id="id00001") == ["id00001"]
    assert descriptions(study_date="last7") == ["Brain MRI"]
    assert descriptions(study_date="yesterday") == []
    assert descriptions(study_date="range", date_from="2003-01-01", date_to="2004-01-31") == ["e+1", "id00001"]
    assert descriptions(study_date="range", date_to="2001-01-01") == [""]  # emri_small, whose IDs are empty


def test_invalid_filters_show_the_form_again(browser, samples):
    response = browser.get("/ui/studies", {"study_date": "range", "date_from": "2024-02-01", "date_to": "2024-01-01"})
    assert response.status_code == 200
    assert response.context["listing"].rows == []
    assert "comes after the last one" in response.content.decode()


def test_studies_are_sorted(browser, samples, brain_study):
    def order(sort):
        return [row.patient_id for row in study_listing({"sort": sort}).rows]

    assert order("date") == ["", "id00001", "1CT1", "4MR1", "BRAIN-1"]
    assert order("-date") == order("date")[::-1]
    assert order("patientid") == sorted(order("patientid"))
    assert order("accession")[-1] == "BRAIN-1"


def test_the_study_list_is_paged_with_few_queries(browser, django_assert_max_num_queries):
    many_studies(60)
    # Session, user, count, page, counts of the page: whatever the number of studies.
    with django_assert_max_num_queries(6):
        response = browser.get("/ui/studies", {"modality": "CT", "sort": "-date"})
    listing = response.context["listing"]
    assert listing.total == 60 and len(listing.rows) == 50
    assert listing.rows[0].description == "Study 059"
    assert all(row.modalities == ("CT", "PT") and row.series_count == 2 for row in listing.rows)
    with django_assert_max_num_queries(6):
        last = browser.get("/ui/studies", {"page": "2", "modality": "CT", "sort": "-date"})
    assert [row.description for row in last.context["listing"].rows][-1] == "Study 000"
    html = last.content.decode()
    assert 'rel="prev"' in html and 'rel="next"' not in html


def test_a_page_number_out_of_range_shows_the_last_page(browser):
    many_studies(3)
    assert len(browser.get("/ui/studies", {"page": "99"}).context["listing"].rows) == 3


def test_a_name_is_found_in_either_order_of_its_components(german_names):
    def names(text):
        return sorted(row.patient_name for row in study_listing({"patient_name": text}).rows)

    both = ["MÜLLER, JÜRGEN", "Müller, Jürgen"]
    assert names("müller jürgen") == both  # as DICOM orders it, case ignored beyond ASCII
    assert names("jürgen müller") == both  # Given Family, tried as Family^Given
    assert names("Jürgen, MÜLLER") == both
    assert names("rüdiger äneas") == ["Äneas, Rüdiger"]
    assert names("jurgen muller") == []  # accents are letters of their own, as in REST /tools/find
    assert names("jürgen rüdiger") == []  # the words still all match


def test_a_wildcard_inside_a_word_matches_as_a_plain_word_does(german_names):
    def names(text):
        return sorted(row.patient_name for row in study_listing({"patient_name": text}).rows)

    both = ["MÜLLER, JÜRGEN", "Müller, Jürgen"]
    assert names("ller") == names("M*ller") == names("m?ller") == both
    assert names("j*rgen m*ller") == names("m*ller j*rgen") == both
    assert names("müll*") == both
    assert names("R*diger") == ["Äneas, Rüdiger"]
    # REST /tools/find (and C-FIND) keep DICOM's wildcards, anchored at both ends: the leniency
    # is the explorer form's.
    assert query.find(levels.STUDY, {"PatientName": "M*ller"}) == []
    assert len(query.find(levels.STUDY, {"PatientName": "M*ller^*"})) == 2


def test_a_date_that_is_not_a_dicom_date_is_shown_as_written_and_marked(browser):
    store(sample_with("CT_small.dcm", StudyDate="2004.01.19", PatientID="OLD-DATE"))
    store(sample_with("CT_small.dcm", StudyDate="20040119", PatientID="DICOM-DATE"))
    response = browser.get("/ui/studies", {"sort": "patientid"})
    rows = {row.patient_id: row for row in response.context["listing"].rows}
    assert (rows["OLD-DATE"].date, rows["OLD-DATE"].date_note) == ("2004.01.19", NOT_DICOM_DATE)
    assert (rows["DICOM-DATE"].date, rows["DICOM-DATE"].date_note) == ("19 Jan 2004", "")
    html = response.content.decode()
    mark = '<span class="value-mark" aria-hidden="true">?</span>'
    assert f'<span class="noted" title="{NOT_DICOM_DATE}">2004.01.19{mark}' in html
    assert html.count('class="value-mark"') == 1


@pytest.mark.parametrize(
    "params, error",
    [
        ({"study_date": "range", "date_from": "2024-02-01", "date_to": "2024-01-01"}, "comes after the last one"),
        ({"study_date": "range", "date_from": "2024-13-45"}, "Enter a valid date"),
    ],
)
def test_an_invalid_date_filter_shows_its_error_alone(browser, samples, params, error):
    html = browser.get("/ui/studies", params).content.decode()
    assert error in html
    assert "No study" not in html and "0 studies" not in html


def test_the_empty_state_is_for_an_empty_server_alone(browser, samples):
    html = browser.get("/ui/studies", {"accession_number": "NOWHERE"}).content.decode()
    assert "No study matches these filters." in html and "stored yet" not in html


def test_an_empty_server_says_no_study_is_stored_yet(browser):
    html = browser.get("/ui/studies").content.decode()
    assert "No study is stored yet." in html
    html = browser.get("/ui/studies", {"study_date": "range", "date_from": "2024-13-45"}).content.decode()
    assert "No study" not in html
