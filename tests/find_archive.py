"""The index the C-FIND tests ask (tests/test_find.py, tests/test_find_answers.py): real files
in several character sets and made-up studies, and the helpers that put a query to it. The
`archive` fixture is loaded as a plugin (tests/conftest.py)."""


import pydicom
import pytest
from pydicom import config as pydicom_config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dicomnet import find
from explorer.ingest import Origin, store_instance
from tests.conftest import dicom_bytes, make_dicom

CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
MR_CLASS = "1.2.840.10008.5.1.4.1.1.4"
US_CLASS = "1.2.840.10008.5.1.4.1.1.6.1"
CT_SMALL_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
MR_SMALL_STUDY = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"
RTPLAN_SOP = "1.2.777.777.77.7.7777.7777.20030903150023"
H31_NAME = "Yamada^Tarou=山田^太郎=やまだ^たろう"
GREEK_NAME = "Διονυσιος"

# The made-up studies: Doe has two (the first with a CT series of two instances and an MR
# one), Smith one.
DOE_BRAIN, DOE_CHEST, SMITH_BRAIN = "1.2.826.0.1.3680043.99.1", "1.2.826.0.1.3680043.99.2", "1.2.826.0.1.3680043.99.3"
SERIES = {
    "doe-ct": "1.2.826.0.1.3680043.99.1.1",
    "doe-mr": "1.2.826.0.1.3680043.99.1.2",
    "doe-us": "1.2.826.0.1.3680043.99.2.1",
    "smith-ct": "1.2.826.0.1.3680043.99.3.1",
}
INSTANCES = {
    "doe-ct-1": "1.2.826.0.1.3680043.99.1.1.1",
    "doe-ct-2": "1.2.826.0.1.3680043.99.1.1.2",
    "doe-mr-1": "1.2.826.0.1.3680043.99.1.2.1",
    "doe-us-1": "1.2.826.0.1.3680043.99.2.1.1",
    "smith-ct-1": "1.2.826.0.1.3680043.99.3.1.1",
}
CT_SMALL_SERIES = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
DOE = {"PatientID": "P-DOE", "PatientName": "Doe^John", "PatientBirthDate": "19700101", "PatientSex": "M"}
SMITH = {"PatientID": "P-SMITH", "PatientName": "SMITH^Anna", "PatientBirthDate": "19850505", "PatientSex": "F"}
DOE_BRAIN_TAGS = {
    **DOE,
    "StudyInstanceUID": DOE_BRAIN,
    "StudyDate": "20200115",
    "StudyTime": "081500",
    "AccessionNumber": "ACC-1",
    "StudyDescription": "Brain",
    "PatientAge": "050Y",
}
DOE_CHEST_TAGS = {
    **DOE,
    "StudyInstanceUID": DOE_CHEST,
    "StudyDate": "20210620",
    "StudyTime": "143000",
    "AccessionNumber": "ACC-2",
    "StudyDescription": "Chest",
}
SMITH_TAGS = {
    **SMITH,
    "StudyInstanceUID": SMITH_BRAIN,
    "StudyDate": "20191231",
    "StudyTime": "235959",
    "AccessionNumber": "ACC-3",
    "StudyDescription": "brain",
}


def store(data):
    return store_instance(data, Origin())


def made_up(study, instance, modality, sop_class, **tags):
    """A file of a made-up study: the series and instance named as in SERIES and INSTANCES."""
    series = instance.rsplit("-", 1)[0]
    return make_dicom(
        **study,
        SeriesInstanceUID=SERIES[series],
        Modality=modality,
        SOPClassUID=sop_class,
        SOPInstanceUID=INSTANCES[instance],
        **tags,
    )


@pytest.fixture
def archive():
    """Six real files (three in other character sets) and five made-up ones: 11 instances in 10
    series, 9 studies, 8 patients."""
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "chrH31.dcm", "chrGreek.dcm", "chrRuss.dcm"):
        store(dicom_bytes(name))
    store(made_up(DOE_BRAIN_TAGS, "doe-ct-1", "CT", CT_CLASS, KVP="120", InstanceNumber="1"))
    store(made_up(DOE_BRAIN_TAGS, "doe-ct-2", "CT", CT_CLASS, KVP="120", InstanceNumber="2"))
    store(made_up(DOE_BRAIN_TAGS, "doe-mr-1", "MR", MR_CLASS, InstanceNumber="1"))
    store(made_up(DOE_CHEST_TAGS, "doe-us-1", "US", US_CLASS))
    store(made_up(SMITH_TAGS, "smith-ct-1", "CT", CT_CLASS, KVP="80"))


def identifier(level, charset=None, **keys):
    """A C-FIND identifier; values are set as given, wildcards and ranges included."""
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    if charset is not None:
        ds.SpecificCharacterSet = charset
    for keyword, value in keys.items():
        tag = pydicom.datadict.tag_for_keyword(keyword)
        vr = pydicom.datadict.dictionary_VR(tag)
        ds.add(DataElement(tag, vr, value, validation_mode=pydicom_config.IGNORE))
    return ds


def ask(level, model=find.STUDY_ROOT, charset=None, limit=None, **keys):
    return find.find_answers(identifier(level, charset, **keys), model, limit=limit)


def values(answers, keyword):
    return sorted(str(answer[keyword].value) for answer in answers)
