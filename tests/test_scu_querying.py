"""C-FIND against DCMTK's dcmqrscp, and the identifiers it is sent."""

import pytest

from dicomnet import scu
from dicomnet.scu import pool
from dicomnet.scu.querying import _find_identifier
from explorer import levels
from tests.dicom_peers import UTF8_PATIENT

CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
MR_STUDY = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"
MR_SERIES = "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457"


def test_find_studies_with_a_wildcard_drops_keys_of_other_levels(dcmqrscp):
    query = {"PatientName": "CompressedSamples*", "Modality": "CT", "StudyDate": ""}
    answers, dropped = scu.find(dcmqrscp, "Study", query)

    assert dropped == ["Modality"]  # a series key: kept, it would have left out the MR study
    assert sorted(a.StudyInstanceUID for a in answers) == sorted([CT_STUDY, MR_STUDY])
    for answer in answers:
        assert answer.QueryRetrieveLevel == "STUDY"
        assert "AccessionNumber" in answer and "PatientID" in answer  # asked for by the normalisation


def test_two_finds_in_a_row_share_one_association(dcmqrscp, settings):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 5
    pool.release_all()
    scu.find(dcmqrscp, "Study", {"StudyInstanceUID": CT_STUDY})
    [kept] = pool.idle()

    answers, _ = scu.find(dcmqrscp, "Series", {"StudyInstanceUID": MR_STUDY, "SeriesInstanceUID": ""})

    assert [a.SeriesInstanceUID for a in answers] == [MR_SERIES]
    assert pool.idle() == [kept]
    pool.release_all()


def test_find_series_with_a_wildcard(dcmqrscp):
    answers, dropped = scu.find(dcmqrscp, "Series", {"Modality": "M*", "SeriesDescription": "", "0020,0011": ""})

    assert dropped == []
    assert [(a.SeriesInstanceUID, a.StudyInstanceUID, a.Modality) for a in answers] == [(MR_SERIES, MR_STUDY, "MR")]


def test_find_without_normalisation_sends_the_keys_as_given(dcmqrscp):
    answers, dropped = scu.find(dcmqrscp, "Study", {"PatientID": "1CT1", "StudyInstanceUID": ""}, normalize=False)

    assert dropped == []
    assert [a.StudyInstanceUID for a in answers] == [CT_STUDY]
    assert "AccessionNumber" not in answers[0]


def test_find_with_a_utf8_value(dcmqrscp):
    answers, _ = scu.find(dcmqrscp, "Patient", {"PatientName": "Müller*"})

    assert [(a.PatientID, str(a.PatientName)) for a in answers] == [("UTF8", UTF8_PATIENT)]
    identifier, _ = _find_identifier(levels.PATIENT, {"PatientName": "Müller*"}, normalize=True)
    assert identifier.SpecificCharacterSet == "ISO_IR 192"


def test_find_with_an_unknown_tag_without_normalisation_is_a_bad_query(dcmqrscp):
    with pytest.raises(scu.BadQuery):
        scu.find(dcmqrscp, "Study", {"NoSuchKeyword": "x"}, normalize=False)
