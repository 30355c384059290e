"""Settings changed at run time through REST, and the lists Orthanc's clients read (/tools,
/plugins, /peers). Every expected answer here is Orthanc 1.10.1's to the same request."""

import logging

import pytest

from explorer import logs, runtime_settings

pytestmark = pytest.mark.django_db

# GET /tools/accepted-transfer-syntaxes on Orthanc with its default ["1.2.840.10008.1.*"].
ORTHANC_TRANSFER_SYNTAXES = [
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.52", "1.2.840.10008.1.2.4.53",
    "1.2.840.10008.1.2.4.54", "1.2.840.10008.1.2.4.55", "1.2.840.10008.1.2.4.56", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.58", "1.2.840.10008.1.2.4.59", "1.2.840.10008.1.2.4.60", "1.2.840.10008.1.2.4.61",
    "1.2.840.10008.1.2.4.62", "1.2.840.10008.1.2.4.63", "1.2.840.10008.1.2.4.64", "1.2.840.10008.1.2.4.65",
    "1.2.840.10008.1.2.4.66", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92", "1.2.840.10008.1.2.4.93",
    "1.2.840.10008.1.2.4.94", "1.2.840.10008.1.2.4.95", "1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.101",
    "1.2.840.10008.1.2.4.102", "1.2.840.10008.1.2.4.103", "1.2.840.10008.1.2.4.104", "1.2.840.10008.1.2.4.105",
    "1.2.840.10008.1.2.4.106", "1.2.840.10008.1.2.4.107", "1.2.840.10008.1.2.4.108", "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.6.1", "1.2.840.10008.1.2.6.2",
]  # fmt: skip
ORTHANC_ENCODINGS = [
    "Ascii", "Utf8", "Latin1", "Latin2", "Latin3", "Latin4", "Latin5", "Cyrillic", "Windows1251", "Arabic",
    "Greek", "Hebrew", "Thai", "Japanese", "Chinese", "Korean", "JapaneseKanji", "SimplifiedChinese",
]  # fmt: skip


def put(api, path, body):
    return api.put(path, data=body, content_type="text/plain")


def text(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/plain"
    return response.content.decode()


def refused(response, status, message, details=None):
    assert response.status_code == 400, response.content
    error = response.json()
    assert (error["HttpStatus"], error["OrthancStatus"], error["Message"]) == (400, status, message)
    if details is not None:
        assert error["Details"] == details
    return error


@pytest.fixture
def default_logging():
    yield
    logs.apply("default")


# --- /tools/default-encoding ---------------------------------------------------------------


def test_default_encoding_is_the_configured_one_until_put(api, settings):
    settings.PHAROS_DEFAULT_ENCODING = "Latin1"
    assert text(api.get("/tools/default-encoding")) == "Latin1"
    assert text(put(api, "/tools/default-encoding", "Utf8")) == "Utf8"  # PUT answers the name
    assert text(api.get("/tools/default-encoding")) == "Utf8"
    assert runtime_settings.current("DefaultEncoding") == "Utf8"


def test_every_orthanc_encoding_is_taken_in_any_case_and_answered_in_orthancs(api):
    for name in ORTHANC_ENCODINGS:
        assert text(put(api, "/tools/default-encoding", name)) == name
    assert text(put(api, "/tools/default-encoding", "japanesekanji")) == "JapaneseKanji"
    assert text(put(api, "/tools/default-encoding", "latin1")) == "Latin1"


@pytest.mark.parametrize("body", ["Latin6", "UTF-8", "ISO_IR 100", " Latin2 ", "Latin3\n", "", '"Latin4"'])
def test_an_unknown_encoding_is_refused_and_nothing_changes(api, body):
    put(api, "/tools/default-encoding", "Greek")
    error = refused(put(api, "/tools/default-encoding", body), 3, "Parameter out of range")
    assert "Latin1" in error["Details"]  # the message names the encodings there are
    assert text(api.get("/tools/default-encoding")) == "Greek"


# --- /tools/accepted-transfer-syntaxes ----------------------------------------------------------


def test_accepted_transfer_syntaxes_lists_the_uids_the_patterns_match(api):
    assert api.get("/tools/accepted-transfer-syntaxes").json() == ORTHANC_TRANSFER_SYNTAXES


def test_a_json_list_is_stored_and_listed(api):
    body = '["1.2.840.10008.1.2.5", "1.2.840.10008.1.2", "1.2.840.10008.1.2"]'
    answer = put(api, "/tools/accepted-transfer-syntaxes", body)
    assert answer["Content-Type"] == "application/json; charset=utf-8"
    assert answer.json() == ["1.2.840.10008.1.2", "1.2.840.10008.1.2.5"]  # Orthanc's order, each once
    assert api.get("/tools/accepted-transfer-syntaxes").json() == ["1.2.840.10008.1.2", "1.2.840.10008.1.2.5"]
    assert runtime_settings.current("AcceptedTransferSyntaxes") == ["1.2.840.10008.1.2.5", "1.2.840.10008.1.2"]


def test_one_string_with_wildcards_is_stored_as_the_pattern(api):
    answer = put(api, "/tools/accepted-transfer-syntaxes", '"1.2.840.10008.1.2.4.5?"').json()
    assert answer == [f"1.2.840.10008.1.2.4.{n}" for n in range(50, 60)]
    assert runtime_settings.current("AcceptedTransferSyntaxes") == ["1.2.840.10008.1.2.4.5?"]
    jpeg = put(api, "/tools/accepted-transfer-syntaxes", '"1.2.840.10008.1.2.4.*"').json()
    assert jpeg == ORTHANC_TRANSFER_SYNTAXES[4:39]
    everything_but_implicit = put(api, "/tools/accepted-transfer-syntaxes", '["1.2.840.10008.1.2.*"]').json()
    assert everything_but_implicit == ORTHANC_TRANSFER_SYNTAXES[1:]


def test_a_body_that_is_not_json_is_one_pattern(api):
    # Orthanc reads "*" and "abc*" so; a bare UID it refuses (its JSON reader takes it for a
    # number): here it is the pattern it looks like.
    assert put(api, "/tools/accepted-transfer-syntaxes", "*").json() == ORTHANC_TRANSFER_SYNTAXES
    assert put(api, "/tools/accepted-transfer-syntaxes", "abc*").json() == []
    assert put(api, "/tools/accepted-transfer-syntaxes", "1.2.840.10008.1.2.1").json() == ["1.2.840.10008.1.2.1"]
    assert put(api, "/tools/accepted-transfer-syntaxes", "").json() == []


def test_only_star_and_question_mark_are_wildcards(api):
    answer = put(api, "/tools/accepted-transfer-syntaxes", '["1.2.840.10008.1.2.4.9?", "1.2.840.10008.1.2.[12]"]')
    assert answer.json() == [f"1.2.840.10008.1.2.4.{n}" for n in range(90, 96)]
    assert put(api, "/tools/accepted-transfer-syntaxes", '["1.2.3.4"]').json() == []


@pytest.mark.parametrize("body", ["null", '{"a": 1}', '["1.2.840.10008.1.2", 5]', "true"])
def test_other_json_is_refused(api, body):
    put(api, "/tools/accepted-transfer-syntaxes", '["1.2.840.10008.1.2"]')
    refused(put(api, "/tools/accepted-transfer-syntaxes", body), 15, "Bad file format")
    assert api.get("/tools/accepted-transfer-syntaxes").json() == ["1.2.840.10008.1.2"]


# --- /tools/unknown-sop-class-accepted -------------------------------------------------------


def test_unknown_sop_class_accepted_is_0_or_1(api):
    assert text(api.get("/tools/unknown-sop-class-accepted")) == "0"
    for body, shown in (("1", "1"), ("0", "0"), ("true", "1"), ("false", "0"), (" 1", "1"), ("1\n", "1")):
        assert text(put(api, "/tools/unknown-sop-class-accepted", body)) == ""  # an empty answer
        assert text(api.get("/tools/unknown-sop-class-accepted")) == shown
    assert runtime_settings.current("UnknownSopClassAccepted") is True


@pytest.mark.parametrize("body", ["True", "FALSE", "yes", "on", "2", "", '"1"'])
def test_unknown_sop_class_accepted_refuses_other_values(api, body):
    refused(put(api, "/tools/unknown-sop-class-accepted", body), 15, "Bad file format", "Boolean value expected")
    assert text(api.get("/tools/unknown-sop-class-accepted")) == "0"


# --- /tools/log-level ----------------------------------------------------------------------


def test_log_level_is_default_then_what_was_put(api, default_logging):
    assert text(api.get("/tools/log-level")) == "default"
    assert text(put(api, "/tools/log-level", "verbose")) == ""
    assert text(api.get("/tools/log-level")) == "verbose"
    assert logging.getLogger("dicomnet").getEffectiveLevel() == logging.DEBUG  # in this process at once
    assert text(put(api, "/tools/log-level", "trace")) == ""
    assert logging.getLogger("pynetdicom").getEffectiveLevel() == logging.DEBUG
    assert text(put(api, "/tools/log-level", "default")) == ""
    assert text(api.get("/tools/log-level")) == "default"
    assert logging.getLogger("pynetdicom").getEffectiveLevel() == logging.WARNING


@pytest.mark.parametrize("body", ["Verbose", "info", "warning", "", " trace"])
def test_log_level_refuses_other_names(api, body):
    details = f'Verbosity can be "default", "verbose" or "trace": {body}'
    refused(put(api, "/tools/log-level", body), 3, "Parameter out of range", details)
    assert text(api.get("/tools/log-level")) == "default"


# --- what the server has ----------------------------------------------------------------------


def test_tools_lists_the_tools_pharos_has_sorted_as_orthanc(api):
    tools = api.get("/tools").json()
    runtime = ["accepted-transfer-syntaxes", "default-encoding", "log-level", "unknown-sop-class-accepted"]
    assert set(runtime + ["find", "lookup"]) <= set(tools)
    assert tools == sorted(tools)
    for name in tools:  # each answers: none is listed without a route
        assert api.get(f"/tools/{name}").status_code != 404, name


def test_plugins_and_peers_are_empty(api):
    assert api.get("/plugins").json() == []


def test_a_method_a_runtime_setting_lacks_is_405_with_allow(api):
    response = api.post("/tools/default-encoding", data="Utf8", content_type="text/plain")
    assert response.status_code == 405
    assert response["Allow"] == "GET,PUT"  # Orthanc's spelling
