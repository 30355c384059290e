"""The explorer's views (/ui/…) with Django's test client: who may see them, the top bar
and the login, the lookup page."""

import pytest
from django.test import Client

from explorer.models import Series
from tests.conftest import CT_SMALL_IDS

pytestmark = pytest.mark.django_db

CT_PATIENT, CT_STUDY, CT_SERIES, CT_INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))


# ---------------------------------------------------------------- access


def test_anonymous_browsers_are_sent_to_the_login_page(samples):
    anonymous = Client()
    for path in ("/", "/ui/", "/ui/patients", "/ui/studies", f"/ui/studies/{CT_STUDY}", f"/ui/instances/{CT_INSTANCE}"):
        response = anonymous.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/?next="), path
    assert anonymous.post(f"/ui/series/{CT_SERIES}/delete", HTTP_ACCEPT="text/html").status_code == 302
    assert Series.objects.filter(public_id=CT_SERIES).exists()


def test_the_root_leads_to_the_lookup_page(browser):
    response = browser.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/ui/"


def test_the_top_bar(browser, user):
    html = browser.get("/ui/").content.decode()
    for href in ('href="/ui/"', 'href="/ui/patients"', 'href="/ui/studies"', 'href="/ui/upload"',
                 'href="/ui/query-retrieve"', 'href="/ui/jobs"'):
        assert href in html
    assert "alice" in html and 'action="/logout/"' in html
    assert "/admin/" not in html
    user.is_staff = True
    user.save()
    html = browser.get("/ui/").content.decode()
    assert 'href="/admin/"' in html and 'href="/admin/queues/"' in html


def test_the_login_page_still_works(user):
    client = Client()
    page = client.get("/login/?next=/ui/studies")
    assert page.status_code == 200
    response = client.post("/login/", {"username": "alice", "password": "wonderland", "next": "/ui/studies"})
    assert response.status_code == 302 and response["Location"] == "/ui/studies"


def test_log_out_goes_back_to_the_login_page(browser):
    response = browser.post("/logout/", {"next": "/login/"})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert browser.get("/ui/", HTTP_ACCEPT="text/html").status_code == 302


# ---------------------------------------------------------------- lookup page


def test_the_lookup_page(browser, samples):
    response = browser.get("/ui/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'action="/ui/studies"' in html
    for label in ("Patient ID", "Patient name", "Accession number", "Study description", "Study date", "Modality"):
        assert f">{label}</" in html
    for preset in ("Any date", "Today", "Yesterday", "Last 7 days", "Last 31 days", "Last 3 months", "Last year"):
        assert f">{preset}</option>" in html
    assert "Pharos is running" in html
