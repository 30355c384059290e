"""The four levels of the real-world model and the main DICOM tags of each, as data.

The lists are Orthanc 1.10.1's (DicomMap.cpp): a tag is kept at a level only if
present in the file, as `""` when present but empty. Changing a list means a
re-index of existing instances.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    name: str  # "Patient"
    plural: str  # "patients": the URL segment
    identifier: str  # the tag that identifies a resource at this level
    main_tags: tuple  # keywords
    query_level: str  # DICOM QueryRetrieveLevel


PATIENT = Level(
    "Patient",
    "patients",
    "PatientID",
    ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "OtherPatientIDs"),
    "PATIENT",
)
STUDY = Level(
    "Study",
    "studies",
    "StudyInstanceUID",
    (
        "StudyDate",
        "StudyTime",
        "StudyID",
        "StudyDescription",
        "AccessionNumber",
        "StudyInstanceUID",
        "RequestedProcedureDescription",
        "InstitutionName",
        "RequestingPhysician",
        "ReferringPhysicianName",
    ),
    "STUDY",
)
SERIES = Level(
    "Series",
    "series",
    "SeriesInstanceUID",
    (
        "SeriesDate",
        "SeriesTime",
        "Modality",
        "Manufacturer",
        "StationName",
        "SeriesDescription",
        "BodyPartExamined",
        "SequenceName",
        "ProtocolName",
        "SeriesNumber",
        "CardiacNumberOfImages",
        "ImagesInAcquisition",
        "NumberOfTemporalPositions",
        "NumberOfSlices",
        "NumberOfTimeSlices",
        "SeriesInstanceUID",
        "ImageOrientationPatient",
        "SeriesType",
        "OperatorsName",
        "PerformedProcedureStepDescription",
        "AcquisitionDeviceProcessingDescription",
        "ContrastBolusAgent",
    ),
    "SERIES",
)
INSTANCE = Level(
    "Instance",
    "instances",
    "SOPInstanceUID",
    (
        "InstanceCreationDate",
        "InstanceCreationTime",
        "AcquisitionNumber",
        "ImageIndex",
        "InstanceNumber",
        "NumberOfFrames",
        "TemporalPositionIdentifier",
        "SOPInstanceUID",
        "ImagePositionPatient",
        "ImageComments",
        "ImageOrientationPatient",
    ),
    "IMAGE",
)

LEVELS = (PATIENT, STUDY, SERIES, INSTANCE)
BY_NAME = {level.name.lower(): level for level in LEVELS}
BY_PLURAL = {level.plural: level for level in LEVELS}
BY_QUERY_LEVEL = {level.query_level: level for level in LEVELS}


def level_named(text):
    """Patient/patients/PATIENT/Image → the level, or None."""
    key = text.strip().lower()
    if key == "image":
        return INSTANCE
    return BY_NAME.get(key) or BY_PLURAL.get(key)


def parent_of(level):
    index = LEVELS.index(level)
    return LEVELS[index - 1] if index > 0 else None


def child_of(level):
    index = LEVELS.index(level)
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else None


def level_of_main_tag(keyword):
    """The level whose main tags hold this keyword (the highest one), or None."""
    for level in LEVELS:
        if keyword in level.main_tags:
            return level
    return None
