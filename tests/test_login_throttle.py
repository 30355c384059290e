"""Failed logins slowed before the lock-out (explorer/login_throttle.py): by the form and by Basic."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from explorer import login_throttle
from tests.conftest import basic_header
from tests.test_auth import log_in


@pytest.fixture
def slow_after_two(settings):
    settings.PHAROS_LOGIN_SLOW_AFTER = 2
    settings.AXES_FAILURE_LIMIT = 10


def the_wait_passed(seconds):
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(seconds=seconds))


def test_the_wait_doubles_with_each_failure_up_to_a_minute(settings):
    settings.PHAROS_LOGIN_SLOW_AFTER = 3
    assert [login_throttle.wait_after(failures) for failures in (0, 2, 3, 4, 5, 9, 30)] == [0, 0, 1, 2, 4, 60, 60]
    settings.PHAROS_LOGIN_SLOW_AFTER = 0
    assert login_throttle.wait_after(30) == 0


def test_form_logins_are_slowed_before_the_lock_out(user, slow_after_two, caplog):
    browser = Client()
    assert [log_in(browser, "guess").status_code for _ in range(2)] == [200, 200]
    slowed = log_in(browser, "wonderland", username="alice")  # not even checked while it waits
    assert slowed.status_code == 429
    assert int(slowed["Retry-After"]) in (1, 2)
    assert "try again in" in slowed.content.decode()
    assert "_auth_user_id" not in browser.session
    assert any("Login of 'alice' from 127.0.0.1 refused" in record.getMessage() for record in caplog.records)
    assert log_in(Client(), "builder", username="bob").status_code == 200  # another user: no wait
    the_wait_passed(2)
    assert log_in(browser, "wonderland").status_code == 302


def test_basic_logins_are_slowed_with_a_json_error(user, slow_after_two):
    wrong = Client(HTTP_AUTHORIZATION=basic_header("alice", "guess"))
    assert [wrong.get("/system").status_code for _ in range(2)] == [401, 401]
    slowed = Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland")).get("/system")
    assert slowed.status_code == 429
    assert "try again in" in slowed.json()["Details"]
    the_wait_passed(2)
    assert wrong.get("/system").status_code == 401  # the third failure: the next waits 2 s
    assert Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland")).get("/system").status_code == 429
    the_wait_passed(3)
    assert Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland")).get("/system").status_code == 200
