"""Every route requires a user: HTTP Basic for API clients, a session for browsers."""

import json
import time
from datetime import timedelta

import pytest
from django.test import Client, RequestFactory

from explorer import auth
from explorer.auth import PUBLIC_PREFIXES
from tests.conftest import CT_SMALL, basic_header, dicom_bytes, upload
from tests.pharos_server import Server, request
from tests.route_table import routes

pytestmark = pytest.mark.django_db


def sample_paths():
    """A concrete path for every URL pattern, parameters filled with a dummy value."""
    return (path for _, path in routes())


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


# --- failed logins: refused for a while after too many (django-axes) -------------------------


@pytest.fixture
def three_failures(settings):
    settings.AXES_FAILURE_LIMIT = 3
    return 3


def a_while_later():
    """The cool-off passed: the failures recorded are moved back beyond it."""
    from axes.models import AccessAttempt
    from django.conf import settings
    from django.utils import timezone

    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))


def test_failed_form_logins_lock_the_user_out_for_a_while(user, three_failures, caplog):
    browser = Client()
    assert [log_in(browser, "guess").status_code for _ in range(three_failures)] == [200, 200, 429]
    refused = log_in(browser, "wonderland")  # even the right password, for the cool-off
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.content.decode()
    assert "_auth_user_id" not in browser.session
    assert any("AXES: Locking out" in record.getMessage() for record in caplog.records)
    a_while_later()
    assert log_in(browser, "wonderland").status_code == 302


def test_a_lock_out_is_of_one_user_at_one_address(user, django_user_model, three_failures):
    django_user_model.objects.create_user("bob", password="builder")
    for _ in range(three_failures):
        log_in(Client(), "guess")
    assert log_in(Client(), "builder", username="bob").status_code == 302
    assert log_in(Client(REMOTE_ADDR="10.1.2.3"), "wonderland").status_code == 302
    assert log_in(Client(), "wonderland").status_code == 429


def test_failed_admin_logins_lock_out_too(user, three_failures):
    browser = Client()
    answers = [browser.post("/admin/login/", {"username": "alice", "password": "guess"}) for _ in range(three_failures)]
    assert answers[-1].status_code == 429


def test_failed_basic_logins_lock_out_with_a_json_error_and_no_user(user, three_failures):
    wrong = Client(HTTP_AUTHORIZATION=basic_header("alice", "guess"))
    assert [wrong.get("/system").status_code for _ in range(three_failures)] == [401, 401, 429]
    refused = Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland")).get("/system")
    assert refused.status_code == 429
    error = refused.json()
    assert (error["HttpStatus"], error["Uri"]) == (429, "/system")
    assert "Too many failed logins" in error["Details"] and "15 minutes" in error["Details"]
    assert refused["Retry-After"] == "900"
    assert "Version" not in error  # no answer of the route itself
    a_while_later()
    assert Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland")).get("/system").status_code == 200


def test_a_recognised_basic_client_is_not_counted_again(user, monkeypatch):
    from axes.handlers.proxy import AxesProxyHandler

    checks = []
    real = AxesProxyHandler.is_allowed
    monkeypatch.setattr(AxesProxyHandler, "is_allowed", lambda *args: checks.append(1) or real(*args))
    client = Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland"))
    for _ in range(5):
        assert client.get("/system").status_code == 200
    assert checks == [1]


def test_the_settings_give_the_limit_and_the_cool_off_to_a_real_server(tmp_path):
    server = Server(tmp_path / "data", "lighthouse", PHAROS_LOGIN_FAILURE_LIMIT="2", PHAROS_LOGIN_COOLOFF_MINUTES="3")
    try:
        assert [request(server.port, "/system", "guess")[0] for _ in range(2)] == [401, 429]
        status, headers, body = request(server.port, "/system", "lighthouse")
        assert (status, headers["Retry-After"]) == (429, "180")
        assert "try again in 3 minutes" in json.loads(body)["Details"]
    finally:
        server.stop()
    assert "AXES: Locking out" in server.log()
