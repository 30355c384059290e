"""Settings changed at run time, as Orthanc's /tools/default-encoding and its siblings,
and the lists Orthanc's clients read to learn what a server has (/tools, /plugins, /peers).

Each PUT stores the value through explorer/runtime_settings.py, so that every process
(web, DICOM, workers) uses it within a second. Answers, and the values refused, are
Orthanc 1.10.1's.
"""

import json
import re

from django.http import HttpResponse

from explorer import character_sets, logs, runtime_settings
from explorer.api.base import json_response
from explorer.errors import BadFileFormat, ParameterOutOfRange, UnknownResource

# The transfer syntaxes Orthanc 1.10.1 knows, in the order GET /tools/accepted-transfer-syntaxes
# lists them: the patterns a user puts are matched against these.
TRANSFER_SYNTAXES = (
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2",
    *(f"1.2.840.10008.1.2.4.{n}" for n in (*range(50, 67), 70, 80, 81, *range(90, 96), *range(100, 109))),
    "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.6.1", "1.2.840.10008.1.2.6.2",
)  # fmt: skip


def text_response(text, status=200):
    return HttpResponse(text, status=status, content_type="text/plain")


def _body_text(request):
    return request.body.decode("utf-8", errors="replace")


# --- /tools/default-encoding ----------------------------------------------------------------


def encoding_named(text):
    """Orthanc's name of an encoding, given in any case; ParameterOutOfRange otherwise."""
    name = character_sets.orthanc_name(text) if text == text.strip() else None
    if name is None:
        names = ", ".join(character_sets.ORTHANC_NAMES)
        raise ParameterOutOfRange(f"Unknown encoding: {text!r}; Orthanc's names are {names}")
    return name


def default_encoding(request):
    return text_response(runtime_settings.current("DefaultEncoding"))


def set_default_encoding(request):
    """The body is the encoding's name, exactly (Orthanc refuses surrounding spaces too);
    the answer is its name as Orthanc writes it."""
    name = encoding_named(_body_text(request))
    runtime_settings.change("DefaultEncoding", name)
    return text_response(name)


# --- /tools/accepted-transfer-syntaxes -------------------------------------------------------


def _pattern_regex(pattern):
    # Orthanc's wildcards are * and ? only: fnmatch would also read [...] as a set.
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def transfer_syntaxes_matching(patterns):
    """The known transfer syntaxes that one of the patterns matches, in Orthanc's order."""
    regexes = [_pattern_regex(pattern) for pattern in patterns]
    return [uid for uid in TRANSFER_SYNTAXES if any(regex.fullmatch(uid) for regex in regexes)]


def transfer_syntax_patterns(body):
    """A PUT body's patterns: a JSON list of strings or one JSON string. A body that is not
    JSON is one pattern as it is (so `1.2.840.10008.1.2.4.*` needs no quotes); Orthanc also
    reads a bare UID that way only when its JSON reader fails on it."""
    try:
        value = json.loads(body)
    except ValueError:
        return [body.strip()]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [body.strip()]  # a bare UID such as 1.2.840.10008.1.2 reads as a number
    raise BadFileFormat("The body must be a transfer syntax UID (wildcards allowed) or a JSON list of them")


def accepted_transfer_syntaxes(request):
    return json_response(transfer_syntaxes_matching(runtime_settings.current("AcceptedTransferSyntaxes")))


def set_accepted_transfer_syntaxes(request):
    patterns = list(dict.fromkeys(transfer_syntax_patterns(_body_text(request))))
    runtime_settings.change("AcceptedTransferSyntaxes", patterns)
    return json_response(transfer_syntaxes_matching(patterns))


# --- /tools/unknown-sop-class-accepted -------------------------------------------------------

BOOLEANS = {"1": True, "true": True, "0": False, "false": False}


def unknown_sop_class_accepted(request):
    return text_response("1" if runtime_settings.current("UnknownSopClassAccepted") else "0")


def set_unknown_sop_class_accepted(request):
    text = _body_text(request).strip()
    if text not in BOOLEANS:
        raise BadFileFormat("Boolean value expected")
    runtime_settings.change("UnknownSopClassAccepted", BOOLEANS[text])
    return text_response("")


# --- /tools/log-level ------------------------------------------------------------------------


def log_level(request):
    return text_response(logs.verbosity(runtime_settings.current("LogLevel")))


def set_log_level(request):
    text = _body_text(request)
    if text not in logs.VERBOSITIES:
        raise ParameterOutOfRange(f'Verbosity can be "default", "verbose" or "trace": {text}')
    runtime_settings.change("LogLevel", text)
    logs.apply(text)  # here at once; the other processes within a second
    return text_response("")


# --- what the server has ---------------------------------------------------------------------


def tools(request):
    """GET /tools: the names under /tools/ that have a route, sorted as Orthanc lists them."""
    from django.urls import get_resolver

    names = set()
    for route in _routes(get_resolver().url_patterns):
        parts = route.split("/")
        if len(parts) == 2 and parts[0] == "tools" and parts[1] and "<" not in parts[1]:
            names.add(parts[1])
    return json_response(sorted(names))


def _routes(patterns, prefix=""):
    """Every route of a URLconf, as its text with the prefixes of its includes."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if hasattr(pattern, "url_patterns"):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route


# The plugins Orthanc's clients look for in GET /plugins, and what GET /plugins/{id} says of
# each (Orthanc 1.10.1 with its DICOMweb plugin 1.7). Pharos serves DICOMweb itself; it adds
# nothing to Orthanc Explorer, and has no page of the plugin's own (Orthanc's RootUri).
PLUGINS = {
    "dicom-web": {
        "Description": "Implementation of DICOMweb (QIDO-RS, STOW-RS and WADO-RS) and WADO-URI.",
        "ExtendsOrthancExplorer": False,
        "ID": "dicom-web",
        "Version": "1.7",
    },
}


def plugins(request):
    return json_response(list(PLUGINS))


def plugin(request, name):
    if name not in PLUGINS:
        # Orthanc answers 404 with an empty body; Pharos's 404s without a database say why.
        raise UnknownResource(f"Unknown plugin: {name}")
    return json_response(PLUGINS[name])
