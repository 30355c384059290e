"""The C-FIND SCP: Patient Root and Study Root queries answered from the index alone.

A query goes through three steps, each a plain function that tests call directly:

- `parse_request` reads the identifier: the level (checked against the information model),
  the matching keys (every non-empty value but sequences), and the return keys with where
  each answer value comes from.
- `search` builds the constraints with Orthanc's C-FIND case rule (PN ignores case, nothing
  else does) and asks `explorer.query.search`, the search REST /tools/find goes through too,
  for everything the answers need: main tags of the level and the levels above, elements of
  the first instance's stored data set, computed keys (counts, ModalitiesInStudy,
  SOPClassesInStudy). No stored file is ever opened.
- `Found.encoded_answers` writes the identifiers one at a time (a generator: a long answer is
  never held twice) as bytes, with dicomnet.wire.find_encoding, each in the query's character set
  when its values fit, in UTF-8 otherwise (the values: dicomnet.find_answers);
  `Found.answers` gives the same as Datasets.

`answers(event)` adapts this to pynetdicom's EVT_C_FIND, sending the pending responses itself;
`find_answers` runs it all at once, without the network.
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag

from dicomnet.find_answers import (
    answer_charset,
    data_set_value,
    default_charset,
    element_of,
    encoded_value,
    non_ascii_texts,
    text_element,
)
from dicomnet.wire.find_encoding import CHARSET_VRS, PENDING
from dicomnet.wire.pending import PendingResponder, writes_directly
from explorer import levels, matching, query
from explorer.errors import PharosError

logger = logging.getLogger("dicomnet")

PATIENT_ROOT = "patient"
STUDY_ROOT = "study"
MODEL_OF_SOP_CLASS = {
    "1.2.840.10008.5.1.4.1.2.1.1": PATIENT_ROOT,  # Patient Root Query/Retrieve Information Model - FIND
    "1.2.840.10008.5.1.4.1.2.2.1": STUDY_ROOT,  # Study Root Query/Retrieve Information Model - FIND
}
# The names of the levels Orthanc reads in a QueryRetrieveLevel (its StringToResourceType),
# in either information model: Orthanc does not check that a level belongs to the model.
QUERY_LEVELS = {
    "PATIENT": levels.PATIENT,
    "PATIENTS": levels.PATIENT,
    "STUDY": levels.STUDY,
    "STUDIES": levels.STUDY,
    "SERIES": levels.SERIES,
    "IMAGE": levels.INSTANCE,
    "IMAGES": levels.INSTANCE,
    "INSTANCE": levels.INSTANCE,
    "INSTANCES": levels.INSTANCE,
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
        levels.PATIENT: (),
        levels.STUDY: (),
        levels.SERIES: ("StudyInstanceUID",),
        levels.INSTANCE: ("StudyInstanceUID", "SeriesInstanceUID"),
    },
}

# PS3.4 C.4.1.1.4, Table C.4-1 (pending responses: dicomnet.wire.find_encoding).
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
UNABLE_TO_PROCESS = 0xC000  # Orthanc's answer to a wildcard on a date, or to a level it does not know
DATABASE_FAILURE = 0xC001
CANNOT_ENCODE = 0xC312  # pynetdicom's failure for an answer it cannot encode

FILE_META_GROUP = 0x0002  # never in a data set: Orthanc neither matches nor answers it
QUERY_RETRIEVE_LEVEL = 0x00080052
SPECIFIC_CHARACTER_SET = 0x00080005
RETRIEVE_AE_TITLE = 0x00080054
# Keys every answer has, whatever the query asks for.
ALWAYS_ANSWERED = (SPECIFIC_CHARACTER_SET, QUERY_RETRIEVE_LEVEL, RETRIEVE_AE_TITLE)

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
    the level or one above or a COMPUTED key (`where` is the keyword), or the DATA_SET of
    the first instance (`where` is the DICOM JSON key)."""

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
    STUDY_ROOT). Raises FindRefused when the model is not one of them, or the level is
    missing or unknown."""
    level, level_text = level_of(identifier, model)
    log_missing_unique_keys(identifier, model, level)
    matching, keys = {}, []
    for tag in sorted(identifier.keys()):
        if tag.element == 0 or tag.group == FILE_META_GROUP or tag in ALWAYS_ANSWERED:
            continue  # group lengths carry nothing; the others are answered anyway
        element = readable_element(identifier, tag)
        if element.VR != "SQ":
            text = matching_text(element)
            if text:
                matching[f"{int(tag):08X}"] = text
        keys.append(return_key(level, tag, answer_vr(tag, element.VR)))
    keys.extend(fixed_keys(level_text))
    keys = tuple(sorted(keys, key=lambda key: key.tag))
    # Without a SpecificCharacterSet in the query, the answers are in DefaultEncoding's, as
    # Orthanc's are.
    return Request(model, level, matching, keys, query_charset(identifier) or default_charset())


def level_of(identifier, model):
    """The level of a query and its name as the query spells it (which the answers repeat,
    as Orthanc's do: IMAGES stays IMAGES)."""
    if model not in UNIQUE_KEYS_ABOVE:
        raise FindRefused(SOP_CLASS_NOT_SUPPORTED, "Only Patient Root and Study Root queries are supported")
    text = str(identifier.get("QueryRetrieveLevel", "") or "").strip()
    if not text:
        raise FindRefused(UNABLE_TO_PROCESS, "The query has no QueryRetrieveLevel")
    level = QUERY_LEVELS.get(text.upper())
    if level is None:
        raise FindRefused(UNABLE_TO_PROCESS, f"Unknown QueryRetrieveLevel {text!r}")
    return level, text


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
    vr = matching.vr_of(tag)
    if vr == "UN" and request_vr and " or " not in request_vr:
        return request_vr
    return vr.split(" or ")[0]


def return_key(level, tag, vr):
    if vr == "SQ":
        return ReturnKey(tag, vr, DATA_SET, f"{int(tag):08X}")
    keyword = keyword_for_tag(tag)
    if query.computed_at(keyword) is level:
        return ReturnKey(tag, vr, COMPUTED, keyword)
    if query.main_tag_path(level, keyword) is not None:
        return ReturnKey(tag, vr, MAIN_TAG, keyword)
    # A main tag of a lower level too: the first instance's value, as Orthanc reads it
    # from the file.
    return ReturnKey(tag, vr, DATA_SET, f"{int(tag):08X}")


def fixed_keys(level_text):
    return [
        ReturnKey(BaseTag(QUERY_RETRIEVE_LEVEL), "CS", FIXED, level_text),
        ReturnKey(BaseTag(RETRIEVE_AE_TITLE), "AE", FIXED, settings.PHAROS_AET),
    ]


def query_charset(identifier):
    element = identifier.get(SPECIFIC_CHARACTER_SET)
    if element is None or not element.value:
        return ()
    value = element.value
    return tuple(value) if isinstance(value, (MultiValue, list, tuple)) else (value,)


# --- The search and the answers -------------------------------------------------------


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


def limit_for(level):
    """Orthanc's caps: LimitFindInstances for instances, LimitFindResults for the other levels."""
    if level is levels.INSTANCE:
        return settings.PHAROS_DICOM_LIMIT_FIND_INSTANCES
    return settings.PHAROS_DICOM_LIMIT_FIND_RESULTS


def search(request, limit=None):
    """The matches of a request through explorer.query.search, at most `limit` (None: the
    setting of the level, limit_for; 0: no limit). Raises FindRefused for a query that cannot
    be matched (a wildcard on a date)."""
    limit = limit_for(request.level) if limit is None else limit
    try:
        constraints = matching.constraints_for(request.level, request.matching, case_insensitive_vr=case_rule())
    except PharosError as error:  # ParameterOutOfRange: a wildcard on a date or a time
        raise FindRefused(UNABLE_TO_PROCESS, str(error)) from error
    grouped = request.keys_by_source
    found = query.search(
        request.level,
        constraints,
        main_tags=sorted({key.where for key in grouped.get(MAIN_TAG, [])}),
        elements=sorted({key.where for key in grouped.get(DATA_SET, [])}),
        computed=[key.where for key in grouped.get(COMPUTED, [])],
        limit=limit or None,
    )
    # The search names its columns by keyword and DICOM JSON key, as ReturnKey.where does.
    return Found(request, found.rows, found.truncated, found.computed, found.columns)


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
