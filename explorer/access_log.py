"""The web server's access log: one line per request on the web workers' standard output, in the
combined format gunicorn's access log writes by default (Apache's):

    127.0.0.1 - alice [04/Dec/2026:14:36:11 +0000] "GET /studies?expand HTTP/1.1" 200 5123 "-" "curl/8.5.0"

explorer/asgi.py writes it in the event loop from what it already holds. gunicorn's own access
log (its --access-logfile, now off) built a WSGI environ and a dictionary of every header and
environ value for each line, then went through Python's logging: a twentieth of the server's CPU
for a one-instance STOW-RS request, a tenth for a small GET.
"""

import base64
import binascii
import sys
import time

_clock = {"second": None, "text": ""}


def line(scope, status, sent):
    """The access log line (without its newline) of a request answered `status` with `sent`
    bytes of body."""
    headers = dict(scope["headers"])  # the last of a repeated header, as a dict keeps it
    host = (scope.get("client") or ("-",))[0]
    query = scope.get("query_string", b"")
    raw_path = scope.get("raw_path") or scope["path"].encode()
    target = (raw_path + (b"?" + query if query else b"")).decode("latin-1")
    request = f"{scope['method']} {target} HTTP/{scope.get('http_version', '1.1')}"
    referer = headers.get(b"referer", b"-").decode("latin-1")
    agent = headers.get(b"user-agent", b"-").decode("latin-1")
    return f'{host} - {user(headers)} {now()} "{request}" {status} {sent} "{referer}" "{agent}"'


def write(scope, status, sent):
    sys.stdout.write(line(scope, status, sent) + "\n")
    sys.stdout.flush()


def user(headers):
    """The user name of a Basic Authorization header, else "-" (as gunicorn reads it)."""
    authorization = headers.get(b"authorization", b"")
    scheme, _, credentials = authorization.partition(b" ")
    if scheme.lower() != b"basic":
        return "-"
    try:
        return base64.b64decode(credentials.strip(), validate=False).split(b":", 1)[0].decode() or "-"
    except (binascii.Error, UnicodeDecodeError):
        return "-"


def now():
    """The time in Apache's format, made once a second."""
    second = int(time.time())
    if second != _clock["second"]:
        _clock["text"] = time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second))
        _clock["second"] = second
    return _clock["text"]
