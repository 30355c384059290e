"""C-FIND to a modality, and the identifiers every query and retrieve sends: a query
{keyword or 'gggg,eeee': value} becomes a pydicom Dataset, normalised at the query's
level the way Orthanc does it; a key or value that cannot be encoded is a `BadQuery`."""

import logging
import re

import pydicom
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pynetdicom import build_context
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
)
from pynetdicom.status import QR_FIND_SERVICE_CLASS_STATUS

from dicomnet.scu.association import LITTLE_ENDIAN, PENDING, SUCCESS, Session, status_text
from dicomnet.scu.errors import BadQuery, RemoteFailure, failure_text
from explorer import levels

logger = logging.getLogger("dicomnet")

# Orthanc's normalisation of a C-FIND (DicomControlUserConnection): besides the main tags
# of the level and the levels above, each level allows its computed keys (and, at the
# instance level, SOPClassUID, which a retrieve decision often needs)...
LEVEL_RETURN_KEYS = {
    "Patient": ("NumberOfPatientRelatedStudies", "NumberOfPatientRelatedSeries", "NumberOfPatientRelatedInstances"),
    "Study": ("ModalitiesInStudy", "SOPClassesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances"),
    "Series": ("NumberOfSeriesRelatedInstances",),
    "Instance": ("SOPClassUID",),
}
# ...and asks for the keys a retrieve will need, empty when the query does not give them.
EXPECTED_KEYS = {
    "Patient": ("PatientID",),
    "Study": ("PatientID", "AccessionNumber", "StudyInstanceUID"),
    "Series": ("PatientID", "AccessionNumber", "StudyInstanceUID", "SeriesInstanceUID"),
    "Instance": ("PatientID", "AccessionNumber", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"),
}
# The unique keys a C-MOVE / C-GET identifier carries at each level (Study Root above the
# patient level, as Orthanc sends them).
RETRIEVE_KEYS = {
    "Patient": ("PatientID",),
    "Study": ("StudyInstanceUID",),
    "Series": ("StudyInstanceUID", "SeriesInstanceUID"),
    "Instance": ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"),
}
BINARY_NUMBER_VRS = {"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "AT"}


# --- Identifiers ------------------------------------------------------------------------------


def level_of(level):
    if isinstance(level, levels.Level):
        return level
    found = levels.level_named(str(level or ""))
    if found is None:
        raise BadQuery(f"Unknown query level {level!r}: use Patient, Study, Series or Instance")
    return found


def model_for(level, patient_root, study_root):
    # Study Root has no patient level (PS3.4 C.6.2).
    return patient_root if level is levels.PATIENT else study_root


def _tag_of(key):
    """A Tag from a keyword or 'gggg,eeee' (also 'ggggeeee'), or None."""
    text = str(key).strip()
    match = re.fullmatch(r"\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?", text)
    if match:
        return Tag(int(match.group(1), 16), int(match.group(2), 16))
    found = tag_for_keyword(text)
    return Tag(found) if found is not None else None


def _vr_of(tag):
    try:
        return dictionary_VR(tag).split(" or ")[0]  # "US or SS" → US
    except KeyError:
        return None


def _element_value(key, vr, text):
    text = "" if text is None else str(text)
    if vr == "SQ":
        if text:
            raise BadQuery(f"{key}: a sequence can only be asked for, with an empty value")
        return []
    if vr in BINARY_NUMBER_VRS:
        if not text:
            return None
        try:
            return [_number(vr, v) for v in text.split("\\")]
        except ValueError as error:
            raise BadQuery(f"{key}: {text!r} is not a number") from error
    return text


def _number(vr, text):
    if vr in ("FL", "FD"):
        return float(text)
    return int(text.replace(",", ""), 16) if vr == "AT" else int(text)


def _put(dataset, key, tag, text):
    vr = _vr_of(tag)
    if vr is None:
        raise BadQuery(f"Unknown DICOM tag {key!r}")
    # Wildcards and ranges are not valid values of their VR; in a query they are the point.
    dataset[tag] = DataElement(tag, vr, _element_value(key, vr, text), validation_mode=pydicom.config.IGNORE)


def _set_character_set(dataset, values):
    """UTF-8 when a value is not ASCII and the query names no character set of its own."""
    if any(not str(value or "").isascii() for value in values) and not dataset.get("SpecificCharacterSet"):
        dataset.SpecificCharacterSet = "ISO_IR 192"


def _allowed_tags(level):
    keywords = [keyword for above in levels.LEVELS[: levels.LEVELS.index(level) + 1] for keyword in above.main_tags]
    keywords += [*LEVEL_RETURN_KEYS[level.name], "SpecificCharacterSet"]
    return {Tag(tag_for_keyword(keyword)) for keyword in keywords}


def _find_identifier(level, query, normalize):
    """The C-FIND identifier for a query {keyword or 'gggg,eeee': value}, and the keys dropped."""
    identifier, dropped = Dataset(), []
    allowed = _allowed_tags(level) if normalize else None
    query_level_tag = Tag(tag_for_keyword("QueryRetrieveLevel"))
    for key, value in query.items():
        tag = _tag_of(key)
        if tag == query_level_tag:
            continue  # set from `level`
        if normalize and tag not in allowed:
            dropped.append(key)
            continue
        if tag is None:
            raise BadQuery(f"Unknown DICOM tag {key!r}")
        _put(identifier, key, tag, value)
    if normalize:
        for keyword in EXPECTED_KEYS[level.name]:
            if keyword not in identifier:
                _put(identifier, keyword, Tag(tag_for_keyword(keyword)), "")
    identifier.QueryRetrieveLevel = level.query_level
    _set_character_set(identifier, query.values())
    return identifier, dropped


def retrieve_identifier(level, keys):
    """The C-MOVE / C-GET identifier for {keyword or 'gggg,eeee': value}: the level's unique
    key, and those above it when given (Orthanc sends no other key)."""
    values = {}
    for key, value in keys.items():
        tag = _tag_of(key)
        if tag is None:
            raise BadQuery(f"Unknown DICOM tag {key!r}")
        values[keyword_for_tag(tag)] = "" if value is None else str(value).strip()
    if not values.get(level.identifier):
        raise BadQuery(f"A {level.name} level retrieve needs {level.identifier}")
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level.query_level
    for keyword in RETRIEVE_KEYS[level.name]:
        if values.get(keyword):
            setattr(identifier, keyword, values[keyword])
    _set_character_set(identifier, values.values())
    return identifier


def as_orthanc_query(level, keys):
    """An identifier as Orthanc shows it in a job's content: {'gggg,eeee': value}."""
    shown = {"0008,0052": level.query_level}
    for key, value in keys.items():
        tag = _tag_of(key)
        shown[f"{tag.group:04x},{tag.element:04x}"] = "" if value is None else str(value)
    return dict(sorted(shown.items()))


# --- C-FIND -----------------------------------------------------------------------------------


def find(modality, level, query, normalize=True):
    """C-FIND at a level (Patient, Study, Series, Instance) in the Study Root model (Patient
    Root at the patient level). Returns (answers as pydicom Datasets, keys dropped by the
    normalisation)."""
    level = level_of(level)
    identifier, dropped = _find_identifier(level, query, normalize)
    if dropped:
        logger.info("C-FIND to %s: keys not allowed at the %s level, ignored: %s", modality.aet, level.name, dropped)
    model = model_for(level, PatientRootQueryRetrieveInformationModelFind, StudyRootQueryRetrieveInformationModelFind)
    answers = []
    with Session(modality, [build_context(model, list(LITTLE_ENDIAN))]) as session:
        for status, answer in session.association().send_c_find(identifier, model):
            if "Status" not in status:
                raise session.lost("C-FIND to")
            if status.Status in PENDING:
                if answer is not None:
                    answers.append(answer)
                continue
            if status.Status != SUCCESS:
                reason = f"C-FIND failed with status {status_text(status.Status, QR_FIND_SERVICE_CLASS_STATUS)}"
                raise RemoteFailure(failure_text(modality, "C-FIND to", reason), status.Status)
    return answers, dropped
