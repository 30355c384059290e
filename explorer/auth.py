"""Every route requires a user: HTTP Basic for API clients, a session for the browser."""

import base64
import hashlib
import threading
import time

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse

PUBLIC_PREFIXES = ("/login/", "/static/", "/admin/login/")
REALM = 'Basic realm="Pharos Secure Area"'
# Checking a password costs a deliberately slow hash; a client that sends the
# same credentials on every request is checked once, then recognised by the
# hash of its header for a while, as long as the password is unchanged.
CACHE_SECONDS = 300


class _BasicCache:
    def __init__(self):
        self._entries = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._entries.get(key)
        if entry and entry[2] > time.monotonic():
            return entry
        return None

    def put(self, key, user):
        with self._lock:
            if len(self._entries) > 1000:
                self._entries.clear()
            self._entries[key] = (user.pk, user.password, time.monotonic() + CACHE_SECONDS)


_cache = _BasicCache()


def user_from_basic_header(header):
    """The active user whose credentials the Authorization header carries, or None."""
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode("utf-8")
        username, password = decoded.split(":", 1)
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    key = hashlib.sha256(header.encode("utf-8")).hexdigest()
    cached = _cache.get(key)
    if cached:
        user = get_user_model().objects.filter(pk=cached[0], is_active=True).first()
        if user is not None and user.password == cached[1]:
            return user
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        return None
    _cache.put(key, user)
    return user


def unauthorized():
    response = HttpResponse(status=401)
    response["WWW-Authenticate"] = REALM
    return response


def wants_html(request):
    return "text/html" in request.headers.get("Accept", "")


class RequireLoginMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            user = user_from_basic_header(header)
            if user is None:
                return unauthorized()
            request.user = user
            # Basic credentials are not sent by a browser on its own, so a
            # cross-site request cannot carry them: no CSRF token is needed.
            request._dont_enforce_csrf_checks = True
        elif not request.user.is_authenticated and not request.path.startswith(PUBLIC_PREFIXES):
            if wants_html(request):
                return redirect_to_login(request.get_full_path())
            return unauthorized()
        return self.get_response(request)
