"""Failed logins slowed before they are refused.

django-axes counts the failed logins of each user from each address and refuses them for the
cool-off once PHAROS_LOGIN_FAILURE_LIMIT is reached. Before that, from the
PHAROS_LOGIN_SLOW_AFTER-th failure on, the next try of that user from that address is refused
(429, with Retry-After) until a wait has passed since the last failure: one second, doubling
with each further failure, at most MAXIMUM_WAIT. A guesser is slowed without a thread being
held asleep: the early answer costs one query, not a password hash.
"""

import logging
from datetime import timedelta

from axes.helpers import get_client_ip_address
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max
from django.utils import timezone

logger = logging.getLogger(__name__)

MAXIMUM_WAIT = 60  # seconds


def wait_after(failures):
    """Seconds a user must wait after the last of `failures` failed logins (0: none)."""
    slow_after = settings.PHAROS_LOGIN_SLOW_AFTER
    if slow_after == 0 or failures < slow_after:
        return 0
    return min(2 ** (failures - slow_after), MAXIMUM_WAIT)


def seconds_to_wait(request, username):
    """How long this user must still wait before trying again from this request's address
    (0: the credentials may be checked now)."""
    if not username or request is None:
        return 0
    address = get_client_ip_address(request)
    last = AccessAttempt.objects.filter(username=username, ip_address=address).aggregate(
        failures=Max("failures_since_start"), time=Max("attempt_time")
    )
    if not last["failures"] or last["failures"] >= settings.AXES_FAILURE_LIMIT:
        return 0  # none yet, or locked out: django-axes answers
    wait = wait_after(last["failures"])
    remaining = (last["time"] + timedelta(seconds=wait) - timezone.now()).total_seconds()
    if remaining <= 0:
        return 0
    seconds = int(remaining) + 1
    logger.warning(
        "Login of %r from %s refused for %d s: %d failed logins in a row", username, address, seconds, last["failures"]
    )
    return seconds


LOGIN_FORMS = ("/login/", "/admin/login/")


def slowed_form_login(request):
    """The seconds a POST to a login form must still wait, read from its username (0: none)."""
    if request.method != "POST" or request.path not in LOGIN_FORMS:
        return 0
    return seconds_to_wait(request, request.POST.get("username", ""))
