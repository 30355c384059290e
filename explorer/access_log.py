"""The web server's access log: one line per request on the web workers' standard output, in the
combined format gunicorn's access log writes by default (Apache's):

    127.0.0.1 - alice [04/Dec/2026:14:36:11 +0000] "GET /studies?expand HTTP/1.1" 200 5123 "-" "curl/8.5.0"

explorer/asgi.py writes it in the event loop from what it already holds. gunicorn's own access
log (its --access-logfile, now off) built a WSGI environ and a dictionary of every header and
environ value for each line, then went through Python's logging: a twentieth of the server's CPU
for a one-instance STOW-RS request, a tenth for a small GET.
"""

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
    """The user name of a Basic Authorization header (explorer/auth.py reads it), else "-"."""
    # Imported here: explorer/asgi.py imports this module before Django is set up, and
    # explorer/auth.py needs the models.
    from explorer import auth

    header = headers.get(b"authorization", b"").decode("latin-1")
    credentials = auth.basic_credentials(header) if header[:6].lower() == "basic " else None
    return credentials[0] if credentials and credentials[0] else "-"


def now():
    """The time in Apache's format, made once a second."""
    second = int(time.time())
    if second != _clock["second"]:
        _clock["text"] = time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second))
        _clock["second"] = second
    return _clock["text"]
