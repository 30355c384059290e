"""Roles and rights (explorer/rights.py): every route declares the right each method needs, and
each group gets what the rights table gives it, walked over the whole route table."""

import re
from pathlib import Path

import django.contrib.auth
import pytest
from django.contrib.auth.context_processors import PermWrapper
from django.contrib.auth.models import Group, Permission
from django.template.loader import render_to_string
from django.test import Client
from django.urls import resolve

from explorer import rights
from tests.conftest import CT_SMALL_IDS, basic_header
from tests.route_table import routes

pytestmark = pytest.mark.django_db

PASSWORD = "right-and-wrong"
README = Path(__file__).resolve().parent.parent / "README.md"
# Routes that are not ours to guard: the login and logout pages are public, the Django admin
# (and RQ's queues inside it) checks staff status and its own model permissions, and the
# last route only passes a loosely spelled path on to the REST route it names, which checks.
GUARDED_ELSEWHERE = re.compile(r"^/(login/|logout/|admin/|x$)")
ROLES = ("nobody", *rights.GROUPS, "superuser")


def guarded_routes():
    """{path: {method: right}} for every route this project guards."""
    found = {}
    for _, path in routes():
        if GUARDED_ELSEWHERE.match(path):
            continue
        found[path] = getattr(resolve(path).func, "rights", None)
    return found


def make_user(django_user_model, role):
    if role == "superuser":
        return django_user_model.objects.create_superuser(role, password=PASSWORD)
    user = django_user_model.objects.create_user(role, password=PASSWORD)
    if role in rights.GROUPS:
        user.groups.add(rights.group_named(role))
    return user


def may(role, right):
    return role == "superuser" or role in right.groups


def test_every_route_declares_the_right_of_each_method():
    declared = guarded_routes()
    assert len(declared) > 150
    assert [path for path, needs in declared.items() if not needs] == []
    for path, needs in declared.items():
        assert all(isinstance(right, rights.Right) for right in needs.values()), path


def test_a_rest_handler_without_its_right_cannot_be_routed():
    from django.core.exceptions import ImproperlyConfigured

    from explorer.api import system
    from explorer.api.base import endpoint

    with pytest.raises(ImproperlyConfigured, match="DELETE"):
        endpoint(GET=rights.VIEW(system.changes), DELETE=system.clear_changes)
    with pytest.raises(ImproperlyConfigured):
        rights.page(lambda request: None, {"GET": "view"})


def test_the_rest_api_is_method_aware():
    needs = resolve("/modalities/x").func.rights
    assert (needs["GET"], needs["PUT"], needs["DELETE"]) == (rights.VIEW, rights.MODALITIES, rights.MODALITIES)
    assert resolve("/changes").func.rights == {"GET": rights.VIEW, "DELETE": rights.CLEAR_CHANGES}
    assert resolve("/instances").func.rights == {"GET": rights.VIEW, "POST": rights.UPLOAD}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_allowed_and_refused_on_every_route(role, django_user_model):
    user = make_user(django_user_model, role)
    api = Client(HTTP_AUTHORIZATION=basic_header(role, PASSWORD), raise_request_exception=False)
    browser = Client(raise_request_exception=False)
    browser.force_login(user)
    wrong = []
    for path, needs in guarded_routes().items():
        is_page = "*" in needs
        client = browser if is_page else api
        for method in ("GET", "POST") if is_page else needs:
            right = rights.needed(needs, method)
            response = client.generic(method, path)
            refused = response.status_code == 403
            if refused == may(role, right):
                wrong.append(f"{method} {path} ({right.name}): {response.status_code}")
            elif refused and not is_page:
                assert response.json()["HttpStatus"] == 403
                assert f"“{right.name}”" in response.json()["Details"]
            elif refused:
                assert b"Not allowed" in response.content
    assert wrong == []


def test_the_groups_have_the_rights_of_the_table():
    for group_name in rights.GROUPS:
        group = Group.objects.get(name=group_name)
        granted = set(group.permissions.filter(content_type__model=rights.MODEL).values_list("codename", flat=True))
        assert granted == {right.name for right in rights.RIGHTS if group_name in right.groups}, group_name
    administrator = Group.objects.get(name=rights.ADMINISTRATOR)
    others = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in administrator.permissions.exclude(content_type__model=rights.MODEL)
    }
    assert others == set(rights.USERS.admin_permissions + rights.MODALITIES.admin_permissions)


def test_the_administration_pages_name_each_right_by_its_meaning():
    """The names Django stored for the permissions follow the table, including the ones a
    later migration reworded (Django never renames a permission itself)."""
    stored = dict(Permission.objects.filter(content_type__model=rights.MODEL).values_list("codename", "name"))
    assert stored == {right.name: right.meaning for right in rights.RIGHTS}


def test_a_right_taken_from_a_group_in_the_admin_is_refused(django_user_model):
    make_user(django_user_model, rights.OPERATOR)
    api = Client(HTTP_AUTHORIZATION=basic_header(rights.OPERATOR, PASSWORD))
    operators = Group.objects.get(name=rights.OPERATOR)
    operators.permissions.remove(operators.permissions.get(codename=rights.UPLOAD.name))
    response = api.post("/instances", data=b"", content_type="application/dicom")
    assert response.status_code == 403


def test_a_new_user_has_no_right_until_put_in_a_group(django_user_model):
    django_user_model.objects.create_user("newcomer", password=PASSWORD)
    api = Client(HTTP_AUTHORIZATION=basic_header("newcomer", PASSWORD))
    response = api.get("/patients")
    assert response.status_code == 403
    assert response.json()["Message"] == "Access to a resource is forbidden"
    assert "Ask an administrator" in response.json()["Details"]


def test_the_readme_shows_the_rights_table():
    assert rights.markdown_table() in README.read_text()


def logged_in(django_user_model, role):
    browser = Client()
    browser.force_login(make_user(django_user_model, role))
    return browser


def test_the_explorer_hides_what_a_viewer_may_not_do(ct, django_user_model):
    page = logged_in(django_user_model, rights.VIEWER).get(f"/ui/studies/{CT_SMALL_IDS['study']}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Download ZIP" in html
    for hidden in ("/delete", "/send", 'href="/ui/upload"', 'href="/ui/query-retrieve"'):
        assert hidden not in html, hidden


def test_the_explorer_shows_an_operator_upload_send_and_query_but_not_delete(ct, django_user_model):
    html = logged_in(django_user_model, rights.OPERATOR).get(f"/ui/studies/{CT_SMALL_IDS['study']}").content.decode()
    assert 'href="/ui/upload"' in html and 'href="/ui/query-retrieve"' in html and "send-action" in html
    assert "/delete" not in html


def test_the_explorer_shows_an_administrator_the_delete_button(ct, django_user_model):
    html = (
        logged_in(django_user_model, rights.ADMINISTRATOR).get(f"/ui/studies/{CT_SMALL_IDS['study']}").content.decode()
    )
    assert f"/ui/studies/{CT_SMALL_IDS['study']}/delete" in html


def test_a_refused_page_says_which_right_is_missing(django_user_model):
    page = logged_in(django_user_model, rights.VIEWER).get("/ui/upload")
    assert page.status_code == 403
    assert "“upload”" in page.content.decode()


def test_job_buttons_are_hidden_without_the_jobs_right(django_user_model):
    job = {"actions": [{"name": "cancel", "label": "Cancel", "url": "/ui/jobs/1/cancel"}], "type_label": "Store"}
    viewer = make_user(django_user_model, rights.VIEWER)
    operator = make_user(django_user_model, rights.OPERATOR)
    context = {"job": job, "next": "/ui/jobs"}

    assert "Cancel" not in render_to_string("dicomnet/_job_actions.html", context | {"perms": PermWrapper(viewer)})
    assert "Cancel" in render_to_string("dicomnet/_job_actions.html", context | {"perms": PermWrapper(operator)})


@pytest.mark.django_db(transaction=True)
def test_the_users_of_an_existing_installation_become_administrators():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("explorer", "0005_stability")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    users = django.contrib.auth.get_user_model().objects  # auth's tables are the same before
    Group.objects.all().delete()
    users.create_user("radiologist")
    users.create_superuser("root")
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    finally:
        MigrationExecutor(connection).migrate(latest)
    assert [group.name for group in users.get(username="radiologist").groups.all()] == [rights.ADMINISTRATOR]
    assert not users.get(username="root").groups.exists()  # a superuser already has every right
    test_the_groups_have_the_rights_of_the_table()


def test_a_users_rights_are_read_in_one_query(django_user_model, django_assert_num_queries):
    make_user(django_user_model, rights.OPERATOR)
    operator = django_user_model.objects.get(username=rights.OPERATOR)
    operator.user_permissions.add(Permission.objects.get(codename=rights.DELETE.name))  # given to the user alone
    operator = django_user_model.objects.get(username=rights.OPERATOR)
    with django_assert_num_queries(1):
        assert rights.allows(operator, rights.UPLOAD) and rights.allows(operator, rights.DELETE)
        assert not rights.allows(operator, rights.SETTINGS)


def test_a_right_taken_away_is_refused_at_once_to_a_recognised_api_client(django_user_model):
    make_user(django_user_model, rights.OPERATOR)
    api = Client(HTTP_AUTHORIZATION=basic_header(rights.OPERATOR, PASSWORD))
    assert api.get("/patients").status_code == 200  # recognised from now on (explorer/auth.py)
    operators = Group.objects.get(name=rights.OPERATOR)
    operators.permissions.remove(operators.permissions.get(codename=rights.VIEW.name))
    assert api.get("/patients").status_code == 403
    operators.user_set.clear()
    operators.permissions.add(Permission.objects.get(codename=rights.VIEW.name))
    assert api.get("/patients").status_code == 403
