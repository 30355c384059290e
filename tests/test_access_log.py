"""The access log (explorer/access_log.py): one line per answered request on the web workers'
standard output, in the combined format gunicorn's access log wrote."""

import base64
import http.client
import re

from explorer import access_log
from tests.test_asgi import app_of, echo_app, run, scope_of
from tests.test_web_worker import start_web_server
from tests.test_wire_reactors import wait_until

LINE = re.compile(
    r'^(\S+) - (\S+) \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$'
)


def basic(user, password="secret"):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_line_names_the_client_user_request_status_size_referer_and_agent():
    scope = scope_of(
        "GET",
        "/studies",
        headers=[("Authorization", basic("alice")), ("Referer", "http://pacs/ui/"), ("User-Agent", "curl/8.5.0")],
        query=b"expand&limit=2",
    )
    fields = LINE.match(access_log.line(scope, 200, 5123)).groups()
    assert fields[0] == "127.0.0.1" and fields[1] == "alice"
    assert fields[3:] == ("GET /studies?expand&limit=2 HTTP/1.1", "200", "5123", "http://pacs/ui/", "curl/8.5.0")


def test_the_raw_path_is_logged_as_sent_and_missing_fields_are_dashes():
    scope = scope_of("GET", "/tools/find me", raw_path=b"/tools/find%20me")
    fields = LINE.match(access_log.line(scope, 404, 0)).groups()
    assert fields[1] == "-" and fields[3] == "GET /tools/find%20me HTTP/1.1"
    assert fields[6:] == ("-", "-")


def test_a_user_is_read_from_basic_credentials_only():
    assert access_log.user({b"authorization": basic("bob").encode()}) == "bob"
    assert access_log.user({b"authorization": b"Bearer abc"}) == "-"
    assert access_log.user({b"authorization": b"Basic !!!not-base64"}) == "-"
    assert access_log.user({}) == "-"


def test_each_answer_is_logged_with_the_bytes_of_its_body(capsys):
    run(app_of(echo_app([])), scope_of(headers=[("Content-Length", "3")]), [b"abc"])
    run(app_of(echo_app([])), scope_of(headers=[("Content-Length", "1001")]), [])  # 413 unread
    lines = capsys.readouterr().out.splitlines()
    assert [LINE.match(line).group(5, 6) for line in lines][0] == ("200", "6")  # "read 3"
    assert LINE.match(lines[1]).group(5) == "413"


def test_a_long_answer_streamed_from_the_thread_is_logged_with_its_whole_size(capsys):
    from explorer import asgi

    def long_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [b"z" * asgi.RESPONSE_AT_ONCE] * 3 + [b"end"]

    run(app_of(long_app), scope_of("GET", "/instances/x/file"))
    (line,) = capsys.readouterr().out.splitlines()
    assert LINE.match(line).group(6) == str(3 * asgi.RESPONSE_AT_ONCE + 3)


def test_the_server_writes_a_line_per_request_on_its_standard_output(tmp_path, settings):
    out = tmp_path / "stdout"
    with open(out, "wb") as stdout:
        server = start_web_server(tmp_path, settings, workers=1, threads=2, stdout=stdout)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", settings.PHAROS_HTTP_PORT, timeout=30)
        connection.request("GET", "/static/explorer/pharos.css", headers={"User-Agent": "pharos-test"})
        connection.getresponse().read()
        connection.request("GET", "/system", headers={"Authorization": basic("nobody")})
        connection.getresponse().read()
        connection.close()
        wait_until(lambda: len(out.read_text().splitlines()) >= 2, seconds=30)
        first, second = (LINE.match(line).groups() for line in out.read_text().splitlines())
        assert first[3:5] == ("GET /static/explorer/pharos.css HTTP/1.1", "200") and first[7] == "pharos-test"
        assert second[1] == "nobody" and second[3:5] == ("GET /system HTTP/1.1", "401")
    finally:
        server.terminate()
        server.wait(timeout=30)
