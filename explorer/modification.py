"""What /modify and /anonymize do to one data set, as Orthanc 1.10.1's DicomModification.

A Modification is parsed once from a request body and applied to every instance of the
resource; its UID map (original -> new, per level) makes the instances of one study stay one
study and the references between them follow. The order of Orthanc's Apply() is kept:
private tags, emptyings, removals, replacements, new identifiers below the modified level,
then (anonymization only) the relationships inside sequences, then the paths into sequences.
Nothing here decodes pixel data or copies it.
"""

import uuid

from pydicom.dataelem import DataElement
from pydicom.uid import UID, generate_uid

from explorer import anonymization, levels, transcoding
from explorer.dicom_values import (
    STRING_VRS,
    BadParameterType,
    check_value,
    element_vr,
    items_at,
    make_element,
    parse_path,
    path_matches,
)
from explorer.errors import BadFileFormat, BadRequest, ParameterOutOfRange

PATIENT_ID, PATIENT_NAME = 0x00100020, 0x00100010
STUDY_UID, SERIES_UID, SOP_UID, SOP_CLASS_UID = 0x0020000D, 0x0020000E, 0x00080018, 0x00080016
REFERENCED_SOP_INSTANCE_UID = 0x00081155
# In RT-STRUCT, ReferencedFrameOfReferenceSequence / RTReferencedStudySequence /
# ReferencedSOPInstanceUID holds a StudyInstanceUID (Orthanc, test_anonymize_relationships_5).
RT_STUDY_REFERENCE = (0x30060010, 0x30060012)
DATABASE_KEYS = frozenset((PATIENT_ID, STUDY_UID, SERIES_UID, SOP_UID))
RANK = {levels.PATIENT: 0, levels.STUDY: 1, levels.SERIES: 2, levels.INSTANCE: 3}


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
        self.uid_map = {}  # (rank of level, original) -> new

    @property
    def patient_name(self):
        """The PatientName the body or the anonymization sets ("Anonymized<N>"), or None: what
        a job keeps to parse its body again in a worker without taking another N."""
        value = self._replacements.get(PATIENT_NAME)
        return value if isinstance(value, str) else None

    # --- building, as DicomModification's Keep/Remove/Clear/Replace -----------------------

    def _forget(self, tag):
        self._removals.discard(tag)
        self._clearings.discard(tag)
        self._uids.discard(tag)
        self._replacements.pop(tag, None)

    def _mark_altered(self):
        # A profile changed by the body is no longer the one the method tag names.
        method = self._replacements.get(anonymization.DEIDENTIFICATION_METHOD)
        if isinstance(method, str) and method in anonymization.METHODS:
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
            check_value(path[1], value)
            self.replace(path, value)

    def _parse_job_options(self, body):
        if "KeepSource" in body:
            self.keep_source = _read_boolean(body, "KeepSource")
        if "Transcode" in body:
            self.transcode = _read_string(body, "Transcode")
            if not UID(self.transcode).is_transfer_syntax:
                raise ParameterOutOfRange(f"Unknown transfer syntax: {self.transcode}")
            # A syntax no encoder writes is refused now, not on every instance of a job.
            transcoding.transfer_syntax(self.transcode)
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
        modification._parse_changes(body, force)
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

    def _parse_changes(self, body, force):
        # Orthanc's order: Remove, Replace, Keep, then the job's options.
        if "Remove" in body:
            self._parse_tags(body, "Remove", force)
        if "Replace" in body:
            self._parse_replacements(body, force)
        if "Keep" in body:
            self._parse_tags(body, "Keep", force)
        self._parse_job_options(body)

    @classmethod
    def from_anonymize_body(cls, level, body, patient_name=None):
        """Orthanc's ParseAnonymizationRequest. The patient's name, unless the body replaces,
        removes or keeps it, is "Anonymized<N>" (`patient_name`, or the shared counter's next).
        Parse once per request and hand the object on (it pickles, with its UID map): parsing
        again takes another N. To only check a body, pass any `patient_name`."""
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
        modification._parse_changes(body, force)
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
        if level == levels.PATIENT and not patient_id_replaced:
            raise BadRequest("When modifying a patient, her PatientID is required to be modified")
        if level == levels.PATIENT:
            return
        name = {levels.STUDY: "a study", levels.SERIES: "a series", levels.INSTANCE: "an instance"}[level]
        if patient_id_replaced:
            raise BadRequest(f"When modifying {name}, the parent PatientID cannot be manually modified")
        if level != levels.STUDY and STUDY_UID in replaced:
            raise BadRequest(f"When modifying {name}, the parent StudyInstanceUID cannot be manually modified")
        if level == levels.INSTANCE and SERIES_UID in replaced:
            raise BadRequest(f"When modifying {name}, the parent SeriesInstanceUID cannot be manually modified")

    # --- applying -------------------------------------------------------------------------

    def map_identifier(self, original, level):
        """The new identifier for `original` at `level`, the same for every instance, also when
        threads apply one Modification together (dict.setdefault is atomic)."""
        key = (RANK[level], str(original).strip())
        mapped = self.uid_map.get(key)
        if mapped is None:
            mapped = self.uid_map.setdefault(key, str(uuid.uuid4()) if level == levels.PATIENT else generate_uid())
        return mapped

    def apply(self, dataset):
        """Change `dataset` (a pydicom Dataset with its file_meta) in place."""
        if self.is_anonymization:
            # An identifier forced by the body is also what references to it become.
            for tag, level in ((STUDY_UID, levels.STUDY), (SERIES_UID, levels.SERIES), (SOP_UID, levels.INSTANCE)):
                forced = self._replacements.get(tag)
                if isinstance(forced, str) and tag in dataset:
                    key = (RANK[level], str(dataset[tag].value or "").strip())
                    self.uid_map.setdefault(key, forced)
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
            for item in items_at(dataset, prefix):
                if tag in item:
                    del item[tag]
        for (prefix, tag), value in self._path_replacements:
            for item in items_at(dataset, prefix):
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
            if self._manually_modified(tag) or element_vr(dataset, tag) not in STRING_VRS:
                continue
            element = dataset[tag]
            level = levels.PATIENT if tag in (PATIENT_ID, PATIENT_NAME) else levels.INSTANCE
            dataset[tag] = DataElement(tag, element.VR, self.map_identifier(_text(element.value), level))

    def _kept(self, parents, tag):
        return any(path_matches(path, parents, tag) for path in self._keep_paths)

    def _visit_items(self, dataset, parents):
        """Orthanc's RelationshipsVisitor inside sequences (anonymization only)."""
        for tag in list(dataset.keys()):
            vr = element_vr(dataset, tag)
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
