"""DICOM TLS (dicomnet/tls.py): our SCP speaks TLS with DCMTK's tools, refuses peers without a
trusted certificate when one is required, never waits on a peer's handshake to accept others;
our SCU uses TLS towards modalities with UseDicomTls, with DCMTK's storescp and our own SCP.
The certificates are made here with openssl: a CA, ours, a peer's, and an untrusted one."""

import json
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from django.core.exceptions import ImproperlyConfigured
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, StoragePresentationContexts, build_role, evt
from pynetdicom.sop_class import CTImageStorage, StudyRootQueryRetrieveInformationModelGet

from dicomnet import scu, tls
from explorer import orthanc_config
from explorer.ingest import Origin, store_instance
from explorer.models import Instance
from tests.conftest import CT_SMALL, dicom_bytes, sample_path
from tests.dicom_peers import DCMTK_ENV, dcmtk, free_port, modality, port_of, wait_for_port, wait_until
from tests.tools import require_tool

ROOT = Path(__file__).resolve().parent.parent
CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
KEY = ("ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")  # quicker to make than RSA keys
LEAF = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"


def openssl(*args, cwd):
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """{name: (key, certificate)} for "pharos" and "peer", signed by the CA ("ca": its
    certificate), and "untrusted", self-signed."""
    require_tool("openssl")
    folder = tmp_path_factory.mktemp("certificates")
    (folder / "leaf.ext").write_text(LEAF)
    openssl("req", "-x509", "-newkey", *KEY, "-nodes", "-days", "2", "-subj", "/CN=Pharos test CA",
            "-keyout", "ca.key", "-out", "ca.crt", cwd=folder)  # fmt: skip
    found = {"ca": folder / "ca.crt"}
    for name in ("pharos", "peer"):
        openssl("req", "-newkey", *KEY, "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", cwd=folder)  # fmt: skip
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", "leaf.ext", "-out", f"{name}.crt", cwd=folder)  # fmt: skip
        found[name] = (folder / f"{name}.key", folder / f"{name}.crt")
    openssl("req", "-x509", "-newkey", *KEY, "-nodes", "-days", "2", "-subj", "/CN=untrusted",
            "-keyout", "untrusted.key", "-out", "untrusted.crt", cwd=folder)  # fmt: skip
    found["untrusted"] = (folder / "untrusted.key", folder / "untrusted.crt")
    return found


@pytest.fixture
def tls_settings(settings, certificates):
    """Our certificate, the CA trusted, a remote certificate required: Orthanc's defaults."""
    settings.PHAROS_DICOM_TLS = True
    settings.PHAROS_DICOM_TLS_PRIVATE_KEY, settings.PHAROS_DICOM_TLS_CERTIFICATE = map(str, certificates["pharos"])
    settings.PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES = str(certificates["ca"])
    settings.PHAROS_DICOM_TLS_REMOTE_CERTIFICATE_REQUIRED = True
    return settings


@pytest.fixture
def tls_server(transactional_db, tls_settings):
    """Our DICOM server, TLS only, in this process on a free port."""
    from dicomnet import scp

    server = scp.start(port=free_port(), host="127.0.0.1")
    yield server
    server.shutdown()


def tls_options(certificates, identity="peer"):
    """DCMTK's options: +tls with the identity's key and certificate, or +tla without any; the CA trusted."""
    chosen = ["+tls", *certificates[identity]] if identity else ["+tla"]
    return [*chosen, "+cf", certificates["ca"]]


def echoscu(server, *options):
    return dcmtk("echoscu", *options, "-ta", "10", "-aec", "PHAROS", "127.0.0.1", port_of(server))


# --- our SCP --------------------------------------------------------------------------------------


def test_dcmtk_echoes_stores_and_finds_over_tls(tls_server, certificates, settings):
    settings.PHAROS_DICOM_ALWAYS_ALLOW_FIND = True
    options = tls_options(certificates)
    assert echoscu(tls_server, *options).returncode == 0

    stored = dcmtk("storescu", *options, "-aec", "PHAROS", "-aet", "SENDER", "127.0.0.1", port_of(tls_server),
                   sample_path(CT_SMALL))  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    assert Instance.objects.get().remote_aet == "SENDER"

    found = dcmtk("findscu", *options, "-S", "-aec", "PHAROS", "-k", "QueryRetrieveLevel=STUDY",
                  "-k", "StudyInstanceUID", "-k", "PatientID=1CT1", "127.0.0.1", port_of(tls_server))  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert CT_STUDY in found.stderr  # findscu logs the answers

    # DCMTK 3.6.7's movescu and getscu have no TLS: C-MOVE and C-GET over TLS are asked by our
    # own SCU (test_every_operation_reaches_our_own_tls_server, test_a_move_over_tls_to_dcmtk).


@pytest.mark.parametrize("identity", ["untrusted", None], ids=["untrusted certificate", "no certificate"])
def test_a_peer_without_a_trusted_certificate_is_refused(tls_server, certificates, identity, caplog):
    refused = echoscu(tls_server, *tls_options(certificates, identity))
    assert refused.returncode != 0
    # The server's thread logs the failed handshake, possibly after the client has left.
    wait_until(lambda: "DICOM TLS handshake with 127.0.0.1" in caplog.text, 10, "no failed handshake logged")
    assert echoscu(tls_server, *tls_options(certificates)).returncode == 0


def test_the_port_speaks_tls_only(tls_server, caplog):
    assert echoscu(tls_server).returncode != 0
    wait_until(lambda: "(a peer without TLS?)" in caplog.text, 10, "no refused plain connection logged")


def test_without_a_required_certificate_any_peer_is_accepted(transactional_db, tls_settings, certificates):
    from dicomnet import scp

    tls_settings.PHAROS_DICOM_TLS_REMOTE_CERTIFICATE_REQUIRED = False
    tls_settings.PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES = None
    server = scp.start(port=free_port(), host="127.0.0.1")
    try:
        assert echoscu(server, *tls_options(certificates, None)).returncode == 0
        assert echoscu(server, *tls_options(certificates, "untrusted")).returncode == 0
    finally:
        server.shutdown()


def test_a_silent_client_holds_up_no_one_and_a_stalled_handshake_is_closed(
    transactional_db, tls_settings, certificates
):
    """The handshake happens in the association's thread: a client that connects and says
    nothing, or stops in the middle of its hello, does not keep the server from accepting."""
    from dicomnet import scp

    tls_settings.PHAROS_DICOM_SCP_TIMEOUT = 1  # the handshake's timeout

    server = scp.start(port=free_port(), host="127.0.0.1")
    silent = socket.create_connection(("127.0.0.1", port_of(server)))
    stalled = socket.create_connection(("127.0.0.1", port_of(server)))
    try:
        stalled.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello's first bytes
        assert echoscu(server, *tls_options(certificates)).returncode == 0
        stalled.settimeout(10)
        assert stalled.recv(1024) == b""  # closed by the server once the handshake timed out
    finally:
        silent.close()
        stalled.close()
        server.shutdown()


# --- our SCU ----------------------------------------------------------------------------------------


@pytest.fixture
def tls_storescp(tmp_path, certificates):
    """DCMTK's storescp over TLS only, with the peer's certificate, requiring a certificate the
    CA signed (start(identity) picks its own certificate)."""
    require_tool("storescp")
    folder = tmp_path / "storescp"
    folder.mkdir()
    processes = []

    def start(identity="peer"):
        port = free_port()
        process = subprocess.Popen(
            ["storescp", "+tls", *map(str, certificates[identity]), "+cf", str(certificates["ca"]),
             "-aet", "STORESCP", "-od", str(folder), str(port)],
            env=DCMTK_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        processes.append(process)
        wait_for_port(port, process)
        return port

    yield start, folder
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def stored_ct():
    return store_instance(dicom_bytes(CT_SMALL), Origin(kind="Plugins")).instance_id


def test_we_echo_and_store_to_dcmtk_over_tls(db, tls_settings, tls_storescp):
    tls_settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 0  # storescp serves one association at a time
    start, folder = tls_storescp
    destination = modality("STORESCP", start(), use_dicom_tls=True)
    stored_ct()
    scu.echo(destination)
    content = scu.store(destination, list(Instance.objects.all()))
    assert content["FailedInstancesCount"] == 0
    wait_until(lambda: list(folder.iterdir()), 10, "storescp wrote nothing")


def test_we_refuse_a_modality_whose_certificate_we_do_not_trust(db, tls_settings, tls_storescp):
    start, _ = tls_storescp
    destination = modality("STORESCP", start("untrusted"), use_dicom_tls=True)
    with pytest.raises(scu.NetworkError, match="certificate verify failed"):
        scu.echo(destination)


def test_without_use_dicom_tls_a_modality_is_reached_without_tls(db, tls_settings, tls_storescp):
    start, _ = tls_storescp
    with pytest.raises(scu.ScuError):
        scu.echo(modality("STORESCP", start(), use_dicom_tls=False))


def test_echo_store_find_and_move_reach_our_own_tls_server(tls_server):
    """Our SCU to our SCP, both over TLS: the move's destination is ourselves again."""
    ourselves = modality("PHAROS", port_of(tls_server), use_dicom_tls=True)
    stored_ct()
    scu.echo(ourselves)
    assert scu.store(ourselves, list(Instance.objects.all()))["FailedInstancesCount"] == 0
    answers, _ = scu.find(ourselves, "Study", {"StudyInstanceUID": CT_STUDY})
    assert [answer.StudyInstanceUID for answer in answers] == [CT_STUDY]
    reports = []
    scu.move(ourselves, "Study", [{"StudyInstanceUID": CT_STUDY}], "PHAROS", progress=lambda *r: reports.append(r))
    assert reports[-1] == (1, 1, 0)


def peer_context(certificates, purpose):
    """A pynetdicom peer's SSL context: the peer's certificate, the CA trusted and required."""
    context = ssl.create_default_context(purpose, cafile=str(certificates["ca"]))
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(*reversed(certificates["peer"]))
    return context


def test_a_pynetdicom_peer_gets_over_tls(tls_server, certificates, settings):
    settings.PHAROS_DICOM_ALWAYS_ALLOW_GET = True
    stored_ct()
    ae = AE(ae_title="GETSCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(CTImageStorage)
    received = []
    assoc = ae.associate(
        "127.0.0.1",
        port_of(tls_server),
        ae_title="PHAROS",
        ext_neg=[build_role(CTImageStorage, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, lambda event: received.append(event.dataset.SOPInstanceUID) or 0x0000)],
        tls_args=(peer_context(certificates, ssl.Purpose.SERVER_AUTH), None),
    )
    assert assoc.is_established
    query = Dataset()
    query.QueryRetrieveLevel, query.StudyInstanceUID = "STUDY", CT_STUDY
    statuses = [status.Status for status, _ in assoc.send_c_get(query, StudyRootQueryRetrieveInformationModelGet)]
    assoc.release()
    assert statuses[-1] == 0x0000
    assert received == [Instance.objects.get().sop_instance_uid]


@pytest.fixture
def tls_get_scp(certificates):
    """A pynetdicom C-GET SCP over TLS only, answering any study with CT_small."""
    ae = AE(ae_title="GETSCP")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    for context in StoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, [ExplicitVRLittleEndian], scu_role=True, scp_role=True)

    def on_get(event):
        yield 1
        yield 0xFF00, pydicom.dcmread(sample_path(CT_SMALL))

    port = free_port()
    server = ae.start_server(
        ("127.0.0.1", port),
        block=False,
        evt_handlers=[(evt.EVT_C_GET, on_get)],
        ssl_context=peer_context(certificates, ssl.Purpose.CLIENT_AUTH),
    )
    yield port
    server.shutdown()


def test_we_get_over_tls(db, tls_settings, tls_get_scp):
    reports = []
    scu.get(
        modality("GETSCP", tls_get_scp, use_dicom_tls=True),
        "Study",
        [{"StudyInstanceUID": CT_STUDY}],
        progress=lambda *report: reports.append(report),
    )
    assert reports[-1] == (1, 1, 0)
    assert Instance.objects.get().remote_aet == "GETSCP"


def test_a_move_over_tls_to_dcmtk(tls_server, tls_storescp):
    """A C-MOVE asked over TLS, whose destination, DCMTK's storescp, is reached over TLS too."""
    start, folder = tls_storescp
    modality("STORESCP", start(), use_dicom_tls=True)
    ourselves = modality("PHAROS", port_of(tls_server), use_dicom_tls=True)
    stored_ct()
    reports = []
    scu.move(ourselves, "Study", [{"StudyInstanceUID": CT_STUDY}], "STORESCP", progress=lambda *r: reports.append(r))
    assert reports[-1] == (1, 1, 0)
    assert len(list(folder.iterdir())) == 1


def test_use_dicom_tls_without_our_certificate_says_what_to_set(db, settings):
    settings.PHAROS_DICOM_TLS_CERTIFICATE = settings.PHAROS_DICOM_TLS_PRIVATE_KEY = None
    with pytest.raises(scu.ScuError, match="PHAROS_DICOM_TLS_CERTIFICATE and PHAROS_DICOM_TLS_PRIVATE_KEY"):
        scu.echo(modality("SECURE", free_port(), use_dicom_tls=True))


# --- settings ------------------------------------------------------------------------------------


def run_check(tmp_path, **environment):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHAROS_DICOM_TLS") and k != orthanc_config.VARIABLE}
    env.update(PHAROS_DATA_DIR=str(tmp_path / "data"), **environment)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_missing_file_stops_the_start_naming_its_variable(tmp_path, certificates):
    key, certificate = map(str, certificates["pharos"])
    result = run_check(
        tmp_path,
        PHAROS_DICOM_TLS="true",
        PHAROS_DICOM_TLS_CERTIFICATE=certificate,
        PHAROS_DICOM_TLS_PRIVATE_KEY=str(tmp_path / "missing.key"),
        PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES=str(certificates["ca"]),
    )
    assert result.returncode != 0
    assert f"PHAROS_DICOM_TLS_PRIVATE_KEY: no readable file {tmp_path / 'missing.key'}" in result.stderr
    result = run_check(tmp_path, PHAROS_DICOM_TLS="true", PHAROS_DICOM_TLS_CERTIFICATE=certificate,
                       PHAROS_DICOM_TLS_PRIVATE_KEY=key)  # fmt: skip
    assert result.returncode != 0
    assert "set PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES (Orthanc's DicomTlsTrustedCertificates)" in result.stderr


def test_orthanc_options_name_files_from_the_configurations_folder(tmp_path, certificates):
    folder = tmp_path / "orthanc"
    folder.mkdir()
    key, certificate = certificates["pharos"]
    (folder / "orthanc.key").write_bytes(key.read_bytes())
    options = {
        "DicomTlsEnabled": True,
        "DicomTlsCertificate": str(certificate),  # absolute
        "DicomTlsPrivateKey": "orthanc.key",  # relative to the configuration's folder
        "DicomTlsTrustedCertificates": "missing.crt",
        "DicomTlsRemoteCertificateRequired": True,
    }
    (folder / "orthanc.json").write_text(json.dumps(options))
    configuration = orthanc_config.read(folder / "orthanc.json")
    assert configuration.setting("PHAROS_DICOM_TLS_PRIVATE_KEY") == str(folder / "orthanc.key")
    assert configuration.setting("PHAROS_DICOM_TLS_CERTIFICATE") == str(certificate)
    result = run_check(tmp_path, PHAROS_ORTHANC_CONFIG=str(folder / "orthanc.json"))
    assert result.returncode != 0
    assert (
        f'The Orthanc option DicomTlsTrustedCertificates="missing.crt" in {folder / "orthanc.json"} '
        f"(PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES): no readable file {folder / 'missing.crt'}"
    ) in result.stderr


def test_a_file_that_is_no_certificate_stops_the_server_naming_it(tls_settings, tmp_path):
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate")
    tls_settings.PHAROS_DICOM_TLS_CERTIFICATE = str(not_pem)
    with pytest.raises(ImproperlyConfigured, match="PHAROS_DICOM_TLS_CERTIFICATE="):
        tls.server_context(handshake_timeout=1)
