"""What /modify and /anonymize do to one data set, as Orthanc 1.10.1's DicomModification.

A Modification is parsed once from a request body and applied to every instance of the
resource; its UID map (original -> new, per level) makes the instances of one study stay one
study and the references between them follow. The order of Orthanc's Apply() is kept:
private tags, emptyings, removals, replacements, new identifiers below the modified level,
then (anonymization only) the relationships inside sequences, then the paths into sequences.
Nothing here decodes pixel data or copies it.
"""

import base64
import re
import uuid

from pydicom.datadict import dictionary_VR, private_dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, generate_uid

from explorer import anonymization, levels
from explorer.errors import BadFileFormat, BadRequest, ParameterOutOfRange, PharosError, UnknownDicomTag

PATIENT_ID, PATIENT_NAME = 0x00100020, 0x00100010
STUDY_UID, SERIES_UID, SOP_UID, SOP_CLASS_UID = 0x0020000D, 0x0020000E, 0x00080018, 0x00080016
REFERENCED_SOP_INSTANCE_UID = 0x00081155
REFERENCED_IMAGE_SEQUENCE, SOURCE_IMAGE_SEQUENCE = 0x00081140, 0x00082112
# In RT-STRUCT, ReferencedFrameOfReferenceSequence / RTReferencedStudySequence /
# ReferencedSOPInstanceUID holds a StudyInstanceUID (Orthanc, test_anonymize_relationships_5).
RT_STUDY_REFERENCE = (0x30060010, 0x30060012)
DATABASE_KEYS = frozenset((PATIENT_ID, STUDY_UID, SERIES_UID, SOP_UID))
RANK = {levels.PATIENT: 0, levels.STUDY: 1, levels.SERIES: 2, levels.INSTANCE: 3}
# DCMTK's isaString(): the VRs whose values Orthanc's visitor sees as text.
STRING_VRS = frozenset("AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT".split())
INT_VRS = {"US": int, "SS": int, "UL": int, "SL": int, "UV": int, "SV": int, "FL": float, "FD": float}
_HEX_TAG = re.compile(r"^\(?([0-9a-fA-F]{4})[-,]?([0-9a-fA-F]{4})\)?$")
_DATA_URI = re.compile(r"^data:[^;,]*;base64,", re.ASCII)


class BadParameterType(PharosError):
    http_status, orthanc_status, orthanc_error = 400, 5, "Bad type for a parameter"


def parse_tag(text):
    """Orthanc's DicomPath::ParseTag: "(gggg,eeee)", "gggg,eeee", "gggg-eeee", "ggggeeee" or a keyword."""
    text = text.strip()
    match = _HEX_TAG.match(text)
    if match:
        return int(match.group(1) + match.group(2), 16)
    tag = tag_for_keyword(text) if text else None
    if tag is None:
        raise UnknownDicomTag(f'Unknown DICOM tag: "{text}"')
    return tag


def parse_path(text):
    """A tag path as Orthanc 1.9.4+ (dcmodify's syntax): "Seq[0].Seq[*].Tag" ->
    (((tag, index or None for *), ...), final tag)."""
    tokens = text.split(".")
    final = parse_tag(tokens[-1])
    prefix = []
    for token in tokens[:-1]:
        left, bracket, right = token.partition("[")
        if not bracket:
            raise ParameterOutOfRange("Parent path doesn't contain an index")
        if not left.strip():
            raise ParameterOutOfRange("Parent path doesn't contain a tag")
        right = right.strip()
        if not right.endswith("]"):
            raise ParameterOutOfRange("Parent path doesn't contain the end of the index")
        tag = parse_tag(left)
        index = right[:-1].strip()
        if index == "*":
            prefix.append((tag, None))
        elif re.fullmatch(r"-?[0-9]+", index):
            if int(index) < 0:
                raise ParameterOutOfRange(f"Negative index in parent path: {index}")
            prefix.append((tag, int(index)))
        else:
            raise ParameterOutOfRange(f"Not a valid index in parent path: [{right}")
    return tuple(prefix), final


def _path_matches(path, parents, tag):
    """Orthanc's DicomPath::IsMatch: the path designates the element, or a sequence it is in."""
    prefix, final = path
    if len(parents) < len(prefix):
        return False
    for (pattern_tag, pattern_index), (parent_tag, parent_index) in zip(prefix, parents, strict=False):
        if pattern_tag != parent_tag or (pattern_index is not None and pattern_index != parent_index):
            return False
    return (parents[len(prefix)][0] if len(parents) > len(prefix) else tag) == final


def _boolean(body, name, default=False):
    """Orthanc's GetBooleanValue (DicomModification.cpp)."""
    if name not in body:
        return default
    if not isinstance(body[name], bool):
        raise BadFileFormat(f'Member "{name}" should be a Boolean value')
    return body[name]


def _read_boolean(body, name):
    """Orthanc's SerializationToolbox::ReadBoolean (job options)."""
    if not isinstance(body[name], bool):
        raise BadFileFormat(f"Boolean value expected in field: {name}")
    return body[name]


def _read_string(body, name):
    if not isinstance(body[name], str):
        raise BadFileFormat(f"String value expected in field: {name}")
    return body[name]


def _bad_type(tag):
    return BadParameterType(f"Bad Parameter type for tag {tag >> 16:04x},{tag & 0xFFFF:04x}")


def _check_value(tag, value):
    """A replacement is a string, null, or a list of items (objects, or [] for an empty item)."""
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list) or not (tag & 0x10000 or _vr(tag, "") == "SQ"):
        raise _bad_type(tag)
    for item in value:
        if isinstance(item, dict):
            for name, child in item.items():
                _check_value(parse_tag(name), child)
        elif item != []:
            raise BadParameterType()


def _vr(tag, private_creator, existing=None):
    if tag & 0x10000:
        if existing is not None and existing.VR:
            return existing.VR
        try:
            return private_dictionary_VR(tag, private_creator).split(" or ")[0]
        except KeyError:
            return "UN"
    try:
        return dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        return existing.VR if existing is not None and existing.VR else "UN"


def make_element(tag, value, private_creator="", existing=None):
    """A data element from a JSON value of a body (Orthanc's FromDcmtkBridge::FromJson)."""
    vr = _vr(tag, private_creator, existing)
    if isinstance(value, list):
        if vr != "SQ":
            raise _bad_type(tag)
        items = []
        for item_value in value:
            item = Dataset()
            for name, child in (item_value or {}).items():
                child_tag = parse_tag(name)
                item[child_tag] = make_element(child_tag, child, private_creator)
            items.append(item)
        return DataElement(tag, vr, Sequence(items))
    text = value or ""
    if vr == "SQ":
        if text:
            raise _bad_type(tag)
        return DataElement(tag, vr, Sequence())
    if not text:
        return DataElement(tag, vr, None)
    if vr in INT_VRS:
        try:
            numbers = [INT_VRS[vr](part) for part in text.split("\\")]
        except ValueError as exc:
            raise BadParameterType(f"Bad value for tag {tag >> 16:04x},{tag & 0xFFFF:04x}: {text}") from exc
        return DataElement(tag, vr, numbers[0] if len(numbers) == 1 else numbers)
    if vr == "AT":
        return DataElement(tag, vr, [parse_tag(part) for part in text.split("\\")])
    if vr in STRING_VRS:
        return DataElement(tag, vr, text)
    # Binary: a data URI ("data:application/octet-stream;base64,…") is decoded, as Orthanc does.
    match = _DATA_URI.match(text)
    data = base64.b64decode(text[match.end() :]) if match else text.encode("utf-8")
    return DataElement(tag, vr, data)


def _element_vr(dataset, tag):
    raw = dataset.get_item(tag)
    vr = raw.VR if raw is not None else None
    if vr in (None, "UN") and not tag & 0x10000:
        try:
            vr = dictionary_VR(tag).split(" or ")[0]
        except KeyError:
            pass
    return vr


def _set_file_meta(dataset, tag, value):
    meta = getattr(dataset, "file_meta", None)
    if meta is not None:
        if tag == SOP_UID:
            meta.MediaStorageSOPInstanceUID = value
        elif tag == SOP_CLASS_UID:
            meta.MediaStorageSOPClassUID = value


class Modification:
    """One body of /modify or /anonymize, ready to apply to every instance of a resource."""

    def __init__(self, level, is_anonymization=False):
        self.level = level  # the level of the resource modified (its output level)
        self.is_anonymization = is_anonymization
        self.keep_source = True
        self.transcode = None
        self.asynchronous = False
        self.priority = 0
        self.permissive = False
        self.private_creator = ""
        self.remove_private_tags = False
        self._uid_level = level  # the level below which identifiers are new
        self._removals, self._clearings, self._uids = set(), set(), set()
        self._ranges = ()
        self._replacements = {}  # tag -> JSON value
        self._private_kept = set()
        self._kept_uids = set()  # of STUDY_UID, SERIES_UID, SOP_UID
        self._keep_paths, self._remove_paths, self._path_replacements = [], [], []
        self._method = None  # the DeidentificationMethod that marks an unaltered profile
        self.uid_map = {}  # (rank of level, original) -> new

    # --- building, as DicomModification's Keep/Remove/Clear/Replace -----------------------

    def _forget(self, tag):
        self._removals.discard(tag)
        self._clearings.discard(tag)
        self._uids.discard(tag)
        self._replacements.pop(tag, None)

    def _mark_altered(self):
        # A profile changed by the body is no longer the one the method tag names.
        if self._replacements.get(anonymization.DEIDENTIFICATION_METHOD) in anonymization.METHODS:
            del self._replacements[anonymization.DEIDENTIFICATION_METHOD]

    def keep(self, path):
        prefix, tag = path
        if not prefix:
            self._forget(tag)
            if tag in (STUDY_UID, SERIES_UID, SOP_UID):
                self._kept_uids.add(tag)
            elif tag & 0x10000:
                self._private_kept.add(tag)
        self._keep_paths.append(path)
        self._mark_altered()

    def remove(self, path):
        prefix, tag = path
        if prefix:
            self._remove_paths.append(path)
        else:
            self._forget(tag)
            self._removals.add(tag)
            self._private_kept.discard(tag)
        self._mark_altered()

    def replace(self, path, value, safe_for_anonymization=False):
        prefix, tag = path
        if prefix:
            self._path_replacements.append((path, value))
        else:
            self._forget(tag)
            self._private_kept.discard(tag)
            self._replacements[tag] = value
        if not safe_for_anonymization:
            self._mark_altered()

    def is_removed(self, tag):
        if tag in self._removals:
            return True
        group, element = tag >> 16, tag & 0xFFFF
        return any(g0 <= group <= g1 and e0 <= element <= e1 for g0, g1, e0, e1 in self._ranges)

    def _manually_modified(self, tag):
        return tag in self._clearings or tag in self._replacements or self.is_removed(tag)

    # --- parsing bodies -------------------------------------------------------------------

    def _parse_tags(self, body, name, force):
        values = body[name]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise BadRequest()
        verb = "kept" if name == "Keep" else "removed"
        for text in values:
            path = parse_path(text)
            if not path[0] and not force and path[1] in DATABASE_KEYS:
                raise BadRequest(f'Marking tag "{text}" as to be {verb} requires the "Force" option to be set to true')
            (self.keep if name == "Keep" else self.remove)(path)

    def _parse_replacements(self, body, force):
        values = body["Replace"]
        if not isinstance(values, dict):
            raise BadRequest()
        for text, value in values.items():
            path = parse_path(text)
            if not path[0] and not force and path[1] in DATABASE_KEYS:
                raise BadRequest(
                    f'Marking tag "{text}" as to be replaced requires the "Force" option to be set to true'
                )
            _check_value(path[1], value)
            self.replace(path, value)

    def _parse_job_options(self, body):
        if "KeepSource" in body:
            self.keep_source = _read_boolean(body, "KeepSource")
        if "Transcode" in body:
            self.transcode = _read_string(body, "Transcode")
            if not UID(self.transcode).is_transfer_syntax:
                raise ParameterOutOfRange(f"Unknown transfer syntax: {self.transcode}")
        if "Synchronous" in body:
            self.asynchronous = not _read_boolean(body, "Synchronous")
        elif "Asynchronous" in body:
            self.asynchronous = _read_boolean(body, "Asynchronous")
        if "Priority" in body:
            if isinstance(body["Priority"], bool) or not isinstance(body["Priority"], int):
                raise BadFileFormat("Integer value expected in field: Priority")
            self.priority = body["Priority"]
        if "Permissive" in body:
            self.permissive = _read_boolean(body, "Permissive")
        if "PrivateCreator" in body:
            self.private_creator = _read_string(body, "PrivateCreator")

    @classmethod
    def from_modify_body(cls, level, body):
        """Orthanc's ParseModifyRequest. `level` None: POST /instances/{id}/modify, whose
        level is the highest whose identifier is replaced (Orthanc's DetectModifyLevel)."""
        if not isinstance(body, dict):
            raise BadFileFormat()
        modification = cls(level or levels.INSTANCE)
        force = _boolean(body, "Force")
        if _boolean(body, "RemovePrivateTags"):
            modification.remove_private_tags = True
        if "Remove" in body:
            modification._parse_tags(body, "Remove", force)
        if "Replace" in body:
            modification._parse_replacements(body, force)
        if "Keep" in body:
            modification._parse_tags(body, "Keep", force)
        modification._parse_job_options(body)
        if level is None:
            replaced = modification._replacements
            for candidate, tag in (
                (levels.PATIENT, PATIENT_ID),
                (levels.STUDY, STUDY_UID),
                (levels.SERIES, SERIES_UID),
            ):
                if tag in replaced:
                    modification.level = candidate
                    break
        modification._uid_level = modification.level
        modification._check_levels()
        return modification

    @classmethod
    def from_anonymize_body(cls, level, body, patient_name=None):
        """Orthanc's ParseAnonymizationRequest. The patient's name, unless the body replaces,
        removes or keeps it, is "Anonymized<N>" (`patient_name`, or the shared counter's next)."""
        if not isinstance(body, dict):
            raise BadFileFormat()
        modification = cls(level or levels.INSTANCE, is_anonymization=True)
        force = _boolean(body, "Force")
        version = body.get("DicomVersion", anonymization.DEFAULT_VERSION)
        if not isinstance(version, str):
            raise BadFileFormat()
        modification._setup_profile(anonymization.profile(version))
        if _boolean(body, "KeepPrivateTags"):
            modification.remove_private_tags = False
            modification._mark_altered()
        if "Remove" in body:
            modification._parse_tags(body, "Remove", force)
        if "Replace" in body:
            modification._parse_replacements(body, force)
        if "Keep" in body:
            modification._parse_tags(body, "Keep", force)
        modification._parse_job_options(body)
        if PATIENT_NAME in modification._uids:
            name = patient_name or anonymization.next_patient_name()
            modification.replace(((), PATIENT_NAME), name, safe_for_anonymization=True)
        modification._check_levels()
        return modification

    def _setup_profile(self, profile):
        self.remove_private_tags = True
        self._uid_level = levels.PATIENT
        self._removals = set(profile.removed)
        self._clearings = set(profile.cleared)
        self._uids = set(profile.uids) | {PATIENT_ID, PATIENT_NAME}
        self._ranges = profile.ranges
        self._replacements = {
            anonymization.DEIDENTIFICATION_METHOD: profile.method,
            anonymization.PATIENT_IDENTITY_REMOVED: "YES",
        }

    def _check_levels(self):
        """The checks at the start of Orthanc's Apply(), made before anything is done."""
        if any(self.is_removed(tag) for tag in DATABASE_KEYS):
            raise BadRequest()
        patient_id_replaced = PATIENT_ID in self._replacements or PATIENT_ID in self._uids
        level, replaced = self._uid_level, self._replacements
        if level is levels.PATIENT and not patient_id_replaced:
            raise BadRequest("When modifying a patient, her PatientID is required to be modified")
        if level is levels.PATIENT:
            return
        name = {levels.STUDY: "a study", levels.SERIES: "a series", levels.INSTANCE: "an instance"}[level]
        if patient_id_replaced:
            raise BadRequest(f"When modifying {name}, the parent PatientID cannot be manually modified")
        if level is not levels.STUDY and STUDY_UID in replaced:
            raise BadRequest(f"When modifying {name}, the parent StudyInstanceUID cannot be manually modified")
        if level is levels.INSTANCE and SERIES_UID in replaced:
            raise BadRequest(f"When modifying {name}, the parent SeriesInstanceUID cannot be manually modified")

    # --- applying -------------------------------------------------------------------------

    def map_identifier(self, original, level):
        """The new identifier for `original` at `level`, the same for every instance."""
        key = (RANK[level], str(original).strip())
        mapped = self.uid_map.get(key)
        if mapped is None:
            mapped = str(uuid.uuid4()) if level is levels.PATIENT else generate_uid()
            self.uid_map[key] = mapped
        return mapped

    def apply(self, dataset):
        """Change `dataset` (a pydicom Dataset with its file_meta) in place."""
        if self.is_anonymization:
            # An identifier forced by the body is also what references to it become.
            for tag, level in ((STUDY_UID, levels.STUDY), (SERIES_UID, levels.SERIES), (SOP_UID, levels.INSTANCE)):
                if tag in self._replacements and tag in dataset:
                    key = (RANK[level], str(dataset[tag].value or "").strip())
                    self.uid_map.setdefault(key, str(self._replacements[tag]))
        if self.remove_private_tags:
            for tag in [t for t in dataset.keys() if t & 0x10000 and t not in self._private_kept]:
                del dataset[tag]
        for tag in self._clearings & dataset.keys():
            dataset[tag] = make_element(tag, None, existing=dataset.get_item(tag))
        for tag in self._removals & dataset.keys():
            del dataset[tag]
        for tag, value in self._replacements.items():
            self._replace(dataset, tag, value)
        self._new_identifiers(dataset)
        if self.is_anonymization:
            self._map_top_level(dataset)
            self._visit_items(dataset, ())
        for prefix, tag in self._remove_paths:
            for item in _items_at(dataset, prefix):
                if tag in item:
                    del item[tag]
        for (prefix, tag), value in self._path_replacements:
            for item in _items_at(dataset, prefix):
                item[tag] = make_element(tag, value, self.private_creator, item.get_item(tag))
        # DCMTK's writer (EWM_updateMeta) makes the file meta follow the data set.
        for tag in (SOP_UID, SOP_CLASS_UID):
            if tag in dataset:
                _set_file_meta(dataset, tag, dataset[tag].value)

    def _replace(self, dataset, tag, value):
        if tag & 0xFFFF == 0:
            return  # group lengths are the writer's business
        if tag in (SOP_UID, SOP_CLASS_UID) and not isinstance(value, str):
            raise BadParameterType()
        dataset[tag] = make_element(tag, value, self.private_creator, dataset.get_item(tag))

    def _new_identifiers(self, dataset):
        rank = RANK[self._uid_level]
        for tag, level in ((STUDY_UID, levels.STUDY), (SERIES_UID, levels.SERIES), (SOP_UID, levels.INSTANCE)):
            if rank <= RANK[level] and tag not in self._replacements and tag not in self._kept_uids:
                original = dataset[tag].value if tag in dataset else ""
                mapped = self.map_identifier(original or "", level)
                dataset[tag] = DataElement(tag, "UI", mapped)

    def _map_top_level(self, dataset):
        for tag in self._uids & dataset.keys():
            if self._manually_modified(tag) or _element_vr(dataset, tag) not in STRING_VRS:
                continue
            element = dataset[tag]
            level = levels.PATIENT if tag in (PATIENT_ID, PATIENT_NAME) else levels.INSTANCE
            dataset[tag] = DataElement(tag, element.VR, self.map_identifier(_text(element.value), level))

    def _kept(self, parents, tag):
        return any(_path_matches(path, parents, tag) for path in self._keep_paths)

    def _visit_items(self, dataset, parents):
        """Orthanc's RelationshipsVisitor inside sequences (anonymization only)."""
        for tag in list(dataset.keys()):
            vr = _element_vr(dataset, tag)
            if vr == "SQ":
                if parents and not self._kept(parents, tag) and self._dropped_inside(tag):
                    del dataset[tag]
                    continue
                for index, item in enumerate(dataset[tag].value or ()):
                    self._visit_items(item, parents + ((tag, index),))
            elif parents:
                self._visit_leaf(dataset, parents, tag, vr)

    def _dropped_inside(self, tag):
        return (self.remove_private_tags and tag & 0x10000) or self.is_removed(tag) or tag in self._clearings

    def _visit_leaf(self, item, parents, tag, vr):
        if self._kept(parents, tag):
            return
        if vr not in STRING_VRS:
            if self._dropped_inside(tag):
                del item[tag]
            return
        if (self.remove_private_tags and tag & 0x10000) or self.is_removed(tag):
            del item[tag]
        elif tag in self._clearings:
            item[tag] = DataElement(tag, vr, None)
        elif tag in (STUDY_UID, SERIES_UID, SOP_UID) or tag in self._uids:
            if tag == STUDY_UID:
                level = levels.STUDY
            elif tag == SERIES_UID:
                level = levels.SERIES
            elif tag in (PATIENT_ID, PATIENT_NAME):
                level = levels.PATIENT
            elif tag == REFERENCED_SOP_INSTANCE_UID and tuple(t for t, _ in parents) == RT_STUDY_REFERENCE:
                level = levels.STUDY
            else:
                level = levels.INSTANCE
            item[tag] = DataElement(tag, vr, self.map_identifier(_text(item[tag].value), level))


def _text(value):
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\\".join(str(v) for v in value)
    return str(value)


def _items_at(dataset, prefix):
    """The items a path's prefix designates (every item for [*])."""
    items = [dataset]
    for tag, index in prefix:
        found = []
        for item in items:
            if tag not in item or _element_vr(item, tag) != "SQ":
                continue
            sequence = item[tag].value or ()
            if index is None:
                found.extend(sequence)
            elif index < len(sequence):
                found.append(sequence[index])
        items = found
    return items
