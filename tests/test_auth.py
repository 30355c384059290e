"""Every route requires a user: HTTP Basic for API clients, a session for browsers."""

import re
import time

import pytest
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from explorer import auth
from explorer.auth import PUBLIC_PREFIXES
from tests.conftest import CT_SMALL, basic_header, dicom_bytes, upload

pytestmark = pytest.mark.django_db


def sample_paths(patterns=None, prefix=""):
    """A concrete path for every URL pattern, parameters filled with a dummy value."""
    patterns = get_resolver().url_patterns if patterns is None else patterns
    for pattern in patterns:
        text = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from sample_paths(pattern.url_patterns, text)
        elif isinstance(pattern, URLPattern):
            yield "/" + concrete(text)


def concrete(text):
    text = re.sub(r"<(\w+:)?\w+>", "x", text)  # path converters
    text = re.sub(r"\(\?P<\w+>[^)]*\)", "x", text)  # named regex groups
    return text.replace("^", "").replace("$", "").replace("\\", "")


def log_in(browser, password, username="alice"):
    """The login form, as a browser posts it."""
    return browser.post("/login/", {"username": username, "password": password})


def test_no_route_answers_without_credentials(db):
    anonymous = Client()
    paths = sorted(set(sample_paths()))
    assert len(paths) > 40
    for path in paths:
        if path.startswith(PUBLIC_PREFIXES):
            continue
        for method in ("get", "post", "delete"):
            response = getattr(anonymous, method)(path)
            assert response.status_code in (401, 302), f"{method.upper()} {path}: {response.status_code}"
            if response.status_code == 302:
                assert "/login/" in response["Location"]


def test_api_clients_get_a_basic_challenge():
    response = Client().get("/patients")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic realm=")


def test_browsers_are_sent_to_the_login_page():
    response = Client().get("/", HTTP_ACCEPT="text/html")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/")


def test_wrong_credentials_are_refused(user):
    assert Client(HTTP_AUTHORIZATION=basic_header("alice", "nope")).get("/system").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Basic not-base64!").get("/system").status_code == 401


def test_a_changed_password_is_not_remembered(user):
    client = Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland"))
    assert client.get("/system").status_code == 200
    user.set_password("changed")
    user.save()
    assert client.get("/system").status_code == 401


def test_an_inactive_user_is_refused(user):
    user.is_active = False
    user.save()
    assert Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland")).get("/system").status_code == 401


def test_a_logged_in_browser_sees_the_home_page(user):
    browser = Client()
    assert log_in(browser, "wonderland").status_code == 302
    response = browser.get("/", follow=True)
    assert response.redirect_chain == [("/ui/", 302)]
    assert b"Pharos is running" in response.content


def test_browser_posts_need_the_csrf_token(user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert upload(browser, dicom_bytes(CT_SMALL)).status_code == 403


def test_basic_clients_need_no_csrf_token(user):
    api = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=basic_header("alice", "wonderland"))
    assert upload(api, dicom_bytes(CT_SMALL)).status_code == 200


def test_the_login_page_is_public():
    assert Client().get("/login/").status_code == 200


def test_a_deleted_user_is_not_remembered(user):
    client = Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland"))
    assert client.get("/system").status_code == 200
    user.delete()
    assert client.get("/system").status_code == 401


def test_a_user_changed_elsewhere_is_read_again_after_a_while(user, monkeypatch):
    """Another process's change comes through no signal here: the remembered user is
    trusted for USER_SECONDS only, then read again."""
    client = Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland"))
    assert client.get("/system").status_code == 200
    type(user).objects.filter(pk=user.pk).update(is_active=False)  # no post_save signal
    assert client.get("/system").status_code == 200
    later = time.monotonic() + auth.USER_SECONDS + 1
    monkeypatch.setattr(auth.time, "monotonic", lambda: later)
    assert client.get("/system").status_code == 401


def counting_authenticate(monkeypatch, seconds=0):
    """auth.authenticate, counting its calls (each one hashes the password) and taking at
    least `seconds`, as a real password hash does."""
    calls = []
    real = auth.authenticate

    def authenticate(**credentials):
        calls.append(credentials["username"])
        time.sleep(seconds)  # the duration of a real hash is the behaviour under test
        return real(**credentials)

    monkeypatch.setattr(auth, "authenticate", authenticate)
    return calls


def test_a_remembered_client_is_not_checked_again_while_its_password_is_unchanged(user, monkeypatch):
    calls = counting_authenticate(monkeypatch)
    client = Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland"))
    assert client.get("/system").status_code == 200
    an_hour_later = time.monotonic() + 3600
    monkeypatch.setattr(auth.time, "monotonic", lambda: an_hour_later)
    assert client.get("/system").status_code == 200
    assert calls == ["alice"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_check_the_password_once(monkeypatch):
    import threading

    from django.contrib.auth import get_user_model
    from django.db import connection

    get_user_model().objects.create_user("bob", password="builder")
    calls = counting_authenticate(monkeypatch, seconds=0.3)
    header = basic_header("bob", "builder")
    users = []

    def ask():
        request = RequestFactory().get("/system", HTTP_AUTHORIZATION=header)
        users.append(auth.user_from_basic_header(header, request))
        connection.close()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [user.username for user in users] == ["bob"] * 4
    assert calls == ["bob"]
