"""The index in the admin pages is read-only: removing a resource removes its file too, which only
the explorer and the REST API do."""

import pytest

from explorer import storage
from explorer.models import Change, Instance, Patient, Series, Study
from tests.conftest import CT_SMALL, dicom_bytes, upload

INDEX = [Patient, Study, Series, Instance, Change]


@pytest.fixture
def stored(api):
    assert upload(api, dicom_bytes(CT_SMALL)).status_code == 200
    return Instance.objects.get()


def admin_url(model, *parts):
    return "/".join(["", "admin", "explorer", model._meta.model_name, *parts, ""])


@pytest.mark.parametrize("model", INDEX, ids=lambda model: model.__name__)
def test_an_administrator_sees_the_index_but_cannot_change_it(admin_client, stored, model):
    row = model.objects.first()
    assert admin_client.get(admin_url(model)).status_code == 200
    page = admin_client.get(admin_url(model, str(row.pk), "change"))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content and b"deletelink" not in page.content
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.post(admin_url(model, "add"), {}).status_code == 403
    assert admin_client.post(admin_url(model, str(row.pk), "change"), {}).status_code == 403
    assert admin_client.get(admin_url(model, str(row.pk), "delete")).status_code == 403
    assert admin_client.post(admin_url(model, str(row.pk), "delete"), {"post": "yes"}).status_code == 403
    # The list offers no bulk delete, and asking for it anyway deletes nothing.
    assert b"delete_selected" not in admin_client.get(admin_url(model)).content
    admin_client.post(admin_url(model), {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"})
    assert model.objects.filter(pk=row.pk).exists()
    assert storage.path_for(stored.file_uuid).exists()


def test_deleting_through_the_rest_api_removes_the_file(api, stored, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/instances/{stored.public_id}").status_code == 200
    assert not storage.path_for(stored.file_uuid).exists()


@pytest.mark.django_db
def test_the_admin_pages_carry_the_explorers_icon(admin_client, client):
    # Without a <link rel="icon">, a browser asks for /favicon.ico, which is no route: a 404.
    for page in (admin_client.get("/admin/"), admin_client.get("/admin/auth/user/"), client.get("/admin/login/")):
        assert page.status_code == 200
        html = page.content.decode()
        assert html.count('<link rel="icon" href="data:image/svg+xml,') == 1
        assert "Django administration" in html or "Pharos" in html  # the admin's own template, extended
