"""The answers of QIDO-RS as Orthanc's DICOMweb plugin (1.7, with Orthanc 1.10.1) writes them:
which attributes each answer holds, and their values as DICOM JSON (PS3.18 F.2) or as the
Native DICOM Model in XML (PS3.19 A.1).

Orthanc copies every returned attribute from the file of one instance of the resource. Here
the main tags come from the index and any other attribute from the data set stored with the
resource's first instance; no file is opened. An attribute the resource lacks is left out;
one present but empty is written with its VR alone. Sequences and binary values are left
out, as Orthanc leaves them out.
"""

import math
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import orjson
from django.http import HttpResponse
from pydicom.datadict import keyword_for_tag

from explorer import levels, query, runtime_settings
from explorer.character_sets import dicom_term
from explorer.dicom_json import person_name_json
from explorer.matching import tag_of, vr_of

SPECIFIC_CHARACTER_SET = 0x00080005
RETRIEVE_URL = 0x00081190
STUDY_INSTANCE_UID = 0x0020000D
SERIES_INSTANCE_UID = 0x0020000E

# The attributes of each level (PS3.18 table 6.7.1-2, -2a, -2b as the plugin's QidoRs.cpp
# lists them); SpecificCharacterSet, RetrieveURL and the computed ones are added apart.
DEFAULT_TAGS = {
    levels.STUDY: (
        0x00080020,  # StudyDate
        0x00080030,  # StudyTime
        0x00080050,  # AccessionNumber
        0x00080056,  # InstanceAvailability
        0x00080090,  # ReferringPhysicianName
        0x00080201,  # TimezoneOffsetFromUTC
        0x00100010,  # PatientName
        0x00100020,  # PatientID
        0x00100030,  # PatientBirthDate
        0x00100040,  # PatientSex
        0x0020000D,  # StudyInstanceUID
        0x00200010,  # StudyID
    ),
    levels.SERIES: (
        0x00080060,  # Modality
        0x00080201,  # TimezoneOffsetFromUTC
        0x0008103E,  # SeriesDescription
        0x0020000E,  # SeriesInstanceUID
        0x00200011,  # SeriesNumber
        0x00400244,  # PerformedProcedureStepStartDate
        0x00400245,  # PerformedProcedureStepStartTime
        0x00400275,  # RequestAttributesSequence (a sequence: never written)
    ),
    levels.INSTANCE: (
        0x00080016,  # SOPClassUID
        0x00080018,  # SOPInstanceUID
        0x00080056,  # InstanceAvailability
        0x00080201,  # TimezoneOffsetFromUTC
        0x00200013,  # InstanceNumber
        0x00280010,  # Rows
        0x00280011,  # Columns
        0x00280100,  # BitsAllocated
        0x00280008,  # NumberOfFrames
    ),
}
# Computed from the children at each level, always written.
COMPUTED_TAGS = {
    levels.STUDY: {
        0x00080061: "ModalitiesInStudy",
        0x00201206: "NumberOfStudyRelatedSeries",
        0x00201208: "NumberOfStudyRelatedInstances",
    },
    levels.SERIES: {0x00201209: "NumberOfSeriesRelatedInstances"},
    levels.INSTANCE: {},
}
# The UIDs of a resource, as model fields seen from its level, for its RetrieveURL.
UID_FIELDS = {
    levels.STUDY: ("study_instance_uid",),
    levels.SERIES: ("study__study_instance_uid", "series_instance_uid"),
    levels.INSTANCE: ("series__study__study_instance_uid", "series__series_instance_uid", "sop_instance_uid"),
}
URL_SEGMENTS = ("studies", "series", "instances")
NUMBER_TEXT_VRS = frozenset({"IS", "DS"})
NEVER_WRITTEN_VRS = frozenset({"SQ", "OB", "OD", "OF", "OL", "OV", "OW", "UN"})


@dataclass
class Request:
    """A QIDO-RS search, read from the query string and the route (explorer.dicomweb.qido)."""

    level: levels.Level
    filters: dict  # tag -> matching string, in Orthanc's form (lists joined by backslashes)
    include: tuple  # tags asked for by includefield
    include_all: bool
    limit: int
    offset: int
    study_filtered: bool  # StudyInstanceUID was a parameter (not the route's)
    series_filtered: bool


def returned_tags(request):
    """The tags of every answer but the computed ones, SpecificCharacterSet and RetrieveURL,
    in Orthanc's choice: the level's, those asked for, those matched on, and the study's (the
    series' too for instances) unless the query names the study (the series)."""
    level = request.level
    tags = set(request.include) | set(DEFAULT_TAGS[level]) | set(request.filters)
    if level is not levels.STUDY and not request.study_filtered:
        tags |= set(DEFAULT_TAGS[levels.STUDY])
    if level is levels.INSTANCE and not request.series_filtered:
        tags |= set(DEFAULT_TAGS[levels.SERIES])
    if request.include_all:
        # Orthanc 1.10.1's plugin takes `all` and returns its defaults; here `all` adds every
        # main tag the index holds for the level and the levels above.
        for shown in levels.LEVELS[: levels.LEVELS.index(level) + 1]:
            tags |= {tag_of(keyword) for keyword in shown.main_tags}
    tags -= set(COMPUTED_TAGS[level]) | {SPECIFIC_CHARACTER_SET, RETRIEVE_URL}
    return sorted(tags)


def search(request, constraints, base_url):
    """The answers of a search, as data sets {tag: DICOM JSON element}, in the index's order."""
    level = request.level
    tags = returned_tags(request)
    main_tags, elements = {}, {}
    for tag in tags:
        keyword = keyword_for_tag(tag)
        if keyword and query.main_tag_source(level, keyword) is not None:
            main_tags[tag] = keyword
        else:
            elements[tag] = f"{tag:08X}"
    computed = COMPUTED_TAGS[level]
    found = query.search(
        level,
        constraints,
        fields=UID_FIELDS[level],
        main_tags=tuple(main_tags.values()),
        computed=tuple(computed.values()),
        limit=request.limit,
        since=request.offset,
    )
    stored = query.first_instance_elements(level, found.answer_set, tuple(elements.values()))
    character_set = character_set_element()
    answers = []
    for row in found.rows:
        pk = row[0]
        answer = {SPECIFIC_CHARACTER_SET: character_set}
        for tag, keyword in main_tags.items():
            text = row[found.columns[keyword]]
            if text is not None:
                answer[tag] = text_element(tag, text)
        of_instance = stored.get(pk, {})
        for tag, key in elements.items():
            element = stored_element(of_instance.get(key))
            if element is not None:
                answer[tag] = element
        for tag, keyword in computed.items():
            answer[tag] = text_element(tag, found.computed[keyword][pk])
        uids = [row[found.columns[name]] for name in UID_FIELDS[level]]
        answer[RETRIEVE_URL] = {"vr": "UR", "Value": [retrieve_url(base_url, uids)]}
        answers.append(answer)
    return answers


def retrieve_url(base_url, uids):
    return base_url + "/".join(f"{segment}/{uid}" for segment, uid in zip(URL_SEGMENTS, uids))


def character_set_element():
    """Orthanc writes its answers' data sets in its DefaultEncoding and names it; the JSON
    here holds the stored texts whole, in UTF-8 as JSON is."""
    term = dicom_term(str(runtime_settings.current("DefaultEncoding") or "")) or "ISO_IR 192"
    return {"vr": "CS", "Value": [term]}


# --- Values ---------------------------------------------------------------------------


def dictionary_vr(tag):
    return vr_of(tag).split(" or ")[0]


def number(text):
    """An IS or DS value as the plugin writes it: a JSON number (an integer when whole), the
    text itself when it is none."""
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    return int(value) if value.is_integer() else value


def text_element(tag, text):
    """A main tag's text (Orthanc's form: values joined by backslashes) as DICOM JSON."""
    vr = dictionary_vr(tag)
    if text == "":
        return {"vr": vr}
    values = text.split("\\")
    if vr == "PN":
        values = [person_name_json(value) for value in values]
    elif vr in NUMBER_TEXT_VRS:
        values = [number(value) for value in values]
    return {"vr": vr, "Value": values}


def stored_element(element):
    """An element of a stored data set (DICOM JSON, numbers written as text kept as text) as
    the answer writes it, or None when it is not written (absent, a sequence, binary)."""
    if not isinstance(element, dict):
        return None
    vr = element.get("vr")
    if vr in NEVER_WRITTEN_VRS or "InlineBinary" in element or "BulkDataURI" in element:
        return None
    values = element.get("Value")
    if not values:
        return {"vr": vr}
    if vr in NUMBER_TEXT_VRS:
        values = [number(value) if isinstance(value, str) else value for value in values]
    return {"vr": vr, "Value": values}


# --- Writing --------------------------------------------------------------------------

XML_TYPES = frozenset({"application/dicom+xml", "application/xml", "text/xml"})


def wants_xml(accept):
    """The plugin answers XML when Accept is exactly one of XML_TYPES, and JSON for anything
    else (it logs an unsupported type and answers JSON)."""
    return (accept or "").strip().lower() in XML_TYPES


def json_body(answers):
    return orjson.dumps([{f"{tag:08X}": element for tag, element in answer.items()} for answer in answers])


def xml_response(answers):
    """multipart/related; type="application/dicom+xml": one part per answer."""
    boundary = uuid.uuid4().hex
    parts = []
    for answer in answers:
        document = native_dicom_model(answer).encode()
        head = f"--{boundary}\r\nContent-Type: application/dicom+xml\r\nContent-Length: {len(document)}\r\n"
        parts.append(head.encode() + b"MIME-Version: 1.0\r\n\r\n" + document + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--".encode()
    content_type = f'multipart/related; type="application/dicom+xml"; boundary={boundary}'
    return HttpResponse(body, content_type=content_type)


PN_COMPONENTS = ("FamilyName", "GivenName", "MiddleName", "NamePrefix", "NameSuffix")


def native_dicom_model(answer):
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">',
    ]
    for tag, element in sorted(answer.items()):
        attributes = f'tag="{tag:08X}" vr="{element["vr"]}" keyword={quoteattr(keyword_for_tag(tag) or "")}'
        values = element.get("Value")
        if not values:
            lines.append(f"  <DicomAttribute {attributes} />")
            continue
        lines.append(f"  <DicomAttribute {attributes}>")
        for number_, value in enumerate(values, 1):
            if element["vr"] == "PN":
                lines.append(f'    <PersonName number="{number_}">')
                for group, text in (value or {}).items():
                    components = "".join(
                        f"<{name}>{escape(part)}</{name}>" for name, part in zip(PN_COMPONENTS, text.split("^"))
                    )
                    lines.append(f"      <{group}>{components}</{group}>")
                lines.append("    </PersonName>")
            else:
                lines.append(f'    <Value number="{number_}">{escape("" if value is None else str(value))}</Value>')
        lines.append("  </DicomAttribute>")
    lines.append("</NativeDicomModel>")
    return "\n".join(lines) + "\n"
