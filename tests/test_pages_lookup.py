"""The jump box of the lookup page (explorer.pages.lookup): an identifier leads to what it names."""

import pytest

from explorer.pages.lookup import jump_matches
from tests.conftest import CT_SMALL_IDS, make_dicom
from tests.page_helpers import store

pytestmark = pytest.mark.django_db

CT_PATIENT, CT_STUDY, CT_SERIES, CT_INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))


def lookup(browser, text):
    return browser.get("/ui/", {"q": text})


@pytest.mark.parametrize(
    "identifier, level, public_id",
    [
        ("1CT1", "patients", CT_PATIENT),
        ("1.3.6.1.4.1.5962.1.2.1.20040119072730.12322", "studies", CT_STUDY),
        ("1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322", "series", CT_SERIES),
        ("1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322", "instances", CT_INSTANCE),
        (CT_STUDY, "studies", CT_STUDY),
        (CT_INSTANCE, "instances", CT_INSTANCE),
        (f"  {CT_SERIES} ", "series", CT_SERIES),
    ],
)
def test_lookup_jumps_to_the_one_resource_an_identifier_names(browser, samples, identifier, level, public_id):
    response = lookup(browser, identifier)
    assert response.status_code == 302
    assert response["Location"] == f"/ui/{level}/{public_id}"


def test_lookup_by_accession_number(browser, brain_study):
    response = lookup(browser, "ACC-42")
    assert response["Location"] == f"/ui/studies/{brain_study['study']}"


def test_lookup_lists_several_matches(browser, samples):
    # A study whose accession number is the CT patient's ID: the identifier names two resources.
    other = store(make_dicom(PatientID="OTHER", AccessionNumber="1CT1", StudyDescription="Shared name")).ids
    response = lookup(browser, "1CT1")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/ui/patients/{CT_PATIENT}"' in html
    assert f'href="/ui/studies/{other[1]}"' in html
    assert [m.level for m in jump_matches("1CT1")] == ["Patient", "Study"]


def test_lookup_of_nothing_says_so(browser, samples):
    response = lookup(browser, "no-such-thing")
    assert response.status_code == 200
    assert "Nothing here is identified by" in response.content.decode()


def test_the_latest_studies_say_their_order_and_can_be_ordered_by_study_date(browser, brain_study, samples):
    received = browser.get("/ui/")
    assert received.context["latest_order"] == "last received"
    html = received.content.decode()
    assert "Latest studies <span" in html and "by last received</span>" in html
    assert '<a class="button small-button" href="?latest=date">study date</a>' in html
    emri = samples["emri_small.dcm"][1]  # the last study stored
    assert received.context["latest"][0].public_id == emri

    by_date = browser.get("/ui/", {"latest": "date"})
    assert by_date.context["latest_order"] == "study date"
    rows = by_date.context["latest"]
    assert rows[0].public_id == brain_study["study"]  # 15 Mar 2024, the newest study
    assert '<a class="button small-button" href="?" aria-current="true">' not in by_date.content.decode()
    assert 'href="?latest=date" aria-current="true">study date</a>' in by_date.content.decode()
    # An unknown order is the default one.
    assert browser.get("/ui/", {"latest": "x"}).context["latest_order"] == "last received"


def test_the_lookup_form_explains_the_dicom_name_order(browser):
    html = browser.get("/ui/").content.decode()
    assert 'aria-describedby="id_patient_name_helptext"' in html
    # Under the box it explains.
    assert '<div class="helptext" id="id_patient_name_helptext">DICOM writes names Family^Given (DOE^JOHN)' in html
    assert html.index('id="id_patient_name"') < html.index('id="id_patient_name_helptext"')
