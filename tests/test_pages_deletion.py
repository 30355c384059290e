"""Deleting from the pages (explorer.pages.deletion): confirm first, with the CSRF token,
then go to what remains above."""

import re

import pytest
from django.test import Client

from explorer.models import Patient, Series, Study
from tests.conftest import CT_SMALL_IDS

pytestmark = pytest.mark.django_db

CT_PATIENT, CT_STUDY, CT_SERIES, CT_INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))


def csrf_token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def csrf_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_deleting_a_series_asks_first_then_goes_to_its_study(user, brain_study):
    client = csrf_client(user)
    series_id = brain_study["series"][2]
    confirmation = client.get(f"/ui/series/{series_id}/delete")
    assert confirmation.status_code == 200
    html = confirmation.content.decode()
    assert "Delete this series?" in html and "2 instances" in html
    assert client.post(f"/ui/series/{series_id}/delete").status_code == 403  # no token
    assert Series.objects.filter(public_id=series_id).exists()
    response = client.post(f"/ui/series/{series_id}/delete", {"csrfmiddlewaretoken": csrf_token(html)})
    assert response.status_code == 302
    assert response["Location"] == f"/ui/studies/{brain_study['study']}"
    assert not Series.objects.filter(public_id=series_id).exists()
    assert Series.objects.filter(study__public_id=brain_study["study"]).count() == 2
    followed = client.get(response["Location"])
    assert "was deleted" in followed.content.decode()


def test_deleting_the_last_instance_climbs_to_what_remains(user, samples):
    client = csrf_client(user)
    html = client.get(f"/ui/instances/{CT_INSTANCE}").content.decode()
    assert 'id="delete-dialog"' in html  # the in-page confirmation posts the same form
    response = client.post(f"/ui/instances/{CT_INSTANCE}/delete", {"csrfmiddlewaretoken": csrf_token(html)})
    # The instance was its patient's only one: patient, study and series went with it.
    assert response["Location"] == "/ui/patients"
    assert not Patient.objects.filter(public_id=CT_PATIENT).exists()
    assert not Study.objects.filter(public_id=CT_STUDY).exists()


def test_deleting_a_patient(user, samples):
    client = csrf_client(user)
    patient_id = samples["MR_small.dcm"][0]
    html = client.get(f"/ui/patients/{patient_id}/delete").content.decode()
    assert "1 study" in html
    response = client.post(f"/ui/patients/{patient_id}/delete", {"csrfmiddlewaretoken": csrf_token(html)})
    assert response["Location"] == "/ui/patients"
    assert Patient.objects.count() == 3


def test_a_delete_needs_a_post(browser, samples):
    assert browser.delete(f"/ui/series/{CT_SERIES}/delete").status_code == 405
    assert Series.objects.filter(public_id=CT_SERIES).exists()
