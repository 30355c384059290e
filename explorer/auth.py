"""Every route requires a user: HTTP Basic for API clients, a session for the browser."""

import base64
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.views import redirect_to_login
from django.db import DatabaseError
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.http import HttpResponse
from django.shortcuts import render

from explorer import audit, login_throttle
from explorer.errors import TooManyFailedLogins

PUBLIC_PREFIXES = ("/login/", "/static/", "/admin/login/")
REALM = 'Basic realm="Pharos Secure Area"'
# Checking a password costs a deliberately slow hash (PBKDF2: about 0.3 s of CPU here). A
# client that sends the same credentials on every request is checked once, then recognised
# by the hash of its header for as long as its user's password hash is unchanged.
# (Forgetting it after five minutes made a busy server hash the password again, in every
# worker thread at once.)
# How long a recognised client's user is trusted without reading it again: a password
# changed or a user deactivated in another process takes effect within this time (in this
# process, at once: saving a user forgets what was remembered). Reading the user on every
# request was a seventh of the cost of an upload.
USER_SECONDS = 5
REMEMBERED_HEADERS = 1000


class _BasicCache:
    def __init__(self):
        self._entries = {}
        self._checks = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            return self._entries.get(key)

    def put(self, key, user):
        with self._lock:
            if len(self._entries) >= REMEMBERED_HEADERS:
                self._entries.clear()
            self._entries[key] = _Remembered(user, user.password, time.monotonic() + USER_SECONDS)

    def checking(self, key):
        """The lock held while a header's password is checked: threads that bring the same
        header meanwhile wait for that answer instead of hashing the password too."""
        with self._lock:
            if len(self._checks) >= REMEMBERED_HEADERS:
                self._checks.clear()
            return self._checks.setdefault(key, threading.Lock())

    def clear(self):
        with self._lock:
            self._entries.clear()


@dataclass
class _Remembered:
    user: object
    password: str  # the hash checked, to notice a change
    user_fresh_until: float


_cache = _BasicCache()


@receiver((post_save, post_delete), sender=settings.AUTH_USER_MODEL)
@receiver(m2m_changed, sender=Group.permissions.through)
@receiver(m2m_changed, sender=Group.user_set.through)
@receiver(m2m_changed, sender=Permission.user_set.through)
def _forget_remembered_users(**kwargs):
    # A user saved, or a group's rights or members changed (the rights are read with the
    # user and kept with it: explorer/rights.py).
    _cache.clear()


def basic_credentials(header):
    """(user name, password) of a Basic Authorization header's value, or None."""
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode("utf-8")
        username, password = decoded.split(":", 1)
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    return username, password


def user_from_basic_header(header, request=None):
    """The active user whose credentials the Authorization header carries, or None.

    A header checked before is recognised without asking the database or the failed-login
    counter (django-axes); a new one goes through authenticate() with the request, which
    counts its failures and refuses it while its user and address are locked out
    (request.axes_locked_out)."""
    credentials = basic_credentials(header)
    if credentials is None:
        return None
    username, password = credentials
    key = hashlib.sha256(header.encode("utf-8")).hexdigest()
    user = _remembered_user(key)
    if user is not None:
        return user
    with _cache.checking(key):
        user = _remembered_user(key)  # checked by another thread while this one waited
        if user is None:
            try:
                wait = login_throttle.seconds_to_wait(request, username)
                if wait:
                    request.login_wait = wait
                    return None
                user = authenticate(request=request, username=username, password=password)
            except DatabaseError as error:
                # Credentials that cannot be checked are refused, as bad ones are: 401, not
                # an error page. (Remembered ones go on, and meet the outage's 503.)
                logging.getLogger(__name__).warning("Cannot check the credentials of %r: %s", username, error)
                return None
            if user is None or not user.is_active:
                return None
            _cache.put(key, user)
            audit.record(audit.LOGIN, user=user, detail="HTTP Basic")  # once: the header is remembered
    return user


def _remembered_user(key):
    """The user of a header checked before, while its password is unchanged; or None."""
    cached = _cache.get(key)
    if cached is None:
        return None
    if cached.user_fresh_until > time.monotonic():
        return cached.user
    user = get_user_model().objects.filter(pk=cached.user.pk, is_active=True).first()
    if user is None or user.password != cached.password:
        return None
    _cache.put(key, user)
    return user


def unauthorized():
    response = HttpResponse(status=401)
    response["WWW-Authenticate"] = REALM
    return response


def locked_out(request):
    """The answer while failed logins lock a user and address out (django-axes): still no user."""
    minutes = settings.PHAROS_LOGIN_COOLOFF_MINUTES
    error = TooManyFailedLogins(
        f"Too many failed logins for this user from this address: try again in {minutes} minutes."
    )
    response = HttpResponse(
        json.dumps(error.body(request.method, request.path), indent="\t", sort_keys=True),
        status=error.http_status,
        content_type="application/json; charset=utf-8",
    )
    response["Retry-After"] = str(minutes * 60)
    return response


def slowed(request, seconds):
    """The answer while the failed logins of a user from an address are slowed (still no user)."""
    error = TooManyFailedLogins(f"Too many failed logins for this user from this address: try again in {seconds} s.")
    if wants_html(request):
        response = render(request, "registration/slowed.html", {"seconds": seconds}, status=error.http_status)
    else:
        response = HttpResponse(
            json.dumps(error.body(request.method, request.path), indent="\t", sort_keys=True),
            status=error.http_status,
            content_type="application/json; charset=utf-8",
        )
    response["Retry-After"] = str(seconds)
    return response


def wants_html(request):
    return "text/html" in request.headers.get("Accept", "")


class RequireLoginMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            user = user_from_basic_header(header, request)
            if user is None:
                if getattr(request, "login_wait", 0):
                    return slowed(request, request.login_wait)
                return locked_out(request) if getattr(request, "axes_locked_out", False) else unauthorized()
            request.user = user
            # Basic credentials are not sent by a browser on its own, so a
            # cross-site request cannot carry them: no CSRF token is needed.
            request._dont_enforce_csrf_checks = True
        elif wait := login_throttle.slowed_form_login(request):
            return slowed(request, wait)
        elif not request.user.is_authenticated and not request.path.startswith(PUBLIC_PREFIXES):
            if wants_html(request):
                return redirect_to_login(request.get_full_path())
            return unauthorized()
        return self.get_response(request)
