"""Reorganizing studies as Orthanc 1.10.1 does: merge (POST /studies/{id}/merge) moves studies,
series or instances into a study; split (POST /studies/{id}/split) takes series or instances out
of a study into a new one. Both make new copies (new SeriesInstanceUIDs and SOPInstanceUIDs)
through explorer.resource_changes, which deletes them again on failure, and delete the sources
unless KeepSource is true (Orthanc's default for both: delete).

The parameters are checked when the job is asked for, with Orthanc's messages (MergeStudyJob.cpp,
SplitStudyJob.cpp, OrthancRestAnonymizeModify.cpp); the instances are listed when it runs.
"""

import copy

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.uid import generate_uid

from explorer import dicom_modules, index, levels, storage, tags
from explorer.errors import BadFileFormat, BadRequest, ParameterOutOfRange, UnknownResource
from explorer.resource_changes import DESCRIPTION, Changer, origin_for, remove_sources, run_telling, sources_of

# The tags of the Patient and General Study modules, as Orthanc's AddTagsForModule lists them.
STUDY_MODULES = (*dicom_modules.MODULE_TAGS[levels.PATIENT], *dicom_modules.MODULE_TAGS[levels.STUDY])
STUDY_INSTANCE_UID, SERIES_INSTANCE_UID, SOP_INSTANCE_UID = 0x0020000D, 0x0020000E, 0x00080018
# Split may change any of them but the two UIDs it sets itself.
SPLIT_ALLOWED = frozenset(STUDY_MODULES) - {STUDY_INSTANCE_UID, SERIES_INSTANCE_UID}
TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}


def _strings(body, name):
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadFileFormat(f"List of strings expected in field: {name}")
    return value


def _study(public_id, message):
    study = index.get(levels.STUDY, public_id)
    if study is None:
        raise UnknownResource(message + public_id)
    return study


def _keep_source(body):
    keep = body.get("KeepSource", False)
    if not isinstance(keep, bool):
        raise BadFileFormat("Boolean value expected in field: KeepSource")
    return keep


# --- merge ------------------------------------------------------------------------------------


def _merge_source(target, public_id):
    level, resource = index.resolve(public_id)
    if resource is None:
        raise UnknownResource(f"Cannot find this resource: {public_id}")
    if level is levels.STUDY and resource.pk == target.pk:
        raise UnknownResource(f"Cannot merge a study into the same study: {public_id}")
    if level is levels.SERIES and resource.study_id == target.pk:
        raise UnknownResource(f"Cannot merge series {public_id} into its parent study {target.public_id}")
    if level is levels.INSTANCE and resource.series.study_id == target.pk:
        raise UnknownResource(f"Cannot merge instance {public_id} into its parent study {target.public_id}")
    if level is levels.PATIENT:
        raise UnknownResource(
            f"This resource is neither a study, nor a series, nor an instance: {public_id} is a Patient"
        )


def merge_parameters(study_id, body):
    """The MergeStudy job's parameters from Orthanc's body {Resources, KeepSource}."""
    target = _study(study_id, "Cannot merge into an unknown study: ")
    resources = _strings(body, "Resources")
    for public_id in resources:
        _merge_source(target, public_id)
    return {"Study": study_id, "Resources": resources, "KeepSource": _keep_source(body)}


def _study_module_values(study):
    """(replacements, removals) that give an instance the target study's patient and study
    modules: the text values of its first instance are copied, the other module tags removed."""
    first = index.instances_below(levels.STUDY, study).order_by("id").only("file_uuid").first()
    dataset = pydicom.dcmread(storage.path_for(first.file_uuid), stop_before_pixels=True)
    replacements, removals = [], []
    for tag in STUDY_MODULES:
        element = dataset.get(tag)
        if element is not None and element.VR in TEXT_VRS:
            replacements.append(copy.deepcopy(element))
        else:
            removals.append(tag)
    return replacements, removals


def merge_study(study_id, resources, keep_source, progress, should_stop, username="", remote_ip=""):
    """Run a MergeStudy job: its content (Orthanc's)."""
    target = _study(study_id, "Cannot merge into an unknown study: ")
    replacements, removals = _study_module_values(target)
    sources = sources_of(resources)
    series_uids = {}

    def change(dataset):
        for tag in removals:
            if tag in dataset:
                del dataset[tag]
        for element in replacements:
            dataset[element.tag] = copy.deepcopy(element)
        old_series = dataset.SeriesInstanceUID
        dataset.SeriesInstanceUID = series_uids.setdefault(old_series, generate_uid())
        dataset.SOPInstanceUID = generate_uid()

    content = {"Description": DESCRIPTION, "FailedInstancesCount": 0, "InstancesCount": len(sources)}
    content["TargetStudy"] = study_id
    outcome = run_telling(Changer(change, origin_for(username, remote_ip)), sources, progress, should_stop, content)
    if not keep_source:
        remove_sources(sources, outcome)
    content["FailedInstancesCount"] = outcome.failed
    return content


# --- split ------------------------------------------------------------------------------------


def _allowed_tag(name):
    try:
        tag = tags.parse_tag(name)
    except KeyError:
        raise BadRequest(f"Unknown DICOM tag: {name}") from None
    if tag not in SPLIT_ALLOWED:
        raise ParameterOutOfRange(
            "Cannot modify the following tag while splitting a study (not in the patient/study modules): "
            f"{tags.tag_name(tag)} ({tag >> 16:04X},{tag & 0xFFFF:04X})"
        )
    return tag


def split_parameters(study_id, body):
    """The SplitStudy job's parameters from Orthanc's body {Series, Instances, Replace, Remove,
    KeepSource}."""
    study = _study(study_id, "Cannot split unknown study ")
    if not isinstance(body, dict):
        raise BadFileFormat()
    series, instances = [], []
    if "Series" in body:
        for public_id in _strings(body, "Series"):
            found = index.get(levels.SERIES, public_id)
            if found is None or found.study_id != study.pk:
                raise UnknownResource(f"This series does not belong to the study to be split: {public_id}")
            series.append(public_id)
    if "Instances" in body:
        for public_id in _strings(body, "Instances"):
            found = index.get(levels.INSTANCE, public_id)
            if found is None or found.series.study_id != study.pk:
                raise UnknownResource(f"This instance does not belong to the study to be split: {public_id}")
            instances.append(public_id)
    if not series and not instances:
        raise BadRequest('Both the "Series" and the "Instances" fields are missing')
    keep_source = _keep_source(body)
    removals = body.get("Remove", [])
    if not isinstance(removals, list) or not all(isinstance(name, str) for name in removals):
        raise BadFileFormat()
    replacements = body.get("Replace", {})
    if not isinstance(replacements, dict) or not all(isinstance(v, str) for v in replacements.values()):
        raise BadFileFormat()
    return {
        "Study": study_id,
        "Series": series,
        "Instances": instances,
        "Remove": [f"{_allowed_tag(name):08X}" for name in removals],
        "Replace": {f"{_allowed_tag(name):08X}": value for name, value in replacements.items()},
        "KeepSource": keep_source,
        "TargetStudyUID": generate_uid(),
    }


def split_study(study_id, series, instances, replace, remove, keep_source, progress, should_stop, username="",
                remote_ip="", target_uid=None):  # fmt: skip
    """Run a SplitStudy job: its content (Orthanc's)."""
    _study(study_id, "Cannot split unknown study ")
    target_uid = target_uid or generate_uid()
    sources = sources_of([*series, *instances])
    removals = [int(tag, 16) for tag in remove]
    replacements = [(int(tag, 16), value) for tag, value in replace.items()]
    series_uids = {}

    def change(dataset):
        for tag in removals:
            if tag in dataset:
                del dataset[tag]
        for tag, value in replacements:
            dataset[tag] = DataElement(tag, dictionary_VR(tag), value)
        dataset.StudyInstanceUID = target_uid
        dataset.SeriesInstanceUID = series_uids.setdefault(dataset.SeriesInstanceUID, generate_uid())
        dataset.SOPInstanceUID = generate_uid()

    content = {"Description": DESCRIPTION, "FailedInstancesCount": 0, "InstancesCount": len(sources)}
    content["TargetStudyUID"] = target_uid
    changer = Changer(change, origin_for(username, remote_ip))
    outcome = run_telling(changer, sources, progress, should_stop, content)
    if not keep_source:
        remove_sources(sources, outcome)
    content["FailedInstancesCount"] = outcome.failed
    if outcome.ids:
        content["TargetStudy"] = outcome.ids[0][1]
    return content
