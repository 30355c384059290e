"""The C-FIND SCP: Patient Root and Study Root queries answered from the index alone.

A query goes through three steps, each a plain function that tests call directly:

- `parse_request` reads the identifier: the level (checked against the information model),
  the matching keys (every non-empty value but sequences), and the return keys with where
  each answer value comes from.
- `search` matches with `explorer.query` (as REST /tools/find does, but with Orthanc's
  C-FIND case rule: PN ignores case, nothing else does). One query gives the matches with
  everything their answers need: their own and their parents' main tags, and the elements
  of other tags from the first instance's stored data set (where the constraints on such
  tags are checked too). Then one GROUP BY per computed key (counts, ModalitiesInStudy,
  SOPClassesInStudy) over the answer set. No stored file is ever opened.
- `Found.encoded_answers` writes the identifiers one at a time (a generator: a long answer is
  never held twice) as bytes, with dicomnet.find_encoding, each in the query's character set
  when its values fit, in UTF-8 otherwise; `Found.answers` gives the same as Datasets.

`answers(event)` adapts this to pynetdicom's EVT_C_FIND, sending the pending responses itself;
`find_answers` runs it all at once, without the network.
"""

import logging
from dataclasses import dataclass, field
from functools import lru_cache, partial

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.db.models.fields.json import KeyTextTransform
from pydicom import config as pydicom_config
from pydicom.charset import python_encoding
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.valuerep import ALLOW_BACKSLASH, DS, IS, PersonName, format_number_as_ds

from dicomnet.wire.find_encoding import CHARSET_VRS, PENDING
from dicomnet.wire.pending import PendingResponder, writes_directly
from explorer import levels, pydicom_compat, query
from explorer.errors import PharosError
from explorer.models import Instance, Series, Study

logger = logging.getLogger("dicomnet")

PATIENT_ROOT = "patient"
STUDY_ROOT = "study"
MODEL_OF_SOP_CLASS = {
    "1.2.840.10008.5.1.4.1.2.1.1": PATIENT_ROOT,  # Patient Root Query/Retrieve Information Model - FIND
    "1.2.840.10008.5.1.4.1.2.2.1": STUDY_ROOT,  # Study Root Query/Retrieve Information Model - FIND
}
LEVELS_OF_MODEL = {
    PATIENT_ROOT: (levels.PATIENT, levels.STUDY, levels.SERIES, levels.INSTANCE),
    STUDY_ROOT: (levels.STUDY, levels.SERIES, levels.INSTANCE),
}
# PS3.4 C.4.1.2.2.1: a hierarchical query names its place with the unique keys of the levels
# above. Orthanc never checks them, and neither do we (a missing one is universal matching);
# they are only logged, to help when a peer's query gives surprising answers.
UNIQUE_KEYS_ABOVE = {
    PATIENT_ROOT: {
        levels.PATIENT: (),
        levels.STUDY: ("PatientID",),
        levels.SERIES: ("PatientID", "StudyInstanceUID"),
        levels.INSTANCE: ("PatientID", "StudyInstanceUID", "SeriesInstanceUID"),
    },
    STUDY_ROOT: {
        levels.STUDY: (),
        levels.SERIES: ("StudyInstanceUID",),
        levels.INSTANCE: ("StudyInstanceUID", "SeriesInstanceUID"),
    },
}

# PS3.4 C.4.1.1.4, Table C.4-1 (pending responses: dicomnet.find_encoding).
CANCELLED = 0xFE00
SOP_CLASS_NOT_SUPPORTED = 0x0122
# Ends an answer cut short by PHAROS_DICOM_LIMIT_FIND_RESULTS, after the pending answers that
# were sent. Not 0xB001 ("matching reached response limit"), whose meaning fits best:
# pynetdicom 3 sends any warning and then a Success of its own, two final responses. Not
# Orthanc's 0xFE00, which tells of a cancel the peer never asked for. A700 is the failure that
# PS3.4 has for an SCP short of resources; SCUs (DCMTK's findscu among them) keep the pending
# answers received before it, and the Error Comment says what happened.
OUT_OF_RESOURCES = 0xA700
IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xA900
UNABLE_TO_PROCESS = 0xC000  # Orthanc's answer to a wildcard on a date
DATABASE_FAILURE = 0xC001
CANNOT_ENCODE = 0xC312  # pynetdicom's failure for an answer it cannot encode

QUERY_RETRIEVE_LEVEL = 0x00080052
SPECIFIC_CHARACTER_SET = 0x00080005
RETRIEVE_AE_TITLE = 0x00080054
# Keys every answer has, whatever the query asks for.
ALWAYS_ANSWERED = (SPECIFIC_CHARACTER_SET, QUERY_RETRIEVE_LEVEL, RETRIEVE_AE_TITLE)

# Counted children, by key: the level it belongs to, the model counted and its path to it.
COUNTED_KEYS = {
    "NumberOfPatientRelatedStudies": (levels.PATIENT, Study, "patient_id"),
    "NumberOfPatientRelatedSeries": (levels.PATIENT, Series, "study__patient_id"),
    "NumberOfPatientRelatedInstances": (levels.PATIENT, Instance, "series__study__patient_id"),
    "NumberOfStudyRelatedSeries": (levels.STUDY, Series, "study_id"),
    "NumberOfStudyRelatedInstances": (levels.STUDY, Instance, "series__study_id"),
    "NumberOfSeriesRelatedInstances": (levels.SERIES, Instance, "series_id"),
}
# Distinct values of the children of a study: ModalitiesInStudy, SOPClassesInStudy.
COLLECTED_KEYS = {
    keyword: (levels.STUDY, model, f"{study}_id", column)
    for keyword, (model, column, study) in query.COMPUTED_KEYS.items()
}
CHUNK = query.CHUNK  # ids per IN (...) clause
SHORT_ANSWER = 1000  # answers whose computed keys are read by their ids

INTEGER_VRS = frozenset({"US", "SS", "UL", "SL", "SV", "UV"})
FLOAT_VRS = frozenset({"FL", "FD"})
# The VRs that DICOM JSON keeps as strings or as numbers written as text (PS3.18 F.2.3).
JSON_TEXT_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
)
# VRs whose values are no text: binary numbers and sequences.
CONVERTED_VRS = frozenset({"SQ"}) | INTEGER_VRS | FLOAT_VRS
# The types pydicom gives to a number written as text.
NUMBER_TEXT_TYPES = {"IS": IS, "DS": DS}
ASCII_TERMS = frozenset({"", "ISO_IR 6", "ISO 2022 IR 6"})
UTF8 = "ISO_IR 192"
ERROR_COMMENT_LENGTH = 64  # LO


class FindRefused(Exception):
    """A query answered by a failure status alone."""

    def __init__(self, status, comment):
        super().__init__(comment)
        self.status = status
        self.comment = comment

    def status_dataset(self):
        return status_dataset(self.status, self.comment)


def status_dataset(status, comment):
    """A status with its Error Comment, as pynetdicom takes it from a handler."""
    dataset = Dataset()
    dataset.Status = status
    dataset.ErrorComment = comment[:ERROR_COMMENT_LENGTH]
    return dataset


# --- The request ----------------------------------------------------------------------

# Where an answer value comes from.
FIXED, MAIN_TAG, COMPUTED, DATA_SET = "fixed", "main tag", "computed", "data set"


@dataclass(frozen=True)
class ReturnKey:
    """One key of the answers, and where its value comes from: a FIXED value, a MAIN_TAG of
    the level or one above (`where` is (relation path, keyword)), a COMPUTED key (`where`
    is the keyword), or the DATA_SET of the first instance (`where` is the DICOM JSON key)."""

    tag: BaseTag
    vr: str
    source: str
    where: object = None


CHARSET_KEY = ReturnKey(BaseTag(SPECIFIC_CHARACTER_SET), "CS", FIXED)


@dataclass(frozen=True)
class Request:
    model: str
    level: levels.Level
    matching: dict  # 'ggggeeee' -> matching string, for explorer.query
    keys: tuple  # ReturnKey, in tag order
    charset: tuple  # the query's SpecificCharacterSet values; () when it has none

    @property
    def keys_by_source(self):
        grouped = {}
        for key in self.keys:
            grouped.setdefault(key.source, []).append(key)
        return grouped


def parse_request(identifier, model):
    """The request a C-FIND identifier makes in an information model (PATIENT_ROOT or
    STUDY_ROOT). Raises FindRefused when the level is missing, unknown or not in the model."""
    level = level_of(identifier, model)
    log_missing_unique_keys(identifier, model, level)
    matching, keys = {}, []
    for tag in sorted(identifier.keys()):
        if tag.element == 0 or tag in ALWAYS_ANSWERED:
            continue  # group lengths carry nothing; the others are answered anyway
        element = readable_element(identifier, tag)
        if element.VR != "SQ":
            text = matching_text(element)
            if text:
                matching[f"{int(tag):08X}"] = text
        keys.append(return_key(level, tag, answer_vr(tag, element.VR)))
    keys.extend(fixed_keys(level))
    keys = tuple(sorted(keys, key=lambda key: key.tag))
    return Request(model, level, matching, keys, query_charset(identifier))


def level_of(identifier, model):
    if model not in LEVELS_OF_MODEL:
        raise FindRefused(SOP_CLASS_NOT_SUPPORTED, "Only Patient Root and Study Root queries are supported")
    text = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    if not text:
        raise FindRefused(IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, "The query has no QueryRetrieveLevel")
    level = levels.BY_QUERY_LEVEL.get(text)
    if level is None:
        raise FindRefused(IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, f"Unknown QueryRetrieveLevel {text!r}")
    if level not in LEVELS_OF_MODEL[model]:
        raise FindRefused(IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, f"No {text} level in the {model} root model")
    return level


def log_missing_unique_keys(identifier, model, level):
    missing = [keyword for keyword in UNIQUE_KEYS_ABOVE[model][level] if keyword not in identifier]
    if missing:
        shown = ", ".join(missing)
        logger.debug("C-FIND at %s level without %s: matched as universal", level.query_level, shown)


def readable_element(identifier, tag):
    """The element, its value converted by pydicom; the raw element when pydicom cannot
    convert the value (a wildcard in an IS, say), whose bytes matching_text reads."""
    try:
        return identifier[tag]
    except Exception:
        return identifier.get_item(tag)


def matching_text(element):
    """The value as a matching string: several values joined by '\\' (a list to match)."""
    value = element.value
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1").strip(" \x00")
    if isinstance(value, (MultiValue, list, tuple)):
        return "\\".join("" if item is None else str(item) for item in value).strip(" ")
    return str(value).strip(" ")


def answer_vr(tag, request_vr):
    """The dictionary's VR (the first of an undecided 'US or SS'); the request's for a tag
    the dictionary does not know."""
    vr = query.vr_of(tag)
    if vr == "UN" and request_vr and " or " not in request_vr:
        return request_vr
    return vr.split(" or ")[0]


def return_key(level, tag, vr):
    if vr == "SQ":
        return ReturnKey(tag, vr, DATA_SET, f"{int(tag):08X}")
    keyword = keyword_for_tag(tag)
    if keyword in COUNTED_KEYS or keyword in COLLECTED_KEYS:
        computed_at = (COUNTED_KEYS.get(keyword) or COLLECTED_KEYS[keyword])[0]
        if computed_at is level:
            return ReturnKey(tag, vr, COMPUTED, keyword)
    path = main_tag_path(level, keyword)
    if path is not None:
        return ReturnKey(tag, vr, MAIN_TAG, (path, keyword))
    # A main tag of a lower level too: the first instance's value, as Orthanc reads it
    # from the file.
    return ReturnKey(tag, vr, DATA_SET, f"{int(tag):08X}")


def main_tag_path(level, keyword):
    """The relation path to the nearest level (this one or above) keeping the main tag."""
    for owner, path in query.PATHS_UP[level]:
        if keyword in owner.main_tags:
            return path
    return None


def fixed_keys(level):
    return [
        ReturnKey(BaseTag(QUERY_RETRIEVE_LEVEL), "CS", FIXED, level.query_level),
        ReturnKey(BaseTag(RETRIEVE_AE_TITLE), "AE", FIXED, settings.PHAROS_AET),
    ]


def query_charset(identifier):
    element = identifier.get(SPECIFIC_CHARACTER_SET)
    if element is None or not element.value:
        return ()
    value = element.value
    return tuple(value) if isinstance(value, (MultiValue, list, tuple)) else (value,)


# --- Matching and reading what the answers need ---------------------------------------


def case_rule():
    """Orthanc's C-FIND SCP: PN ignores case unless CaseSensitivePN; nothing else does."""
    return frozenset() if settings.PHAROS_DICOM_CASE_SENSITIVE_PN else frozenset({"PN"})


@dataclass
class Found:
    """The matches of a request: one row per answer, (pk, main tag texts..., data set
    elements...), where each key's value is in the row (`columns`: by ReturnKey.where), and
    the computed values by key and pk."""

    request: Request
    rows: list
    truncated: bool
    computed: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.rows)

    def answers(self):
        """The answer identifiers as Datasets, built one at a time."""
        for row in self.rows:
            yield self.answer(row)

    def answer(self, row):
        values, charset = self.answer_values(row)
        plain, sequences = {}, []
        for key, value in zip(self.request.keys, values):
            element = element_of(key, value)
            if element.VR == "SQ":
                sequences.append(element)
            else:
                plain[element.tag] = element
        plain[CHARSET_KEY.tag] = text_element(CHARSET_KEY.tag, CHARSET_KEY.vr, charset)
        # Filled at once: adding elements one by one checks each, which is most of the
        # time of a long answer. Sequences still go through add(), which links their items.
        dataset = Dataset(plain)
        for sequence in sequences:
            dataset.add(sequence)
        return dataset

    def encoded_answers(self, writer):
        """The answer identifiers as bytes, written by a find_encoding.IdentifierWriter
        without a Dataset in between, one at a time."""
        charset_at = sum(1 for key in self.request.keys if key.tag < CHARSET_KEY.tag)
        keys = (*self.request.keys[:charset_at], CHARSET_KEY, *self.request.keys[charset_at:])
        for row in self.rows:
            values, charset = self.answer_values(row)
            values.insert(charset_at, (CHARSET_KEY.vr, charset))
            try:
                elements = [encoded_value(writer, key, value, charset) for key, value in zip(keys, values)]
            except Exception as error:  # a stored value pydicom cannot write in the answer's character set
                raise FindRefused(CANNOT_ENCODE, "An answer cannot be encoded") from error
            yield writer.identifier(elements)

    def answer_values(self, row):
        """The values of an answer's keys, in the keys' order: a (VR, text) pair for a text
        (several values joined by '\\'; the VR is the stored one for a text of the data set),
        a DataElement for what is no text (sequences, binary numbers); and the answer's
        character set."""
        values = []
        foreign = []  # the texts outside ASCII, which decide the character set
        for key in self.request.keys:
            if key.source == DATA_SET:
                value = data_set_value(key, row[self.columns[key.where]])
            else:
                value = (key.vr, self.text_of(key, row) or "")
            if type(value) is tuple:
                if value[0] in CHARSET_VRS and not value[1].isascii():
                    foreign.append(value[1])
            else:
                foreign.extend(non_ascii_texts(value))
            values.append(value)
        return values, answer_charset(self.request.charset, foreign)

    def text_of(self, key, row):
        """The text of a key that is not read from the data set; None when absent."""
        if key.source == MAIN_TAG:
            return row[self.columns[key.where]]
        if key.source == COMPUTED:
            return self.computed[key.where][row[0]]
        return key.where


def search(request, limit=None):
    """The matches of a request, at most `limit` (None: the setting; 0: no limit).
    Raises FindRefused for a query that cannot be matched (a wildcard on a date)."""
    limit = settings.PHAROS_DICOM_LIMIT_FIND_RESULTS if limit is None else limit
    try:
        constraints = query.constraints_for(request.level, request.matching, case_insensitive_vr=case_rule())
    except PharosError as error:  # ParameterOutOfRange: a wildcard on a date or a time
        raise FindRefused(UNABLE_TO_PROCESS, str(error)) from error
    plan = query.plan_for(request.level, constraints)
    grouped = request.keys_by_source
    main_tags = tuple(sorted({key.where for key in grouped.get(MAIN_TAG, [])}))
    data_set_keys = tuple(sorted({key.where for key in grouped.get(DATA_SET, [])}))
    rows = matching_rows(plan, main_tags, data_set_keys, limit + 1 if limit else None)
    truncated = bool(limit) and len(rows) > limit
    if truncated:
        del rows[limit:]
    computed_keywords = [key.where for key in grouped.get(COMPUTED, [])]
    computed = computed_values(computed_keywords, answer_set(plan, rows, limit))
    columns = {where: index for index, where in enumerate((*main_tags, *data_set_keys), start=1)}
    return Found(request, rows, truncated, computed, columns)


def answer_set(plan, rows, limit):
    """The answers' primary keys for the computed keys' queries: the list when it is short
    or when SQL alone did not find them, else the matching query itself (a long list of ids
    costs more to send than to recompute)."""
    if plan.in_dataset or len(rows) <= SHORT_ANSWER:
        return [row[0] for row in rows]
    pks = query.candidates(plan).values("pk")
    return pks[:limit] if limit else pks


def matching_rows(plan, main_tags, data_set_keys, wanted):
    """(pk, text of each main tag..., data set element of each key...) of the matches, by
    primary key, at most `wanted` (None: all). Main tags are (relation path, keyword) pairs."""
    # The texts are taken out of the JSON by the database: decoding whole main tag
    # dictionaries took longer than the query itself.
    texts = {
        f"main_tag_{n}": KeyTextTransform(keyword, f"{path}main_tags") for n, (path, keyword) in enumerate(main_tags)
    }
    aliases = {key: f"element_{n}" for n, key in enumerate(data_set_keys)}
    for constraint in plan.in_dataset:
        aliases.setdefault(constraint.dataset_key, f"element_{len(aliases)}")
    elements = {alias: query.first_instance_element(plan.level, key) for key, alias in aliases.items()}
    columns = ["pk", *texts, *(aliases[key] for key in data_set_keys)]
    checked_only = [alias for alias in elements if alias not in columns]
    rows = query.candidates(plan).annotate(**texts, **elements).values_list(*columns, *checked_only)
    if not plan.in_dataset:
        return list(rows[:wanted] if wanted else rows)
    # The other constraints are checked here on the data sets, with explorer.query's rules,
    # as its matched_in_datasets does: the same single query then also reads the answers.
    names = columns + checked_only
    checked = [names.index(aliases[constraint.dataset_key]) for constraint in plan.in_dataset]
    found = []
    for row in rows.iterator(chunk_size=2000):
        if query.matches_in_dataset(plan.in_dataset, [row[index] for index in checked]):
            found.append(row[: len(columns)])
            if wanted is not None and len(found) >= wanted:
                break
    return found


def computed_values(keywords, answers):
    """{keyword: {pk: text}} for the computed keys of the answers (a queryset of primary
    keys or a list): one GROUP BY per key (and chunk of a list), never a query per answer."""
    values = {}
    for keyword in keywords:
        if keyword in COUNTED_KEYS:
            values[keyword] = counts(*COUNTED_KEYS[keyword][1:], answers)
        else:
            values[keyword] = distinct_values(*COLLECTED_KEYS[keyword][1:], answers)
    return values


class ByAnswer(dict):
    """Computed texts by primary key, and the text of an answer the queries did not see."""

    def __init__(self, texts, missing):
        super().__init__(texts)
        self.missing = missing

    def __missing__(self, pk):
        return self.missing


def counts(model, group, answers):
    found = {}
    for among in filters_on(group, answers):
        rows = model.objects.filter(**among).values(group).annotate(n=Count("pk")).order_by()
        found.update((row[group], str(row["n"])) for row in rows)
    return ByAnswer(found, "0")


def distinct_values(model, group, column, answers):
    collected = {}
    for among in filters_on(group, answers):
        pairs = model.objects.filter(**among).values_list(group, column).distinct().order_by()
        for pk, value in pairs:
            if value:
                collected.setdefault(pk, set()).add(value)
    return ByAnswer({pk: "\\".join(sorted(found)) for pk, found in collected.items()}, "")


def filters_on(group, answers):
    """Filters keeping the rows whose `group` is one of the answers."""
    if not isinstance(answers, list):
        yield {f"{group}__in": answers}
        return
    for start in range(0, len(answers), CHUNK):
        yield {f"{group}__in": answers[start : start + CHUNK]}


# --- Answer elements ------------------------------------------------------------------


# An answer value is a (VR, text) pair or a DataElement (see Found.answer_values): plain
# tuples, as a long answer makes many of them.


def element_of(key, value):
    """An answer value as a pydicom DataElement."""
    return text_element(key.tag, *value) if type(value) is tuple else value


def encoded_value(writer, key, value, charset):
    """The bytes of an answer value: texts written directly when they can be, the rest by pydicom."""
    if type(value) is tuple:
        encoded = writer.text(key.tag, value[0], value[1], charset)
        if encoded is not None:
            return encoded
    return writer.element(element_of(key, value), charset)


def new_element(tag, vr, value):
    # The values come from data sets pydicom read and checked when they were stored.
    return DataElement(tag, vr, value, validation_mode=pydicom_config.IGNORE)


def empty_value(vr):
    if vr == "SQ":
        return []
    if vr in INTEGER_VRS or vr in FLOAT_VRS:
        return None
    return ""


def text_element(tag, vr, text):
    """An element of a VR from a text (None or "" for an empty one)."""
    text = text or ""
    if vr in CONVERTED_VRS:
        return converted_element(tag, vr, text)
    # Most answer values are texts as they will be written: pydicom's conversion, the larger
    # part of building a long answer, would only check and wrap them. It is done here, for less.
    if "\\" in text and vr not in ALLOW_BACKSLASH:
        value = MultiValue(partial(single_value, vr), text.split("\\"))
    else:
        value = single_value(vr, text)
    return pydicom_compat.element_as_converted(tag, vr, value)


def converted_element(tag, vr, text):
    """Binary numbers and sequences as pydicom converts them; empty when the text is no
    value of the VR."""
    try:
        return new_element(tag, vr, typed_value(vr, text))
    except (ValueError, TypeError, OverflowError):
        return new_element(tag, vr, empty_value(vr))


def single_value(vr, text):
    """One value of a VR as pydicom holds it: a PersonName, an IS or DS, or the text."""
    if vr == "PN":
        return PersonName(text)
    number_type = NUMBER_TEXT_TYPES.get(vr)
    if number_type is None or not text:
        return text
    try:
        return number_type(text, validation_mode=pydicom_config.IGNORE)
    except (ValueError, TypeError, OverflowError):
        return ""  # an IS that is no number


def typed_value(vr, text):
    if not text:
        return empty_value(vr)
    if vr in INTEGER_VRS:
        return [int(item) for item in text.split("\\")]
    if vr in FLOAT_VRS:
        return [float(item) for item in text.split("\\")]
    return text


def no_bulk_data(tag, vr, uri):
    # A C-FIND answer carries no bulk data: a value kept as a reference comes back empty.
    return b""


def data_set_value(key, element_json):
    """An answer value from its stored DICOM JSON: a (VR, text) pair, or a DataElement for
    the rest (sequences with their items, binary numbers); empty when the first instance has
    no such tag."""
    if not isinstance(element_json, dict):
        return key.vr, ""
    text = json_text(element_json)
    if text is not None:
        return element_json.get("vr") or key.vr, text
    try:
        dataset = Dataset.from_json({key.where: element_json}, bulk_data_uri_handler=no_bulk_data)
        return respell_decimals(dataset)[key.tag]
    except Exception as error:  # a stored value pydicom cannot read back
        logger.warning("C-FIND: cannot answer tag %s from the stored data set: %s", key.where, error)
        return key.vr, ""


def json_text(element_json):
    """The value of a DICOM JSON element of a text or number string VR as one text, as
    main tags are kept; None for the others (sequences, binary values), which pydicom reads.
    Dataset.from_json would give the same element, for many times the work."""
    vr = element_json.get("vr")
    if vr not in JSON_TEXT_VRS or "BulkDataURI" in element_json or "InlineBinary" in element_json:
        return None
    values = element_json.get("Value") or []
    if vr == "PN":
        return "\\".join(person_name_text(name) for name in values)
    if vr == "DS":
        return "\\".join("" if number is None else decimal_text(number) for number in values)
    return "\\".join("" if value is None else str(value) for value in values)


def person_name_text(name):
    """A DICOM JSON person name as PN text: its groups joined by '=', empty trailing ones dropped."""
    if not isinstance(name, dict):
        return "" if name is None else str(name)
    groups = [name.get("Alphabetic", ""), name.get("Ideographic", ""), name.get("Phonetic", "")]
    while groups and not groups[-1]:
        groups.pop()
    return "=".join(groups)


def respell_decimals(dataset):
    """DS values in their shortest spelling: DICOM JSON keeps them as numbers, which pydicom
    gives back as "120.0" for a file's "120"."""
    for element in dataset.iterall():
        if element.VR == "DS" and element.value not in (None, ""):
            numbers = element.value if isinstance(element.value, MultiValue) else [element.value]
            texts = ("" if number is None else decimal_text(float(number)) for number in numbers)
            element.value = "\\".join(texts)
    return dataset


def decimal_text(number):
    if isinstance(number, str):
        return number
    if float(number).is_integer() and abs(number) < 1e15:
        return str(int(number))
    text = repr(float(number))
    return text if len(text) <= 16 else format_number_as_ds(float(number))  # DS holds 16 characters


# --- Character set --------------------------------------------------------------------


def answer_charset(charset, foreign_texts):
    """The query's character set when every text of the answer outside ASCII fits in it,
    else UTF-8. A query without one asked in the default repertoire (ASCII)."""
    if foreign_texts:
        codecs = python_codecs(charset)
        if codecs is None or not all(fits(c, codecs) for text in foreign_texts for c in set(text)):
            return UTF8
    return "\\".join(charset)


def non_ascii_texts(element):
    """The texts outside ASCII of an element, its sequence items included."""
    if element.VR == "SQ":
        return [text for item in element.value for inner in item for text in non_ascii_texts(inner)]
    if element.VR not in CHARSET_VRS or element.value is None:
        return []
    values = element.value if isinstance(element.value, (MultiValue, list)) else [element.value]
    return [str(value) for value in values if value is not None and not str(value).isascii()]


def python_codecs(charset):
    """The Python codecs of a SpecificCharacterSet, or None when one term is unknown."""
    codecs = []
    for term in charset or ("",):
        term = (term or "").strip()
        codec = "ascii" if term in ASCII_TERMS else python_encoding.get(term)
        if codec is None:
            return None
        codecs.append(codec)
    return tuple(codecs)


@lru_cache(maxsize=8192)
def fits(character, codecs):
    """Whether one of the codecs (ISO 2022 code extensions let them mix) has the character."""
    return any(encodes(character, codec) for codec in codecs)


def encodes(character, codec):
    try:
        encoded = character.encode(codec)
    except (UnicodeError, LookupError):
        return False
    # pydicom writes ISO_IR 13 as JIS X 0201, single bytes: Shift JIS's kanji are not in it.
    return len(encoded) == 1 if codec == "shift_jis" else True


# --- Putting it together --------------------------------------------------------------


def find_answers(identifier, model=STUDY_ROOT, limit=None):
    """The answer identifiers to a C-FIND identifier (a Dataset), without the network:
    at most `limit` (None: the setting; 0: all). Raises FindRefused."""
    return list(search(parse_request(identifier, model), limit).answers())


def peer_aet(event):
    return event.assoc.requestor.ae_title.strip()


def answers(event):
    """pynetdicom's EVT_C_FIND handler, after the access check: (status, identifier) pairs."""
    aet = peer_aet(event)
    try:
        model = MODEL_OF_SOP_CLASS.get(str(event.request.AffectedSOPClassUID))
        found = search(parse_request(decoded_identifier(event), model))
    except FindRefused as refusal:
        logger.warning("C-FIND from %s refused (0x%04X): %s", aet, refusal.status, refusal.comment)
        yield refusal.status_dataset(), None
        return
    except DatabaseError as error:
        logger.error("C-FIND from %s failed: %s", aet, error)
        yield status_dataset(DATABASE_FAILURE, "The database failed"), None
        return
    logger.info("C-FIND from %s at %s level: %d answers", aet, found.request.level.query_level, len(found))
    completed = yield from pending_answers(event, found, aet)
    if completed and found.truncated:
        limit = len(found)
        logger.warning("C-FIND from %s: more than %d matches, only the first %d were sent", aet, limit, limit)
        yield status_dataset(OUT_OF_RESOURCES, f"Too many matches: only the first {limit} were sent"), None


def decoded_identifier(event):
    try:
        return event.identifier
    except Exception as error:
        raise FindRefused(IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, "The identifier cannot be decoded") from error


def pending_answers(event, found, aet):
    """One pending response per answer, written here (pynetdicom would encode each answer and
    its command set again, and its reactor would send each PDU through its state machine:
    most of the time of a long answer); False when a C-CANCEL or the end of the association
    stopped them. pynetdicom sends the final response, after these."""
    if not writes_directly(event.assoc):
        return (yield from answers_for_pynetdicom(event, found))
    responder = PendingResponder(event)
    sent = 0
    try:
        for answer in found.encoded_answers(responder.writer):
            if event.is_cancelled:
                logger.info("C-FIND from %s cancelled after %d answers", aet, sent)
                responder.flush()
                yield CANCELLED, None
                return False
            if not responder.send(answer):
                logger.info("C-FIND from %s: the association ended after %d answers", aet, sent)
                return False
            sent += 1
    except FindRefused as refusal:
        logger.error("C-FIND from %s: answer %d cannot be encoded: %r", aet, sent + 1, refusal.__cause__)
        responder.flush()
        yield refusal.status_dataset(), None
        return False
    return responder.flush()


def answers_for_pynetdicom(event, found):
    """pending_answers on pynetdicom's own association (PHAROS_FAST_PATHS=off): each answer
    a Dataset that pynetdicom encodes and sends."""
    for answer in found.answers():
        if event.is_cancelled:
            yield CANCELLED, None
            return False
        yield PENDING, answer
    return True
