"""QIDO-RS: studies, series and instances searched through explorer.query, answered as DICOM
JSON (or the Native DICOM Model when XML is asked for), as Orthanc's DICOMweb plugin answers.

The query string is read as the plugin reads it:
- `limit`, `offset` (non-negative integers), `fuzzymatching` (true or false; true is taken
  and ignored), `includefield` (repeated or comma-separated tags, keywords, or `all`);
- any other key naming a DICOM tag (keyword or 8 hexadecimal digits) is a matching string,
  matched as /tools/find matches it (case-insensitive, wildcards, ranges, lists); commas
  separate the values of a list, and so do backslashes, which the plugin drops;
- a key naming no tag is ignored, as the plugin ignores it.
The UIDs of the route narrow the search; one that cannot be a UID matches nothing (200 and
an empty list, as Orthanc answers). Values are percent-decoded, which the plugin (with
Orthanc 1.10.1) does not do: there `PatientName=Doe%2A` matches nothing.
"""

from django.urls import get_script_prefix

from explorer import levels, query
from explorer.dicomweb import qido_answers
from explorer.dicomweb.qido_answers import SERIES_INSTANCE_UID, STUDY_INSTANCE_UID, Request
from explorer.dicomweb.resources import UID, dicom_json_response
from explorer.errors import BadRequest, UnknownDicomTag
from explorer.matching import tag_of


def studies(request, **route):
    return search(request, levels.STUDY, route)


def series(request, **route):
    return search(request, levels.SERIES, route)


def instances(request, **route):
    return search(request, levels.INSTANCE, route)


def search(request, level, route):
    qido = read_request(request.GET, level)
    answers = []
    if narrow_to_route(qido, route):
        strings = {f"{tag:08X}": value for tag, value in qido.filters.items()}
        constraints = query.rest_constraints(level, strings, case_sensitive=False)
        answers = qido_answers.search(qido, constraints, base_url(request))
    if qido_answers.wants_xml(request.headers.get("Accept")):
        return qido_answers.xml_response(answers)
    return dicom_json_response(qido_answers.json_body(answers))


def read_request(parameters, level):
    """A qido_answers.Request from the query string (a QueryDict)."""
    qido = Request(level, {}, (), False, 0, 0, False, False)
    include = []
    for key, values in parameters.lists():
        if key in ("limit", "offset"):
            setattr(qido, key, count(key, values[-1]))
        elif key == "fuzzymatching":
            if values[-1] not in ("true", "false"):
                raise BadRequest(f"Not a proper value for fuzzy matching (true or false): {values[-1]}")
        elif key == "includefield":
            for name in (name.strip() for value in values for name in value.split(",")):
                if name == "all":
                    qido.include_all = True
                elif (tag := known_tag(name)) is not None:
                    include.append(tag)
        elif (tag := known_tag(key)) is not None:
            qido.filters[tag] = values[-1].replace(",", "\\")
            qido.study_filtered |= tag == STUDY_INSTANCE_UID
            qido.series_filtered |= tag == SERIES_INSTANCE_UID
    qido.include = tuple(include)
    return qido


def count(name, text):
    if not text.isdigit():
        raise BadRequest(f"{name} must be a non-negative integer, not {text[:40]!r}")
    return int(text)


def known_tag(name):
    """The tag a parameter names (keyword, ggggeeee, gggg,eeee), or None."""
    try:
        return tag_of(name)
    except UnknownDicomTag:
        return None


def narrow_to_route(qido, route):
    """Adds the route's UIDs to the filters, over any given as parameters; False when one
    cannot be a UID, and nothing can match."""
    for tag, name in ((STUDY_INSTANCE_UID, "study"), (SERIES_INSTANCE_UID, "series")):
        if name in route:
            uid = route[name]
            if len(uid) > 64 or not UID.match(uid):
                return False
            qido.filters[tag] = uid
    return True


def base_url(request):
    """The root of DICOMweb as the client reached it, for RetrieveURL: the plugin takes the
    host and scheme of the first `Forwarded` hop, else the Host header."""
    host, secure = None, request.is_secure()
    forwarded = request.headers.get("Forwarded", "").split(",")[0]
    for pair in forwarded.split(";"):
        key, _, value = pair.partition("=")
        key, value = key.strip().lower(), value.strip().strip('"')
        if key == "host" and value:
            host = value
        elif key == "proto" and value:
            secure = value.lower() == "https"
    host = host or request.get_host()
    return f"{'https' if secure else 'http'}://{host}{get_script_prefix()}dicom-web/"
