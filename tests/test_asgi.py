"""The web application behind the event loop (explorer/asgi.py): a request read whole before a
thread runs it, 413 before reading a body too large, the body on disk beyond a small size, the
WSGI environ as gunicorn's WSGI workers build it, long answers sent as they come."""

import asyncio
import io
import json

from explorer import asgi


def scope_of(method="POST", path="/instances", headers=(), raw_path=None, query=b""):
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode(),
        "query_string": query,
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],  # as ASGI gives them
        "server": ("127.0.0.1", 8042),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "http_version": "1.1",
    }


def run(app, scope, body_chunks=(b"",)):
    """Messages the application sends for a request whose body comes in `body_chunks`
    (a None: nothing more comes)."""
    chunks = list(body_chunks)
    sent = []

    async def receive():
        if not chunks or chunks[0] is None:
            await asyncio.sleep(3600)
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def echo_app(seen):
    def application(environ, start_response):
        body = environ["wsgi.input"].read()
        seen.append((environ, body))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"read ", str(len(body)).encode()]

    return application


def app_of(wsgi_app, max_body=1000, idle_timeout=5):
    return asgi.BufferedWSGI(wsgi_app, threads=2, max_body=max_body, idle_timeout=idle_timeout)


def test_a_request_is_read_whole_then_run_in_a_thread():
    seen = []
    sent = run(app_of(echo_app(seen)), scope_of(headers=[("Content-Length", "6")]), [b"abc", b"def"])
    assert seen[0][1] == b"abcdef"
    assert sent[0] == {"type": "http.response.start", "status": 200, "headers": [(b"Content-Type", b"text/plain")]}
    assert sent[1] == {"type": "http.response.body", "body": b"read 6"}


def test_a_body_announced_too_large_is_answered_413_unread():
    seen = []
    scope = scope_of(headers=[("Content-Length", "1001")])
    sent = run(app_of(echo_app(seen)), scope, [])  # receive() would never answer
    assert seen == [] and sent[0]["status"] == 413
    error = json.loads(sent[1]["body"])
    assert error["HttpStatus"] == 413 and error["Method"] == "POST" and error["Uri"] == "/instances"
    assert set(error) >= {"HttpError", "Message", "OrthancError", "OrthancStatus"}
    assert "PHAROS_MAX_UPLOAD_SIZE" in error["Details"]


def test_a_chunked_body_growing_too_large_is_answered_413_as_soon_as_it_does():
    seen = []
    scope = scope_of(headers=[("Transfer-Encoding", "chunked")])
    sent = run(app_of(echo_app(seen)), scope, [b"x" * 600, b"x" * 600, b"never read"])
    assert seen == [] and sent[0]["status"] == 413


def test_a_chunked_body_reaches_the_application_with_its_length():
    seen = []
    run(app_of(echo_app(seen)), scope_of(headers=[("Transfer-Encoding", "chunked")]), [b"ab", b"cd"])
    environ, body = seen[0]
    assert body == b"abcd" and environ["CONTENT_LENGTH"] == "4"


def test_a_large_body_waits_on_disk(monkeypatch):
    monkeypatch.setattr(asgi, "BODY_IN_MEMORY", 10)
    kinds = []

    def application(environ, start_response):
        kinds.append(not isinstance(environ["wsgi.input"], io.BytesIO))  # on disk: a file
        start_response("204 No Content", [])
        return []

    run(app_of(application), scope_of(headers=[("Content-Length", "20")]), [b"y" * 20])
    run(app_of(application), scope_of(headers=[("Content-Length", "5")]), [b"y" * 5])
    assert kinds == [True, False]


def test_a_stalled_body_ends_the_request_unanswered():
    seen = []
    scope = scope_of(headers=[("Content-Length", "10")])
    sent = run(app_of(echo_app(seen), idle_timeout=0.1), scope, [b"12345", None])
    assert seen == [] and sent == []


def test_the_environ_is_gunicorns():
    seen = []
    headers = [("Content-Type", "application/json"), ("X-Name", "a"), ("x-name", "b"), ("Host", "pharos:8042")]
    scope = scope_of("GET", "/tools/lookup é", headers, raw_path=b"/tools/lookup%20%C3%A9", query=b"a=1")
    run(app_of(echo_app(seen)), scope)
    environ, _ = seen[0]
    assert environ["PATH_INFO"] == "/tools/lookup é".encode().decode("latin-1")  # PEP 3333: bytes as latin-1
    assert environ["QUERY_STRING"] == "a=1" and environ["RAW_URI"] == "/tools/lookup%20%C3%A9?a=1"
    assert environ["CONTENT_TYPE"] == "application/json" and environ["HTTP_X_NAME"] == "a,b"
    assert environ["HTTP_HOST"] == "pharos:8042" and environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["wsgi.url_scheme"] == "http" and environ["CONTENT_LENGTH"] == "0"


def test_a_long_answer_goes_out_as_it_comes_and_the_response_is_closed():
    closed = []

    class Answer:
        def __iter__(self):
            for _ in range(4):
                yield b"z" * asgi.RESPONSE_AT_ONCE

        def close(self):
            closed.append(True)

    def application(environ, start_response):
        start_response("200 OK", [("Content-Length", str(4 * asgi.RESPONSE_AT_ONCE))])
        return Answer()

    sent = run(app_of(application), scope_of("GET", "/instances/x/file"))
    assert sent[0]["type"] == "http.response.start" and len(sent) > 2
    assert all(message.get("more_body") for message in sent[1:-1]) and not sent[-1].get("more_body")
    assert sum(len(message.get("body", b"")) for message in sent[1:]) == 4 * asgi.RESPONSE_AT_ONCE
    assert closed == [True]
