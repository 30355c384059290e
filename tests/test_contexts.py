"""The presentation contexts the server accepts: decided per association from what the peer
proposes and the runtime settings."""

import pytest
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit

from dicomnet import contexts
from explorer import runtime_settings

RETIRED_ULTRASOUND = "1.2.840.10008.5.1.4.1.1.6"
CT = "1.2.840.10008.5.1.4.1.1.2"
UNKNOWN = "1.2.826.0.1.3680043.8.498.999.1"  # named by no dictionary
STORAGE_COMMITMENT = "1.2.840.10008.1.20.1"
MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"


@pytest.mark.parametrize(
    "uid",
    [
        CT,
        RETIRED_ULTRASOUND,
        "1.2.840.10008.5.1.4.1.1.3",  # Ultrasound Multi-frame Image Storage (Retired)
        "1.2.840.10008.5.1.4.1.1.5",  # Nuclear Medicine Image Storage (Retired)
        "1.2.840.10008.5.1.4.1.1.88.1",  # Text SR Storage - Trial (Retired)
        "1.2.840.10008.5.1.4.38.1",  # Hanging Protocol Storage
        "1.2.840.10008.5.1.4.1.1.9.100.1",  # newer than pydicom's dictionary, known to pynetdicom
    ],
)
def test_every_storage_class_is_storage_retired_ones_included(uid):
    assert contexts.is_storage(uid)
    assert not contexts.is_unknown(uid)


@pytest.mark.parametrize("uid", [STORAGE_COMMITMENT, MEDIA_DIRECTORY, STUDY_FIND, "1.2.840.10008.1.1"])
def test_services_named_storage_and_other_services_are_not_storage(uid):
    assert not contexts.is_storage(uid)
    assert not contexts.is_unknown(uid)


def test_unknown_is_what_the_dictionary_does_not_name():
    assert contexts.is_unknown(UNKNOWN)
    assert not contexts.is_storage(UNKNOWN)


def test_storage_accepted_for_storage_classes_and_unknown_ones_only_with_the_setting():
    proposed = [CT, UNKNOWN, RETIRED_ULTRASOUND, STORAGE_COMMITMENT, CT]
    assert contexts.storage_classes_among(proposed, unknown_accepted=False) == [CT, RETIRED_ULTRASOUND]
    assert contexts.storage_classes_among(proposed, unknown_accepted=True) == [CT, UNKNOWN, RETIRED_ULTRASOUND]


def test_acceptor_contexts_hold_the_services_and_the_proposed_storage_classes():
    syntaxes = contexts.accepted_transfer_syntaxes(["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"])
    supported = contexts.acceptor_contexts([RETIRED_ULTRASOUND], syntaxes, unknown_accepted=False)
    by_class = {cx.abstract_syntax: cx for cx in supported}
    assert set(by_class) == {"1.2.840.10008.1.1", *contexts.QUERY_RETRIEVE, RETIRED_ULTRASOUND}
    ultrasound = by_class[RETIRED_ULTRASOUND]
    assert ultrasound.transfer_syntax == [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
    assert (ultrasound.scp_role, ultrasound.scu_role) == (True, False)  # C-GET requestors get their images back
    # No transfer syntax accepted: no storage at all.
    assert contexts.acceptor_contexts([CT], [], unknown_accepted=True) == list(contexts.service_contexts())


@pytest.mark.django_db
def test_the_runtime_settings_decide(settings):
    settings.PHAROS_DICOM_ACCEPTED_TRANSFER_SYNTAXES = ["1.2.840.10008.1.*"]
    assert JPEGBaseline8Bit in contexts.accepted_transfer_syntaxes()
    assert contexts.unknown_sop_class_accepted() is False
    runtime_settings.change("AcceptedTransferSyntaxes", ["1.2.840.10008.1.2.4.50"])
    runtime_settings.change("UnknownSopClassAccepted", True)
    assert contexts.accepted_transfer_syntaxes() == [JPEGBaseline8Bit]
    assert contexts.unknown_sop_class_accepted() is True
    # Orthanc's PUT takes a single UID or pattern as well as a list.
    runtime_settings.change("AcceptedTransferSyntaxes", "1.2.840.10008.1.2")
    assert contexts.accepted_transfer_syntaxes() == [ImplicitVRLittleEndian]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_an_unknown_abstract_syntax_that_is_no_uid_is_refused_alone():
    too_long = "1.2.3." + "4" * 80
    supported = contexts.acceptor_contexts([too_long, CT], ["1.2.840.10008.1.2"], unknown_accepted=True)
    assert [cx.abstract_syntax for cx in supported][-1:] == [CT]
    assert too_long not in {cx.abstract_syntax for cx in supported}
