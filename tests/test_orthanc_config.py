"""An Orthanc configuration file (PHAROS_ORTHANC_CONFIG) configures Pharos: read as Orthanc reads
it, under the environment, with its users, modalities and private tags applied at start."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet.models import Modality
from explorer import config, orthanc_config, tags
from explorer.accounts import ensure_users
from tests.conftest import make_dicom
from tests.dicom_peers import free_port
from tests.pharos_server import Server, request

ROOT = Path(__file__).resolve().parent.parent
WARNING = "sets options Pharos does not implement"

# Written as Orthanc's own files are: comments of both kinds, "//" and "/*" inside strings,
# trailing commas and a variable from the environment.
COMMENTED = """{
  /**
   * General configuration of Orthanc
   **/
  "Name" : "${PACS_NAME:-Radiology}",   // shown in /system
  "DicomAet" : "RADIOLOGY", /* at most 16 characters */
  "OrthancPeers" : { "peer" : [ "http://127.0.0.1:8042/", "user", "pass/*word" ] },
  "AcceptedTransferSyntaxes" : [ "1.2.840.10008.1.*", ],
}
"""

A_FILE = str(Path(__file__).resolve())
# Each option mapped onto a setting: a value unlike the default, and the setting it gives.
MAPPED = {
    "Name": ("Radiology", "PHAROS_NAME", "Radiology"),
    "HttpPort": (8142, "PHAROS_HTTP_PORT", 8142),
    "RemoteAccessAllowed": (True, "PHAROS_HTTP_HOST", "0.0.0.0"),
    "DicomAet": ("RADIOLOGY", "PHAROS_AET", "RADIOLOGY"),
    "DicomPort": (4142, "PHAROS_DICOM_PORT", 4142),
    "DicomCheckCalledAet": (True, "PHAROS_DICOM_CHECK_CALLED_AET", True),
    "DicomAlwaysAllowEcho": (False, "PHAROS_DICOM_ALWAYS_ALLOW_ECHO", False),
    "DicomAlwaysAllowStore": (False, "PHAROS_DICOM_ALWAYS_ALLOW_STORE", False),
    "DicomAlwaysAllowFind": (True, "PHAROS_DICOM_ALWAYS_ALLOW_FIND", True),
    "DicomAlwaysAllowMove": (True, "PHAROS_DICOM_ALWAYS_ALLOW_MOVE", True),
    "DicomAlwaysAllowGet": (True, "PHAROS_DICOM_ALWAYS_ALLOW_GET", True),
    "DicomCheckModalityHost": (True, "PHAROS_DICOM_CHECK_MODALITY_HOST", True),
    "OverwriteInstances": (True, "PHAROS_OVERWRITE_INSTANCES", True),
    "StableAge": (7, "PHAROS_STABLE_AGE", 7),
    "IngestTranscoding": ("1.2.840.10008.1.2.4.80", "PHAROS_INGEST_TRANSCODING", "1.2.840.10008.1.2.4.80"),
    "IngestTranscodingOfUncompressed": (False, "PHAROS_INGEST_TRANSCODING_OF_UNCOMPRESSED", False),
    "IngestTranscodingOfCompressed": (False, "PHAROS_INGEST_TRANSCODING_OF_COMPRESSED", False),
    "TranscodeDicomProtocol": (False, "PHAROS_DICOM_TRANSCODE", False),
    "DicomScuPreferredTransferSyntax": (
        "1.2.840.10008.1.2.5",
        "PHAROS_DICOM_SCU_PREFERRED_TRANSFER_SYNTAX",
        "1.2.840.10008.1.2.5",
    ),
    "LimitFindResults": (11, "PHAROS_DICOM_LIMIT_FIND_RESULTS", 11),
    "LimitFindInstances": (12, "PHAROS_DICOM_LIMIT_FIND_INSTANCES", 12),
    "CaseSensitivePN": (True, "PHAROS_DICOM_CASE_SENSITIVE_PN", True),
    "DefaultEncoding": ("Utf8", "PHAROS_DEFAULT_ENCODING", "Utf8"),
    "AcceptedTransferSyntaxes": (
        ["1.2.840.10008.1.2", "1.2.840.10008.1.2.4.*"],
        "PHAROS_DICOM_ACCEPTED_TRANSFER_SYNTAXES",
        ["1.2.840.10008.1.2", "1.2.840.10008.1.2.4.*"],
    ),
    "UnknownSopClassAccepted": (True, "PHAROS_DICOM_UNKNOWN_SOP_CLASS_ACCEPTED", True),
    "DicomScpTimeout": (31, "PHAROS_DICOM_SCP_TIMEOUT", 31),
    "DicomScuTimeout": (12, "PHAROS_DICOM_SCU_TIMEOUT", 12),
    "MaximumPduLength": (16384, "PHAROS_DICOM_MAX_PDU", 16384),
    "DicomAssociationCloseDelay": (2, "PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY", 2),
    "SynchronousCMove": (False, "PHAROS_DICOM_SYNCHRONOUS_CMOVE", False),
    "JobsHistorySize": (3, "PHAROS_JOBS_HISTORY_SIZE", 3),
    "LogExportedResources": (True, "PHAROS_LOG_EXPORTED_RESOURCES", True),
    "QueryRetrieveSize": (5, "PHAROS_QUERIES_KEPT", 5),
    # The settings check that the files exist; the DICOM server reads them (tests/test_dicom_tls.py).
    "DicomTlsEnabled": (True, "PHAROS_DICOM_TLS", True),
    "DicomTlsCertificate": (A_FILE, "PHAROS_DICOM_TLS_CERTIFICATE", A_FILE),
    "DicomTlsPrivateKey": (A_FILE, "PHAROS_DICOM_TLS_PRIVATE_KEY", A_FILE),
    "DicomTlsTrustedCertificates": (A_FILE, "PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES", A_FILE),
    "DicomTlsRemoteCertificateRequired": (False, "PHAROS_DICOM_TLS_REMOTE_CERTIFICATE_REQUIRED", False),
    # HTTPS: tests/test_https.py serves it with such a file.
    "SslEnabled": (True, "PHAROS_TLS", "on"),
    "SslCertificate": ("/etc/orthanc/orthanc.pem", "PHAROS_TLS_CERT", "/etc/orthanc/orthanc.pem"),
    # HTTPS to Orthanc peers: tests/test_peers_orthanc.py sends to an Orthanc serving it.
    "HttpsCACertificates": (A_FILE, "PHAROS_HTTPS_CA_CERTIFICATES", A_FILE),
    "HttpsVerifyPeers": (False, "PHAROS_HTTPS_VERIFY_PEERS", False),
}


@pytest.fixture
def configure(monkeypatch, tmp_path):
    """Point PHAROS_ORTHANC_CONFIG at a file holding these options (a dict, or text as is)."""
    # Set, not deleted, so that the warning's own mark is removed after the test.
    monkeypatch.setenv(orthanc_config.WARNED_VARIABLE, "")
    written = []

    def write(options, name="orthanc.json"):
        path = tmp_path / f"{len(written)}" / name
        path.parent.mkdir()
        path.write_text(options if isinstance(options, str) else json.dumps(options))
        written.append(path)
        monkeypatch.setenv(orthanc_config.VARIABLE, str(path))
        return path

    return write


def run_manage(*args, **environment):
    env = {k: v for k, v in os.environ.items() if k not in orthanc_config.OPTION_OF}
    env.update(environment)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


# --- reading the file ---------------------------------------------------------------------------


def test_comments_trailing_commas_and_variables_are_read(monkeypatch):
    monkeypatch.delenv("PACS_NAME", raising=False)
    options = orthanc_config.parse(COMMENTED)
    assert options == {
        "Name": "Radiology",
        "DicomAet": "RADIOLOGY",
        "OrthancPeers": {"peer": ["http://127.0.0.1:8042/", "user", "pass/*word"]},
        "AcceptedTransferSyntaxes": ["1.2.840.10008.1.*"],
    }
    monkeypatch.setenv("PACS_NAME", "Cardiology")
    assert orthanc_config.parse(COMMENTED)["Name"] == "Cardiology"


def test_a_json_error_names_the_file_and_its_line(configure):
    path = configure('{\n  /* a comment\n  over lines */\n  "Name": "x" "DicomAet": "Y"\n}')
    with pytest.raises(ImproperlyConfigured, match=rf"{path}.*line 4"):
        orthanc_config.read(path)


def test_a_folder_of_json_files_is_merged_and_an_option_set_twice_is_refused(tmp_path):
    (tmp_path / "orthanc.json").write_text('{"Name": "Radiology", // the server\n "DicomAet": "RADIOLOGY"}')
    (tmp_path / "credentials.json").write_text('{ /* secrets */ "RegisteredUsers": {"alice": "secret"} }')
    (tmp_path / "notes.txt").write_text("not a configuration file")
    options = orthanc_config.read(tmp_path).options
    assert options == {"Name": "Radiology", "DicomAet": "RADIOLOGY", "RegisteredUsers": {"alice": "secret"}}
    (tmp_path / "other.json").write_text('{"DicomAet": "OTHER"}')
    with pytest.raises(ImproperlyConfigured, match="DicomAet is set in two configuration files"):
        orthanc_config.read(tmp_path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="no such file"):
        orthanc_config.read(tmp_path / "missing.json")


# --- the file under the environment ------------------------------------------------------------------


def test_the_file_fills_what_the_environment_leaves_unset(configure, monkeypatch):
    configure({"HttpPort": 8142, "DicomAet": "RADIOLOGY"})
    monkeypatch.delenv("PHAROS_AET", raising=False)
    monkeypatch.setenv("PHAROS_HTTP_PORT", "9042")
    assert config.env_port("PHAROS_HTTP_PORT", 8042) == 9042
    assert config.env_aet("PHAROS_AET", "PHAROS") == "RADIOLOGY"
    monkeypatch.setenv("PHAROS_HTTP_PORT", "")
    assert config.env_port("PHAROS_HTTP_PORT", 8042) == 8142


def test_every_mapped_option_is_tested():
    assert set(MAPPED) == set(orthanc_config.SETTINGS)


def test_each_option_reaches_its_setting(configure):
    path = configure({option: value for option, (value, _, _) in MAPPED.items()})
    names = [variable for _, variable, _ in MAPPED.values()]
    code = "import json; from django.conf import settings as s; "
    code += f"print(json.dumps({{n: getattr(s, n) for n in {names}}}))"
    result = run_manage("shell", "-c", code, PHAROS_ORTHANC_CONFIG=str(path))
    assert result.returncode == 0, result.stderr
    # The shell may first say what it imported: the answer is the last line.
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {variable: expected for _, variable, expected in MAPPED.values()}


@pytest.mark.parametrize(
    "options, message",
    [
        ({"HttpPort": 70000}, "HttpPort=70000 in {path} (PHAROS_HTTP_PORT) is not valid: use a whole number"),
        ({"DicomAet": "A_TITLE_LONGER_THAN_16"}, 'DicomAet="A_TITLE_LONGER_THAN_16" in {path} (PHAROS_AET)'),
        ({"StableAge": "soon"}, 'StableAge="soon" in {path} (PHAROS_STABLE_AGE) is not valid'),
        (
            {"IngestTranscoding": "1.2.3"},
            'IngestTranscoding="1.2.3" in {path} (PHAROS_INGEST_TRANSCODING) is not valid',
        ),
        ({"OverwriteInstances": "maybe"}, 'OverwriteInstances="maybe" in {path} (PHAROS_OVERWRITE_INSTANCES)'),
        ({"RemoteAccessAllowed": "yes"}, 'RemoteAccessAllowed="yes" in {path} is not valid: use true or false'),
        ({"Name": {"a": 1}}, 'Name={{"a": 1}} in {path} is not valid: use a single value'),
        ({"AuthenticationEnabled": "no"}, "AuthenticationEnabled"),
        ({"RegisteredUsers": {"alice": 7}}, "RegisteredUsers"),
        ({"DicomModalities": []}, "DicomModalities=[] in {path} is not valid: use a JSON object"),
        ({"Dictionary": {"0009,1001": "DS"}}, "Dictionary="),
    ],
)
def test_a_bad_value_stops_the_start_naming_the_option(configure, options, message):
    path = configure(options)
    result = run_manage("check", PHAROS_ORTHANC_CONFIG=str(path))
    assert result.returncode != 0
    assert "The Orthanc option " + message.format(path=path) in result.stderr


# --- sections applied at start ------------------------------------------------------------------------


@pytest.mark.django_db
def test_registered_users_are_created_and_their_passwords_updated(configure):
    users = get_user_model().objects
    users.create_user("bob", password="old")
    configuration = orthanc_config.read(configure({"RegisteredUsers": {"alice": "secret", "bob": "new"}}))
    ensure_users(configuration.section("RegisteredUsers"))
    assert users.get(username="alice").check_password("secret")
    assert users.get(username="bob").check_password("new")
    assert not users.get(username="alice").is_staff


@pytest.mark.django_db
def test_modalities_in_both_forms_are_created_then_updated(configure):
    Modality.objects.create(name="kept", aet="KEPT", host="10.0.0.9", port=104)
    configure(
        {
            "DicomModalities": {
                "storescp": ["STORESCP", "127.0.0.1", 2000],
                "ge": ["GEPACS", "10.0.0.2", 104, "GE"],
                "ct": {
                    "AET": "CT",
                    "Host": "10.0.0.3",
                    "Port": 4100,
                    "Manufacturer": "Generic",
                    "AllowEcho": True,
                    "AllowFind": False,
                    "AllowGet": False,
                    "AllowMove": True,
                    "AllowStore": True,
                    "AllowTranscoding": False,
                    "AllowStorageCommitment": False,
                    "LocalAet": "PHAROS_CT",
                    "Timeout": 20,
                },
            }
        }
    )
    call_command("configure")
    rows = {m.name: m for m in Modality.objects.all()}
    assert set(rows) == {"storescp", "ge", "ct", "kept"}
    assert (rows["storescp"].aet, rows["storescp"].host, rows["storescp"].port) == ("STORESCP", "127.0.0.1", 2000)
    assert rows["storescp"].allow_find and rows["ge"].manufacturer == "GE"
    ct = rows["ct"]
    assert (ct.allow_echo, ct.allow_find, ct.allow_get, ct.allow_move, ct.allow_transcoding) == (
        True,
        False,
        False,
        True,
        False,
    )
    assert (ct.local_aet, ct.timeout) == ("PHAROS_CT", 20)
    # As Orthanc's PUT does, an entry replaces the modality: the fields it leaves out take their defaults.
    configure({"DicomModalities": {"ct": {"AET": "CT", "Host": "10.0.0.5", "Port": 4101}}})
    call_command("configure")
    ct = Modality.objects.get(name="ct")
    assert (ct.host, ct.port, ct.allow_find, ct.allow_transcoding, ct.local_aet, ct.timeout) == (
        "10.0.0.5",
        4101,
        True,
        True,
        "",
        0,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "modality, message",
    [
        (["STORESCP", "127.0.0.1"], "'bad': A modality as an array is"),
        ({"AET": "X", "Host": "h", "Port": 104, "Colour": "red"}, "'bad': Unknown modality parameter(s): Colour"),
        (["STORESCP", "127.0.0.1", 70000], "'bad': port"),
    ],
)
def test_a_bad_modality_stops_the_start_naming_it(configure, modality, message):
    configure({"DicomModalities": {"bad": modality}})
    with pytest.raises(CommandError, match="The Orthanc option DicomModalities in .*" + re.escape(message)):
        call_command("configure")


def test_dictionary_entries_name_their_tags(configure):
    configure(
        {
            "Dictionary": {
                "0009,1001": ["DS", "PharosTestDose", 1, 1, "PHAROS TEST"],
                "0009,1002": ["LO", "PharosTestNames", 1, 0, "PHAROS TEST"],
                "0009,1003": ["LO", "NoCreator"],
            }
        }
    )
    orthanc_config.add_dictionary()
    assert tags.tag_name(0x00091001, "PHAROS TEST") == "PharosTestDose"
    ds = Dataset()
    block = ds.private_block(0x0009, "PHAROS TEST", create=True)
    block.add_new(0x01, "DS", "1.5")
    block.add_new(0x02, "LO", ["a", "b"])
    assert ds[0x00091001].name == "[PharosTestDose]"
    assert ds[0x00091002].VR == "LO"
    # Without its private creator pydicom cannot name a private tag: the warning says so.
    assert "Dictionary 0009,1003 (a private tag without its private creator)" in orthanc_config.current().not_honoured()


def test_the_options_pharos_does_not_implement_are_named_once(configure, caplog):
    configure(
        {
            "Name": "Radiology",
            "StorageDirectory": "/var/lib/orthanc/db",
            "SslVerifyPeers": False,
            "AuthenticationEnabled": False,
            "HttpServerEnabled": True,
        }
    )
    with caplog.at_level(logging.WARNING, logger="explorer.orthanc_config"):
        orthanc_config.warn_once()
        orthanc_config.warn_once()
    [record] = caplog.records
    message = record.getMessage()
    assert "StorageDirectory, SslVerifyPeers, AuthenticationEnabled=false (Pharos always requires a user)" in message
    assert "Name" not in message.split("ignored:")[1] and "HttpServerEnabled" not in message


def test_the_readme_table_names_every_honoured_option():
    readme = (ROOT / "README.md").read_text()
    for option in [*orthanc_config.SETTINGS, *orthanc_config.SECTIONS, *orthanc_config.ALWAYS]:
        assert f"| `{option}` |" in readme, option


# --- the real server ----------------------------------------------------------------------------------


def with_private_dose():
    ds = dcmread(io.BytesIO(make_dicom()))
    ds.private_block(0x0009, "PHAROS TEST", create=True).add_new(0x01, "DS", "1.5")
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_the_server_starts_on_an_orthanc_configuration(tmp_path):
    http_port, dicom_port = free_port(), free_port()
    folder = tmp_path / "orthanc"
    folder.mkdir()
    (folder / "orthanc.json").write_text(
        "{\n"
        '  "Name" : "Radiology", // as in /etc/orthanc/orthanc.json\n'
        '  "DicomAet" : "RADIOLOGY",\n'
        f'  "HttpPort" : {http_port}, "DicomPort" : {dicom_port},\n'
        '  "RemoteAccessAllowed" : false,\n'
        "  /* Orthanc options Pharos has no use for */\n"
        '  "StorageDirectory" : "/var/lib/orthanc/db", "HttpThreadsCount" : 50,\n'
        '  "DicomModalities" : { "storescp" : [ "STORESCP", "127.0.0.1", 2000 ] },\n'
        '  "Dictionary" : { "0009,1001" : [ "DS", "PharosTestDose", 1, 1, "PHAROS TEST" ] },\n'
        "}\n"
    )
    (folder / "credentials.json").write_text('{"RegisteredUsers": {"alice": "wonderland", "admin": "from-file"}}')
    server = Server(
        tmp_path / "data",
        "from-environment",
        port=http_port,
        dicom_port=dicom_port,
        PHAROS_ORTHANC_CONFIG=str(folder),
        PHAROS_HTTP_PORT="",
        PHAROS_DICOM_PORT="",
        PHAROS_NAME="",
        PHAROS_ORTHANC_CONFIG_WARNED="",
    )
    try:
        status, _, body = request(http_port, "/system", "wonderland", user="alice")
        assert status == 200
        system = json.loads(body)
        assert (system["Name"], system["DicomAet"]) == ("Radiology", "RADIOLOGY")
        assert (system["HttpPort"], system["DicomPort"]) == (http_port, dicom_port)
        assert json.loads(request(http_port, "/modalities", "wonderland", user="alice")[2]) == ["storescp"]
        # The web server's processes name the file's private tags.
        status, _, body = request(
            http_port, "/instances", "wonderland", "POST", with_private_dose(), "application/dicom", user="alice"
        )
        assert status == 200, body
        tags_url = f"/instances/{json.loads(body)['ID']}/tags"
        dose = json.loads(request(http_port, tags_url, "wonderland", user="alice")[2])["0009,1001"]
        assert dose["Name"] == "PharosTestDose"
        # The environment's administrator password wins over the file's.
        assert request(http_port, "/system", "from-environment")[0] == 200
        assert request(http_port, "/system", "from-file")[0] == 401
        assert request(http_port, "/system", "wrong", user="alice")[0] == 401
    finally:
        server.stop()
    output = server.log()
    # Named once, by the first process: not again by each server it started.
    assert output.count(WARNING) == 1
    assert "StorageDirectory, HttpThreadsCount" in output
