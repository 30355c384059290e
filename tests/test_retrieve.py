"""C-MOVE and C-GET: the selection of instances, then real retrieves.

Our SCP runs in-process; DCMTK's movescu/getscu and pynetdicom ask it; the move
destinations are a pynetdicom storage SCP started here and DCMTK's storescp.
"""

import subprocess
import time
from types import SimpleNamespace

import numpy
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, build_role, evt
from pynetdicom.sop_class import (
    CTImageStorage,
    EnhancedMRImageStorage,
    MRImageStorage,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    SecondaryCaptureImageStorage,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from dicomnet import retrieve
from dicomnet.models import Modality
from explorer import storage
from explorer.ingest import Origin, store_instance
from explorer.models import Instance
from tests.conftest import VARIED_FILES, dicom_bytes, make_image, sample_path
from tests.dicom_peers import DCMTK_ENV, dcmtk, free_port, port_of, wait_for_port
from tests.tools import require_tool

PATIENT_ROOT_MOVE = PatientRootQueryRetrieveInformationModelMove
STUDY_ROOT_MOVE = StudyRootQueryRetrieveInformationModelMove
PATIENT_ROOT_GET = PatientRootQueryRetrieveInformationModelGet
STUDY_ROOT_GET = StudyRootQueryRetrieveInformationModelGet
MOVE_MODEL_OF = {PATIENT_ROOT_GET: PATIENT_ROOT_MOVE, STUDY_ROOT_GET: STUDY_ROOT_MOVE}

# A patient with two studies: study A has series A1 (3 instances) and A2 (2), study B has B1 (1).
PATIENT_ID = "RETRIEVE-P"
STUDIES = {"A": generate_uid(), "B": generate_uid()}
SERIES = {"A1": generate_uid(), "A2": generate_uid(), "B1": generate_uid()}
INSTANCES = {"A1": [generate_uid() for _ in range(3)], "A2": [generate_uid() for _ in range(2)], "B1": [generate_uid()]}
ACCESSION_NUMBERS = {"A": "RETRIEVE-ACC-A", "B": ""}
CT_UID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
J2K_UID = pydicom.dcmread(sample_path("JPEG2000.dcm"), stop_before_pixels=True).SOPInstanceUID


def made_instance(series, number, sop_uid):
    return make_image(
        4,
        bytes(range(number, number + 32)),
        PatientID=PATIENT_ID,
        StudyInstanceUID=STUDIES[series[0]],
        SeriesInstanceUID=SERIES[series],
        SOPInstanceUID=sop_uid,
        InstanceNumber=number,
        AccessionNumber=ACCESSION_NUMBERS[series[0]],
    )


def uids_of(*series):
    return {uid for name in series for uid in INSTANCES[name]}


@pytest.fixture
def archive(db):
    """The made patient, plus CT_small, MR_small and a JPEG 2000 file, stored; the AEs of
    the tests' requestors registered so that they may move and get."""
    for series, uids in INSTANCES.items():
        for number, uid in enumerate(uids, start=1):
            store_instance(made_instance(series, number, uid), Origin())
    for name in ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm"):
        store_instance(dicom_bytes(name), Origin())
    for aet in ("MOVESCU", "GETSCU", "PYSCU"):
        Modality.objects.create(name=aet.lower(), aet=aet, host="127.0.0.1", port=104)


def query(level, **keys):
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(identifier, keyword, value)
    return identifier


def sop_uids(instances):
    return {instance.sop_instance_uid for instance in instances}


# --- instances_for ----------------------------------------------------------------------

SELECTIONS = [
    (PATIENT_ROOT_MOVE, "PATIENT", {"PatientID": PATIENT_ID}, uids_of("A1", "A2", "B1")),
    (PATIENT_ROOT_MOVE, "STUDY", {"PatientID": PATIENT_ID, "StudyInstanceUID": STUDIES["A"]}, uids_of("A1", "A2")),
    (PATIENT_ROOT_GET, "SERIES", {"SeriesInstanceUID": SERIES["A2"]}, uids_of("A2")),
    (PATIENT_ROOT_MOVE, "IMAGE", {"SOPInstanceUID": INSTANCES["A1"][1]}, {INSTANCES["A1"][1]}),
    (STUDY_ROOT_MOVE, "STUDY", {"StudyInstanceUID": STUDIES["B"]}, uids_of("B1")),
    (STUDY_ROOT_GET, "SERIES", {"SeriesInstanceUID": [SERIES["A2"], SERIES["B1"]]}, uids_of("A2", "B1")),
    (STUDY_ROOT_MOVE, "IMAGE", {"SOPInstanceUID": [INSTANCES["A1"][0], CT_UID]}, {INSTANCES["A1"][0], CT_UID}),
]


@pytest.mark.parametrize("model, level, keys, expected", SELECTIONS)
def test_instances_for_selects_by_the_unique_key_of_the_level(archive, model, level, keys, expected):
    assert sop_uids(retrieve.instances_for(query(level, **keys), model)) == expected


def test_a_list_given_as_one_string_selects_each_value(archive):
    identifier = query("STUDY", StudyInstanceUID=f"{STUDIES['B']}\\1.3.6.1.4.1.5962.1.2.1.20040119072730.12322")
    assert sop_uids(retrieve.instances_for(identifier, STUDY_ROOT_MOVE)) == uids_of("B1") | {CT_UID}


def test_only_the_unique_key_of_the_level_selects(archive):
    # As in Orthanc: the keys of the levels above, or other keys, do not narrow the selection.
    identifier = query("SERIES", PatientID="SOMEONE-ELSE", SeriesInstanceUID=SERIES["A1"], Modality="MR")
    assert sop_uids(retrieve.instances_for(identifier, PATIENT_ROOT_MOVE)) == uids_of("A1")


def test_unknown_uids_select_nothing(archive):
    assert not retrieve.instances_for(query("SERIES", SeriesInstanceUID="1.2.3.4"), STUDY_ROOT_MOVE).exists()


def test_the_level_is_deduced_from_the_keys_when_absent(archive):
    identifier = Dataset()
    identifier.StudyInstanceUID = STUDIES["A"]
    identifier.SeriesInstanceUID = SERIES["A2"]
    assert sop_uids(retrieve.instances_for(identifier, STUDY_ROOT_MOVE)) == uids_of("A2")


@pytest.mark.parametrize(
    "model, identifier",
    [
        (STUDY_ROOT_MOVE, query("STUDY", PatientID=PATIENT_ID)),
        (STUDY_ROOT_MOVE, query("STUDY", StudyInstanceUID="")),
        (PATIENT_ROOT_GET, query("IMAGE", SeriesInstanceUID=SERIES["A1"])),
        (PATIENT_ROOT_MOVE, query("FRAME", SOPInstanceUID=CT_UID)),
        (PATIENT_ROOT_MOVE, Dataset()),
    ],
)
def test_an_identifier_without_the_unique_key_is_refused(archive, model, identifier):
    # Orthanc 1.10.1 answers these 0xC000 (Unable to process).
    with pytest.raises(retrieve.RetrieveRefused) as refusal:
        retrieve.instances_for(identifier, model)
    assert refusal.value.status == 0xC000


@pytest.mark.parametrize("model", [STUDY_ROOT_MOVE, STUDY_ROOT_GET])
def test_the_patient_level_is_served_in_the_study_root_model_too(archive, model):
    # As Orthanc, which does not check the level against the model.
    identifier = query("PATIENT", PatientID=PATIENT_ID)
    assert sop_uids(retrieve.instances_for(identifier, model)) == uids_of("A1", "A2", "B1")


@pytest.mark.parametrize("level", ["IMAGES", "INSTANCE", "INSTANCES"])
def test_orthancs_other_names_of_the_instance_level(archive, level):
    identifier = query(level, SOPInstanceUID=CT_UID)
    assert sop_uids(retrieve.instances_for(identifier, STUDY_ROOT_MOVE)) == {CT_UID}


def test_a_study_is_selected_by_its_accession_number_when_given(archive):
    # Orthanc's LookupIdentifiers: at study level a non-empty AccessionNumber selects, the
    # StudyInstanceUID is then ignored.
    accession = ACCESSION_NUMBERS["A"]
    identifier = query("STUDY", AccessionNumber=accession, StudyInstanceUID=STUDIES["B"])
    assert sop_uids(retrieve.instances_for(identifier, STUDY_ROOT_MOVE)) == uids_of("A1", "A2")
    identifier = query("STUDY", AccessionNumber="", StudyInstanceUID=STUDIES["B"])
    assert sop_uids(retrieve.instances_for(identifier, STUDY_ROOT_MOVE)) == uids_of("B1")
    # Without a level, the accession number designates its study when no lower key is given.
    identifier = Dataset()
    identifier.AccessionNumber = accession
    assert sop_uids(retrieve.instances_for(identifier, STUDY_ROOT_MOVE)) == uids_of("A1", "A2")


def test_contexts_offer_the_stored_syntax_and_the_uncompressed_ones(archive):
    contexts = retrieve.contexts_for(Instance.objects.all(), allow_transcoding=False)
    offered = {(cx.abstract_syntax, tuple(cx.transfer_syntax)) for cx in contexts}
    uncompressed = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
    assert offered == {
        (SecondaryCaptureImageStorage, uncompressed),
        (CTImageStorage, uncompressed),
        (MRImageStorage, uncompressed),
        (SecondaryCaptureImageStorage, (JPEG2000,)),
    }


def test_contexts_offer_the_lossless_compressed_syntaxes_when_transcoding_is_allowed(archive):
    offered = {(cx.abstract_syntax, tuple(cx.transfer_syntax)) for cx in retrieve.contexts_for(Instance.objects.all())}
    for sop_class in (SecondaryCaptureImageStorage, CTImageStorage, MRImageStorage):
        assert {(sop_class, (syntax,)) for syntax in (JPEGLSLossless, JPEG2000Lossless, RLELossless)} <= offered


def test_contexts_keep_one_per_sop_class_when_over_the_limit():
    instances = [SimpleNamespace(sop_class_uid=f"1.2.3.{n}", transfer_syntax_uid=JPEG2000) for n in range(100)]
    contexts = retrieve.contexts_for(instances)
    assert len(contexts) == 128
    assert {cx.abstract_syntax for cx in contexts if cx.transfer_syntax[0] == ExplicitVRLittleEndian} == {
        f"1.2.3.{n}" for n in range(100)
    }


def test_dataset_to_send_decompresses_only_when_needed_and_allowed(archive):
    j2k = Instance.objects.get(sop_instance_uid=J2K_UID)
    assert retrieve.dataset_to_send(j2k, {JPEG2000}).file_meta.TransferSyntaxUID == JPEG2000
    decompressed = retrieve.dataset_to_send(j2k, {ImplicitVRLittleEndian})
    assert decompressed.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert decompressed.SOPInstanceUID == J2K_UID  # the same instance, in another syntax
    for refused in (
        retrieve.dataset_to_send(j2k, {ImplicitVRLittleEndian}, allow_transcoding=False),
        retrieve.dataset_to_send(j2k, set()),
    ):
        # A stand-in without file meta, which pynetdicom counts as a failed sub-operation.
        assert not hasattr(refused, "file_meta") and refused.SOPInstanceUID == J2K_UID


class FakeEvent:
    """Enough of a pynetdicom event for the C-GET generator; cancelled after `cancel_after` checks."""

    def __init__(self, identifier, model, cancel_after=None):
        self.identifier = identifier
        self.request = SimpleNamespace(AffectedSOPClassUID=model)
        self.assoc = SimpleNamespace(
            requestor=SimpleNamespace(ae_title="PYSCU", address="127.0.0.1"),
            accepted_contexts=[
                SimpleNamespace(
                    abstract_syntax=SecondaryCaptureImageStorage, transfer_syntax=[ExplicitVRLittleEndian], as_scu=True
                )
            ],
        )
        self.cancel_after = cancel_after
        self.checks = 0

    @property
    def is_cancelled(self):
        self.checks += 1
        return self.cancel_after is not None and self.checks > self.cancel_after


def test_get_yields_the_count_then_one_dataset_per_instance(archive):
    answers = list(retrieve.get(FakeEvent(query("SERIES", SeriesInstanceUID=SERIES["A1"]), STUDY_ROOT_GET)))
    assert answers[0] == 3
    assert [status for status, _ in answers[1:]] == [0xFF00] * 3
    assert {dataset.SOPInstanceUID for _, dataset in answers[1:]} == uids_of("A1")


class Undecodable(Dataset):
    """An identifier as pydicom gives it when an element is damaged: it fails once read."""

    def __iter__(self):
        raise ValueError("truncated element")


def test_a_refused_get_announces_one_sub_operation_then_the_failure(archive):
    # pynetdicom reads the first yield as the number of sub-operations, whatever it is.
    answers = list(retrieve.get(FakeEvent(query("SERIES"), STUDY_ROOT_GET)))
    assert answers == [1, (0xC000, None)]
    assert list(retrieve.get(FakeEvent(Undecodable(), STUDY_ROOT_GET))) == [1, (0xC000, None)]


def test_a_cancel_stops_the_sub_operations(archive):
    event = FakeEvent(query("SERIES", SeriesInstanceUID=SERIES["A1"]), STUDY_ROOT_GET, cancel_after=1)
    answers = list(retrieve.get(event))
    assert answers[0] == 3
    assert answers[1][0] == 0xFF00
    assert answers[2] == (0xFE00, None)
    assert len(answers) == 3


# --- Destinations -------------------------------------------------------------------------


class StorageSCP:
    """A pynetdicom storage SCP on a free port that keeps what arrives, by SOP Instance UID."""

    def __init__(self, syntaxes, sop_classes):
        ae = AE(ae_title="DEST")
        for context in AllStoragePresentationContexts:
            if sop_classes is None or context.abstract_syntax in sop_classes:
                ae.add_supported_context(context.abstract_syntax, syntaxes)
        self.port = free_port()
        handlers = [(evt.EVT_C_STORE, self.on_store)]
        self.server = ae.start_server(("127.0.0.1", self.port), block=False, evt_handlers=handlers)
        self.reset()

    def reset(self, failing=(), delay=0):
        self.received = {}
        self.failing = set(failing)  # SOP Instance UIDs answered with 0xA700 Out of Resources
        self.delay = delay

    def on_store(self, event):
        time.sleep(self.delay)  # a deliberately slow destination, for the tests that need one
        if event.request.AffectedSOPInstanceUID in self.failing:
            return 0xA700
        dataset = event.dataset
        dataset.file_meta = event.file_meta  # its Transfer Syntax UID is the one used on the wire
        self.received[dataset.SOPInstanceUID] = dataset
        return 0x0000


@pytest.fixture(scope="module")
def storage_scps():
    """Storage SCPs by configuration, each started once for the module: a server takes half
    a second to stop."""
    started = {}

    def scp_for(syntaxes, sop_classes):
        key = (tuple(syntaxes), tuple(sop_classes) if sop_classes else None)
        if key not in started:
            started[key] = StorageSCP(syntaxes, sop_classes)
        return started[key]

    yield scp_for
    for scp in started.values():
        scp.server.shutdown()


@pytest.fixture
def destination(archive, storage_scps):
    """Gives a pynetdicom storage SCP, registered as the modality DEST."""

    def start(syntaxes=ALL_TRANSFER_SYNTAXES, sop_classes=None, allow_transcoding=True, failing=(), delay=0):
        scp = storage_scps(syntaxes, sop_classes)
        scp.reset(failing, delay)
        Modality.objects.create(
            name="dest", aet="DEST", host="127.0.0.1", port=scp.port, allow_transcoding=allow_transcoding
        )
        return scp

    return start


@pytest.fixture
def storescp(archive, tmp_path):
    """DCMTK's storescp, registered as the modality STORESCP; gives the folder it writes to."""
    require_tool("storescp")
    folder = tmp_path / "storescp"
    folder.mkdir()
    port = free_port()
    process = subprocess.Popen(
        ["storescp", "-aet", "STORESCP", "-od", str(folder), "+xa", str(port)],
        env=DCMTK_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        Modality.objects.create(name="storescp", aet="STORESCP", host="127.0.0.1", port=port)
        yield folder
    finally:
        process.terminate()
        process.wait(timeout=5)


# --- Requestors ---------------------------------------------------------------------------


def pynetdicom_move(server, identifier, model=STUDY_ROOT_MOVE, move_to="DEST", calling="PYSCU"):
    """Every C-MOVE response, as (status dataset, identifier) pairs."""
    ae = AE(ae_title=calling)
    ae.add_requested_context(model)
    assoc = ae.associate("127.0.0.1", port_of(server), ae_title="PHAROS")
    assert assoc.is_established
    try:
        return list(assoc.send_c_move(identifier, move_to, model))
    finally:
        assoc.release()


def pynetdicom_get(server, identifier, contexts, model=STUDY_ROOT_GET, calling="PYSCU"):
    """C-GET with storage contexts {SOP class: [transfer syntaxes]} proposed with the SCP role;
    gives the responses and the data sets received, by SOP Instance UID."""
    received = {}

    def on_store(event):
        dataset = event.dataset
        dataset.file_meta = event.file_meta
        received[dataset.SOPInstanceUID] = dataset
        return 0x0000

    ae = AE(ae_title=calling)
    ae.add_requested_context(model)
    for sop_class, syntaxes in contexts.items():
        ae.add_requested_context(sop_class, syntaxes)
    roles = [build_role(sop_class, scp_role=True) for sop_class in contexts]
    assoc = ae.associate(
        "127.0.0.1", port_of(server), ae_title="PHAROS", ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    assert assoc.is_established
    try:
        responses = list(assoc.send_c_get(identifier, model))
    finally:
        assoc.release()
    return responses, received


def final_status(responses):
    status, _ = responses[-1]
    return status.Status


def stored_pixels(sop_uid):
    return pydicom.dcmread(storage.path_for(Instance.objects.get(sop_instance_uid=sop_uid).file_uuid)).PixelData


# --- C-MOVE -------------------------------------------------------------------------------


def test_movescu_moves_a_study_with_identical_pixel_data(dicom_server, destination):
    dest = destination()
    result = dcmtk(
        "movescu", "-S", "-aec", "PHAROS", "-aem", "DEST",
        "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDIES['A']}",
        "127.0.0.1", port_of(dicom_server),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(dest.received) == uids_of("A1", "A2")
    for uid, dataset in dest.received.items():
        assert dataset.PixelData == stored_pixels(uid)


def test_movescu_moves_a_patient_to_storescp(dicom_server, storescp):
    result = dcmtk(
        "movescu", "-P", "-aec", "PHAROS", "-aem", "STORESCP",
        "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=1CT1",
        "127.0.0.1", port_of(dicom_server),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (received,) = [pydicom.dcmread(path) for path in storescp.iterdir()]
    assert received.SOPInstanceUID == CT_UID
    assert received.PixelData == pydicom.dcmread(sample_path("CT_small.dcm")).PixelData


@pytest.mark.parametrize("model, level, keys, expected", SELECTIONS)
def test_pynetdicom_moves_at_every_level_in_both_models(dicom_server, destination, model, level, keys, expected):
    dest = destination()
    model = MOVE_MODEL_OF.get(model, model)
    responses = pynetdicom_move(dicom_server, query(level, **keys), model)
    assert final_status(responses) == 0x0000
    assert set(dest.received) == expected


def test_pending_responses_count_the_sub_operations(dicom_server, destination):
    destination()
    responses = pynetdicom_move(dicom_server, query("SERIES", SeriesInstanceUID=SERIES["A1"]))
    counts = [
        (s.Status, s.NumberOfRemainingSuboperations, s.NumberOfCompletedSuboperations, s.NumberOfFailedSuboperations)
        for s, _ in responses[:-1]
    ]
    assert counts == [(0xFF00, 2, 1, 0), (0xFF00, 1, 2, 0), (0xFF00, 0, 3, 0)]
    final, _ = responses[-1]
    assert (final.Status, final.NumberOfCompletedSuboperations, final.NumberOfFailedSuboperations) == (0x0000, 3, 0)


def test_nothing_to_move_is_refused_as_in_orthanc(dicom_server, destination, caplog):
    # movescu against Orthanc 1.10.1 for a StudyInstanceUID it does not hold:
    # "Failed: UnableToProcess" (0xC000), logged "C-MOVE request matching no resource".
    dest = destination()
    responses = pynetdicom_move(dicom_server, query("STUDY", StudyInstanceUID="1.2.3.4"))
    assert final_status(responses) == 0xC000
    assert responses[-1][0].ErrorComment == "the request designates no stored instance"
    assert dest.received == {}
    assert "C-MOVE from PYSCU refused: the request designates no stored instance" in caplog.text
    assert "Traceback" not in caplog.text


def test_an_unknown_destination_is_refused(dicom_server, archive):
    responses = pynetdicom_move(dicom_server, query("STUDY", StudyInstanceUID=STUDIES["A"]), move_to="NOWHERE")
    assert final_status(responses) == 0xA801


def test_a_move_without_the_unique_key_is_refused(dicom_server, destination, caplog):
    dest = destination()
    responses = pynetdicom_move(dicom_server, query("STUDY", PatientID=PATIENT_ID))
    assert final_status(responses) == 0xC000  # as Orthanc: Unable to process
    assert dest.received == {}
    assert "Traceback" not in caplog.text


def test_jpeg2000_is_decompressed_for_a_destination_without_it(dicom_server, destination):
    dest = destination(syntaxes=[ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    responses = pynetdicom_move(dicom_server, query("IMAGE", SOPInstanceUID=[J2K_UID, CT_UID]))
    assert final_status(responses) == 0x0000
    received = dest.received[J2K_UID]
    assert received.file_meta.TransferSyntaxUID in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
    original = pydicom.dcmread(sample_path("JPEG2000.dcm"))
    assert numpy.array_equal(received.pixel_array, original.pixel_array)


def test_every_stored_syntax_reaches_a_destination_without_compression(dicom_server, destination):
    originals = {}
    # Left out: color3d_jpeg_baseline, 110 MB once decompressed, too slow for this suite.
    for name in set(VARIED_FILES) - {"color3d_jpeg_baseline.dcm"}:
        store_instance(dicom_bytes(name), Origin())
        original = pydicom.dcmread(sample_path(name))
        originals[original.SOPInstanceUID] = original
    dest = destination(syntaxes=[ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    responses = pynetdicom_move(dicom_server, query("IMAGE", SOPInstanceUID=list(originals)))
    assert final_status(responses) == 0x0000
    assert set(dest.received) == set(originals)
    for uid, received in dest.received.items():
        assert received.file_meta.TransferSyntaxUID in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
        if "PixelData" in originals[uid]:
            assert numpy.array_equal(received.pixel_array, originals[uid].pixel_array), uid


def test_jpeg2000_travels_as_stored_when_the_destination_takes_it(dicom_server, destination):
    dest = destination()
    pynetdicom_move(dicom_server, query("IMAGE", SOPInstanceUID=J2K_UID))
    assert dest.received[J2K_UID].file_meta.TransferSyntaxUID == JPEG2000


def test_big_endian_is_turned_little_endian_for_a_destination_without_it(dicom_server, destination):
    original = pydicom.dcmread(sample_path("emri_small_big_endian.dcm"))
    assert original.file_meta.TransferSyntaxUID == ExplicitVRBigEndian
    store_instance(dicom_bytes("emri_small_big_endian.dcm"), Origin())
    dest = destination(syntaxes=[ImplicitVRLittleEndian], sop_classes=[EnhancedMRImageStorage])
    responses = pynetdicom_move(dicom_server, query("IMAGE", SOPInstanceUID=original.SOPInstanceUID))
    assert final_status(responses) == 0x0000
    assert numpy.array_equal(dest.received[original.SOPInstanceUID].pixel_array, original.pixel_array)


def test_without_transcoding_an_unaccepted_syntax_fails(dicom_server, destination):
    destination(syntaxes=[ExplicitVRLittleEndian], allow_transcoding=False)
    responses = pynetdicom_move(dicom_server, query("IMAGE", SOPInstanceUID=J2K_UID))
    final, identifier = responses[-1]
    assert (final.Status, final.NumberOfFailedSuboperations) == (0xA702, 1)  # all sub-operations failed
    assert identifier.FailedSOPInstanceUIDList == J2K_UID


def test_a_failed_store_makes_the_move_a_warning(dicom_server, destination):
    failing = INSTANCES["A1"][1]
    destination(failing=[failing])
    responses = pynetdicom_move(dicom_server, query("SERIES", SeriesInstanceUID=SERIES["A1"]))
    final, identifier = responses[-1]
    assert final.Status == 0xB000
    assert (final.NumberOfCompletedSuboperations, final.NumberOfFailedSuboperations) == (2, 1)
    assert identifier.FailedSOPInstanceUIDList == failing


def test_a_sop_class_the_destination_refuses_fails_alone(dicom_server, destination):
    dest = destination(sop_classes=[SecondaryCaptureImageStorage])
    identifier = query("IMAGE", SOPInstanceUID=[CT_UID, INSTANCES["B1"][0]])
    responses = pynetdicom_move(dicom_server, identifier)
    final, failed = responses[-1]
    assert (final.Status, final.NumberOfCompletedSuboperations, final.NumberOfFailedSuboperations) == (0xB000, 1, 1)
    assert failed.FailedSOPInstanceUIDList == CT_UID
    assert set(dest.received) == uids_of("B1")


def test_a_cancel_ends_the_move(dicom_server, destination):
    dest = destination(delay=0.2)  # slow enough for the cancel to arrive mid-move
    ae = AE(ae_title="PYSCU")
    ae.add_requested_context(PATIENT_ROOT_MOVE)
    assoc = ae.associate("127.0.0.1", port_of(dicom_server), ae_title="PHAROS")
    (context,) = assoc.accepted_contexts
    statuses = []
    try:
        identifier = query("PATIENT", PatientID=PATIENT_ID)
        for status, _ in assoc.send_c_move(identifier, "DEST", PATIENT_ROOT_MOVE, msg_id=7):
            statuses.append(status)
            if len(statuses) == 1:
                assoc.send_c_cancel(7, context.context_id)
    finally:
        assoc.release()
    final = statuses[-1]
    assert final.Status == 0xFE00
    assert final.NumberOfRemainingSuboperations > 0
    assert len(dest.received) < 6


def test_a_move_from_an_unknown_calling_ae_is_refused(dicom_server, destination, caplog):
    dest = destination()
    responses = pynetdicom_move(dicom_server, query("STUDY", StudyInstanceUID=STUDIES["A"]), calling="STRANGER")
    assert final_status(responses) == 0x0124  # Refused: not authorised
    assert dest.received == {}
    assert "Refused MOVE from STRANGER" in caplog.text


def test_movescu_by_accession_number_at_patient_level_in_study_root(dicom_server, destination):
    dest = destination()
    accession = ACCESSION_NUMBERS["A"]
    result = dcmtk(
        "movescu", "-S", "-aet", "PYSCU", "-aec", "PHAROS", "-aem", "DEST",
        "-k", "QueryRetrieveLevel=STUDY", "-k", f"AccessionNumber={accession}",
        "127.0.0.1", port_of(dicom_server),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(dest.received) == uids_of("A1", "A2")
    result = dcmtk(
        "movescu", "-S", "-aet", "PYSCU", "-aec", "PHAROS", "-aem", "DEST",
        "-k", "QueryRetrieveLevel=PATIENT", "-k", f"PatientID={PATIENT_ID}",
        "127.0.0.1", port_of(dicom_server),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(dest.received) == uids_of("A1", "A2", "B1")


def test_an_asynchronous_move_is_a_job_and_answered_at_once(dicom_server, destination, settings, queue, api):
    # Orthanc with SynchronousCMove false: the C-MOVE answers that every sub-operation
    # succeeded, and a DicomModalityStore job sends the instances.
    from dicomnet.models import Job
    from tests.conftest import run_queued_jobs

    settings.PHAROS_DICOM_SYNCHRONOUS_CMOVE = False
    dest = destination()
    responses = pynetdicom_move(dicom_server, query("SERIES", SeriesInstanceUID=SERIES["A1"]))
    final, _ = responses[-1]
    assert (final.Status, final.NumberOfCompletedSuboperations, final.NumberOfFailedSuboperations) == (0, 3, 0)
    assert dest.received == {}
    job = Job.objects.get()
    assert (job.type, job.parameters["Modality"]) == ("DicomModalityStore", "dest")
    assert job.parameters["Description"] == "C-MOVE"
    assert str(job.id) in api.get("/jobs").json()
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == Job.SUCCESS
    assert (job.content["Description"], job.content["MoveOriginatorAET"]) == ("C-MOVE", "PYSCU")
    assert set(dest.received) == uids_of("A1")


# --- C-GET --------------------------------------------------------------------------------


def test_getscu_gets_a_series(dicom_server, archive, tmp_path):
    result = dcmtk(
        "getscu", "-S", "-aec", "PHAROS", "-od", tmp_path,
        "-k", "QueryRetrieveLevel=SERIES", "-k", f"SeriesInstanceUID={SERIES['A1']}",
        "127.0.0.1", port_of(dicom_server),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    received = {pydicom.dcmread(path).SOPInstanceUID: pydicom.dcmread(path) for path in tmp_path.glob("SC.*")}
    assert set(received) == uids_of("A1")
    for uid, dataset in received.items():
        assert dataset.PixelData == stored_pixels(uid)


def test_getscu_receives_jpeg2000_decompressed(dicom_server, archive, tmp_path):
    # getscu proposes uncompressed syntaxes only.
    result = dcmtk(
        "getscu", "-P", "-aec", "PHAROS", "-od", tmp_path,
        "-k", "QueryRetrieveLevel=IMAGE", "-k", f"SOPInstanceUID={J2K_UID}",
        "127.0.0.1", port_of(dicom_server),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (received,) = [pydicom.dcmread(path) for path in tmp_path.glob("SC.*")]
    assert received.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert numpy.array_equal(received.pixel_array, pydicom.dcmread(sample_path("JPEG2000.dcm")).pixel_array)


def test_pynetdicom_gets_a_study_with_counts(dicom_server, archive):
    contexts = {SecondaryCaptureImageStorage: [ExplicitVRLittleEndian]}
    responses, received = pynetdicom_get(dicom_server, query("STUDY", StudyInstanceUID=STUDIES["A"]), contexts)
    assert set(received) == uids_of("A1", "A2")
    assert [s.NumberOfRemainingSuboperations for s, _ in responses[:-1]] == [4, 3, 2, 1, 0]
    final, _ = responses[-1]
    assert (final.Status, final.NumberOfCompletedSuboperations) == (0x0000, 5)


def test_pynetdicom_gets_each_instance_in_the_syntax_it_proposed(dicom_server, archive):
    contexts = {SecondaryCaptureImageStorage: [JPEG2000], CTImageStorage: [ImplicitVRLittleEndian]}
    identifier = query("IMAGE", SOPInstanceUID=[J2K_UID, CT_UID])
    responses, received = pynetdicom_get(dicom_server, identifier, contexts, model=PATIENT_ROOT_GET)
    assert final_status(responses) == 0x0000
    assert received[J2K_UID].file_meta.TransferSyntaxUID == JPEG2000
    assert received[J2K_UID].PixelData == pydicom.dcmread(sample_path("JPEG2000.dcm")).PixelData
    assert received[CT_UID].file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert received[CT_UID].PixelData == pydicom.dcmread(sample_path("CT_small.dcm")).PixelData


def test_pynetdicom_gets_jpeg2000_decompressed_when_it_proposed_no_compression(dicom_server, archive):
    contexts = {SecondaryCaptureImageStorage: [ExplicitVRLittleEndian]}
    responses, received = pynetdicom_get(dicom_server, query("IMAGE", SOPInstanceUID=J2K_UID), contexts)
    assert final_status(responses) == 0x0000
    original = pydicom.dcmread(sample_path("JPEG2000.dcm"))
    assert numpy.array_equal(received[J2K_UID].pixel_array, original.pixel_array)


def test_a_get_of_a_sop_class_without_context_fails_for_it(dicom_server, archive):
    contexts = {SecondaryCaptureImageStorage: [ExplicitVRLittleEndian]}
    identifier = query("IMAGE", SOPInstanceUID=[INSTANCES["B1"][0], CT_UID])
    responses, received = pynetdicom_get(dicom_server, identifier, contexts)
    final, failed = responses[-1]
    assert (final.Status, final.NumberOfCompletedSuboperations, final.NumberOfFailedSuboperations) == (0xB000, 1, 1)
    assert failed.FailedSOPInstanceUIDList == CT_UID
    assert set(received) == uids_of("B1")


def test_a_get_without_the_unique_key_is_refused(dicom_server, archive):
    contexts = {SecondaryCaptureImageStorage: [ExplicitVRLittleEndian]}
    responses, received = pynetdicom_get(dicom_server, query("SERIES", StudyInstanceUID=STUDIES["A"]), contexts)
    assert final_status(responses) == 0xC000  # Unable to process, as Orthanc
    assert received == {}


def test_a_get_from_an_unknown_calling_ae_sends_nothing(dicom_server, archive):
    contexts = {SecondaryCaptureImageStorage: [ExplicitVRLittleEndian]}
    identifier = query("STUDY", StudyInstanceUID=STUDIES["A"])
    _, received = pynetdicom_get(dicom_server, identifier, contexts, calling="STRANGER")
    assert received == {}


def test_a_get_from_an_unknown_calling_ae_is_answered_not_authorised(dicom_server, archive):
    contexts = {SecondaryCaptureImageStorage: [ExplicitVRLittleEndian]}
    identifier = query("STUDY", StudyInstanceUID=STUDIES["A"])
    responses, _ = pynetdicom_get(dicom_server, identifier, contexts, calling="STRANGER")
    assert final_status(responses) == 0x0124


def test_pynetdicom_gets_a_ct_transcoded_to_the_compressed_syntax_it_proposed(dicom_server, archive):
    contexts = {CTImageStorage: [JPEGLSLossless]}
    responses, received = pynetdicom_get(dicom_server, query("IMAGE", SOPInstanceUID=CT_UID), contexts)
    assert final_status(responses) == 0x0000
    assert received[CT_UID].file_meta.TransferSyntaxUID == JPEGLSLossless
    original = pydicom.dcmread(sample_path("CT_small.dcm"))
    assert numpy.array_equal(received[CT_UID].pixel_array, original.pixel_array)


def test_a_get_by_our_own_requestor_from_our_own_server_brings_a_ct(dicom_server, archive, settings):
    # The requestor proposes every accepted syntax for each storage class; the server, which
    # sends here, takes an uncompressed one rather than JPEG Baseline, which a 16-bit CT
    # cannot be written in (it failed with 0xA702 when it took the first compressed one).
    from dicomnet.scu import retrieving

    server = Modality.objects.create(name="self", aet=settings.PHAROS_AET, host="127.0.0.1", port=port_of(dicom_server))
    content = retrieving.get(server, "Instance", [{"SOPInstanceUID": CT_UID}])
    assert (content["InstancesCount"], content["FailedInstancesCount"]) == (1, 0)
