"""A resource's page (explorer.pages.resource): its modules, breadcrumbs and actions, on every level."""

import pytest

from tests.conftest import CT_SMALL_IDS

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
