"""An Orthanc configuration file (`PHAROS_ORTHANC_CONFIG`), read as Orthanc reads it.

Orthanc's JSON allows // and /* */ comments, trailing commas and `${VARIABLE}` (or
`${VARIABLE:-default}`) taken from the environment; the path may name a folder, whose .json
files are merged (an option set in two of them is an error, as in Orthanc).

Each scalar option Pharos implements maps onto the PHAROS_* variable that already exists
(SETTINGS); `explorer/config.py` asks here when the environment does not set the variable, so
the environment overrides the file and every process started with the same environment (web,
DICOM, workers) reads the same values. The sections that are not one value are applied at
start: RegisteredUsers and DicomModalities by `manage.py start`, Dictionary by each process
(explorer/apps.py). Every other option is named in one warning, never silently dropped.
"""

import functools
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

VARIABLE = "PHAROS_ORTHANC_CONFIG"
# Set once the warning about unimplemented options is logged: the processes `manage.py start`
# spawns inherit it and stay quiet, so the warning appears once, not once per process.
WARNED_VARIABLE = "PHAROS_ORTHANC_CONFIG_WARNED"

logger = logging.getLogger(__name__)


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ValueError("use a single value (a string, a number, true or false)")


def _uid_list(value):
    # Orthanc takes one UID or a list of them; the Pharos variable is comma-separated.
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(uid, str) for uid in value):
        return ",".join(value)
    raise ValueError("use a transfer syntax UID or a list of them")


def _listen_address(value):
    # Orthanc refuses other hosts than the local one unless remote access is allowed; Pharos
    # does the same by where it listens.
    if isinstance(value, bool):
        return "0.0.0.0" if value else "127.0.0.1"
    raise ValueError("use true or false")


def _ssl_enabled(value):
    # Orthanc serves HTTPS with SslEnabled and SslCertificate: one PEM holding key and certificate.
    if isinstance(value, bool):
        return "on" if value else "off"
    raise ValueError("use true or false")


# Orthanc's option → (the Pharos variable it sets, how its JSON value becomes the variable's text).
SETTINGS = {
    "Name": ("PHAROS_NAME", _scalar),
    "HttpPort": ("PHAROS_HTTP_PORT", _scalar),
    "RemoteAccessAllowed": ("PHAROS_HTTP_HOST", _listen_address),
    "DicomAet": ("PHAROS_AET", _scalar),
    "DicomPort": ("PHAROS_DICOM_PORT", _scalar),
    "DicomCheckCalledAet": ("PHAROS_DICOM_CHECK_CALLED_AET", _scalar),
    "DicomAlwaysAllowEcho": ("PHAROS_DICOM_ALWAYS_ALLOW_ECHO", _scalar),
    "DicomAlwaysAllowStore": ("PHAROS_DICOM_ALWAYS_ALLOW_STORE", _scalar),
    "DicomAlwaysAllowFind": ("PHAROS_DICOM_ALWAYS_ALLOW_FIND", _scalar),
    "DicomAlwaysAllowMove": ("PHAROS_DICOM_ALWAYS_ALLOW_MOVE", _scalar),
    "DicomAlwaysAllowGet": ("PHAROS_DICOM_ALWAYS_ALLOW_GET", _scalar),
    "DicomCheckModalityHost": ("PHAROS_DICOM_CHECK_MODALITY_HOST", _scalar),
    "OverwriteInstances": ("PHAROS_OVERWRITE_INSTANCES", _scalar),
    "StableAge": ("PHAROS_STABLE_AGE", _scalar),
    "IngestTranscoding": ("PHAROS_INGEST_TRANSCODING", _scalar),
    "IngestTranscodingOfUncompressed": ("PHAROS_INGEST_TRANSCODING_OF_UNCOMPRESSED", _scalar),
    "IngestTranscodingOfCompressed": ("PHAROS_INGEST_TRANSCODING_OF_COMPRESSED", _scalar),
    "LimitFindResults": ("PHAROS_DICOM_LIMIT_FIND_RESULTS", _scalar),
    "LimitFindInstances": ("PHAROS_DICOM_LIMIT_FIND_INSTANCES", _scalar),
    "CaseSensitivePN": ("PHAROS_DICOM_CASE_SENSITIVE_PN", _scalar),
    "DefaultEncoding": ("PHAROS_DEFAULT_ENCODING", _scalar),
    "AcceptedTransferSyntaxes": ("PHAROS_DICOM_ACCEPTED_TRANSFER_SYNTAXES", _uid_list),
    "UnknownSopClassAccepted": ("PHAROS_DICOM_UNKNOWN_SOP_CLASS_ACCEPTED", _scalar),
    "DicomScpTimeout": ("PHAROS_DICOM_SCP_TIMEOUT", _scalar),
    "DicomScuTimeout": ("PHAROS_DICOM_SCU_TIMEOUT", _scalar),
    "MaximumPduLength": ("PHAROS_DICOM_MAX_PDU", _scalar),
    "DicomAssociationCloseDelay": ("PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY", _scalar),
    "SynchronousCMove": ("PHAROS_DICOM_SYNCHRONOUS_CMOVE", _scalar),
    "TranscodeDicomProtocol": ("PHAROS_DICOM_TRANSCODE", _scalar),
    "DicomScuPreferredTransferSyntax": ("PHAROS_DICOM_SCU_PREFERRED_TRANSFER_SYNTAX", _scalar),
    "JobsHistorySize": ("PHAROS_JOBS_HISTORY_SIZE", _scalar),
    "LogExportedResources": ("PHAROS_LOG_EXPORTED_RESOURCES", _scalar),
    "QueryRetrieveSize": ("PHAROS_QUERIES_KEPT", _scalar),
    # DICOM TLS: the files' paths are read from the configuration's folder when relative.
    "DicomTlsEnabled": ("PHAROS_DICOM_TLS", _scalar),
    "DicomTlsCertificate": ("PHAROS_DICOM_TLS_CERTIFICATE", _scalar),
    "DicomTlsPrivateKey": ("PHAROS_DICOM_TLS_PRIVATE_KEY", _scalar),
    "DicomTlsTrustedCertificates": ("PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES", _scalar),
    "DicomTlsRemoteCertificateRequired": ("PHAROS_DICOM_TLS_REMOTE_CERTIFICATE_REQUIRED", _scalar),
    "SslEnabled": ("PHAROS_TLS", _ssl_enabled),
    "SslCertificate": ("PHAROS_TLS_CERT", _scalar),
    "HttpsVerifyPeers": ("PHAROS_HTTPS_VERIFY_PEERS", _scalar),
    "HttpsCACertificates": ("PHAROS_HTTPS_CA_CERTIFICATES", _scalar),
}
# Options naming a file: a relative path is taken from the configuration's folder.
PATHS = {
    "DicomTlsCertificate",
    "DicomTlsPrivateKey",
    "DicomTlsTrustedCertificates",
    "SslCertificate",
    "HttpsCACertificates",
}
OPTION_OF = {variable: option for option, (variable, _) in SETTINGS.items()}
# Sections applied at start rather than read as one value.
SECTIONS = ("RegisteredUsers", "DicomModalities", "Dictionary", "OrthancPeers", "DicomWeb")
# Options naming what Pharos always does: honoured with this value, named in the warning otherwise.
ALWAYS = {
    # Pharos always asks for a user (secure by default), even on the local host.
    "AuthenticationEnabled": True,
    "HttpServerEnabled": True,
    "DicomServerEnabled": True,
    "OrthancExplorerEnabled": True,
    "StoreDicom": True,
    # Modalities live in the database, whether configured here, by REST or in the admin pages.
    "DicomModalitiesInDatabase": True,
    "OrthancPeersInDatabase": True,
}
ALWAYS_WHY = {
    "AuthenticationEnabled": "Pharos always requires a user",
    "DicomModalitiesInDatabase": "modalities are always kept in the database",
    "OrthancPeersInDatabase": "peers are always kept in the database",
}


@dataclass
class Configuration:
    path: Path
    options: dict
    dictionary: dict = field(default_factory=dict)  # {private creator or "": {tag: (VR, VM, name)}}
    ignored_dictionary: list = field(default_factory=list)

    def describe(self, option):
        """`Option=value in path`, for messages."""
        return f"{option}={json.dumps(self.options[option])} in {self.path}"

    def invalid(self, option, allowed):
        return ImproperlyConfigured(f"The Orthanc option {self.describe(option)} is not valid: {allowed}")

    def setting(self, variable):
        """The text of the Pharos variable `variable` from this file, or None."""
        option = OPTION_OF.get(variable)
        if option not in self.options:
            return None
        try:
            text = SETTINGS[option][1](self.options[option])
        except ValueError as error:
            raise self.invalid(option, str(error)) from error
        if option in PATHS and text.strip():
            text = str(self.folder / Path(text.strip()).expanduser())
        return text

    @property
    def folder(self):
        """Where the configuration's relative paths start: its folder, or the file's."""
        return self.path if self.path.is_dir() else self.path.parent

    def section(self, name):
        return self.options.get(name) or {}

    def not_honoured(self):
        """The options Pharos does not implement, each as it is named in the warning."""
        names = []
        for option, value in self.options.items():
            if option in SETTINGS or option in SECTIONS:
                continue
            if option in ALWAYS:
                if value != ALWAYS[option]:
                    why = ALWAYS_WHY.get(option)
                    names.append(f"{option}={json.dumps(value)}" + (f" ({why})" if why else ""))
                continue
            names.append(option)
        names += [f"Dictionary {key} ({why})" for key, why in self.ignored_dictionary]
        return names


# --- reading the file ---------------------------------------------------------------------------

_STRING = r'"(?:\\.|[^"\\])*"'
_COMMENTS = re.compile(_STRING + r"|//[^\n]*|/\*.*?\*/", re.DOTALL)
_TRAILING_COMMAS = re.compile(_STRING + r"|,(?=\s*[\]}])")
_ENVIRONMENT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _keep_strings(replacement):
    return lambda match: match.group(0) if match.group(0).startswith('"') else replacement(match.group(0))


def parse(text):
    """The JSON object of Orthanc's format: comments, trailing commas and ${VARIABLE}."""
    text = _ENVIRONMENT.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), text)
    # A comment becomes its line breaks, so that JSON errors give the right line.
    text = _COMMENTS.sub(_keep_strings(lambda comment: "\n" * comment.count("\n") or " "), text)
    text = _TRAILING_COMMAS.sub(_keep_strings(lambda comma: ""), text)
    return json.loads(text)


def _read_file(path):
    try:
        options = parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ImproperlyConfigured(f"{VARIABLE}: cannot read the Orthanc configuration {path}: {error}") from error
    if not isinstance(options, dict):
        raise ImproperlyConfigured(f"{VARIABLE}: the Orthanc configuration {path} is not a JSON object")
    return options


def read(path):
    """The merged options of a file or of a folder's .json files, checked."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
    elif path.is_file():
        files = [path]
    else:
        raise ImproperlyConfigured(f"{VARIABLE}={str(path)!r}: no such file or folder")
    options, found_in = {}, {}
    for file in files:
        for option, value in _read_file(file).items():
            if option in options:
                raise ImproperlyConfigured(
                    f"The Orthanc option {option} is set in two configuration files: {found_in[option]} and {file}"
                )
            options[option], found_in[option] = value, file
    configuration = Configuration(path, options)
    _check_sections(configuration)
    return configuration


def _check_sections(configuration):
    for name in SECTIONS:
        if not isinstance(configuration.options.get(name, {}), dict):
            raise configuration.invalid(name, "use a JSON object")
    for user, password in configuration.section("RegisteredUsers").items():
        if not user or len(user) > 150 or not isinstance(password, str) or not password:
            raise configuration.invalid("RegisteredUsers", f"{user!r} needs a name and a password, both strings")
    if "AuthenticationEnabled" in configuration.options and not isinstance(
        configuration.options["AuthenticationEnabled"], bool
    ):
        raise configuration.invalid("AuthenticationEnabled", "use true or false")
    _read_dictionary(configuration)


_TAG = re.compile(r"^([0-9A-Fa-f]{4})[,-]?([0-9A-Fa-f]{4})$")


def _read_dictionary(configuration):
    """Orthanc's `"gggg,eeee": [VR, Name, min multiplicity, max multiplicity (0: any), private creator]`."""
    for key, entry in configuration.section("Dictionary").items():
        match = _TAG.match(key)
        valid = (
            match
            and isinstance(entry, list)
            and 2 <= len(entry) <= 5
            and all(isinstance(text, str) and text for text in entry[:2])
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in entry[2:4])
            and all(isinstance(text, str) for text in entry[4:])
        )
        if not valid:
            raise configuration.invalid("Dictionary", f'{key!r}: use "gggg,eeee": [VR, Name, min, max, PrivateCreator]')
        tag = int(match.group(1) + match.group(2), 16)
        vr, name = entry[0].upper(), entry[1]
        low = entry[2] if len(entry) > 2 else 1
        high = entry[3] if len(entry) > 3 else 1
        creator = entry[4] if len(entry) > 4 else ""
        vm = str(low) if high == low else (f"{low}-n" if high == 0 else f"{low}-{high}")
        if (tag >> 16) % 2 == 1 and not creator:
            # pydicom names a private tag only under its creator.
            configuration.ignored_dictionary.append((key, "a private tag without its private creator"))
            continue
        configuration.dictionary.setdefault(creator if (tag >> 16) % 2 == 1 else "", {})[tag] = (vr, vm, name)


@functools.cache
def _load(path):
    return read(path)


def current():
    """The configuration `PHAROS_ORTHANC_CONFIG` names, or None."""
    path = os.environ.get(VARIABLE, "").strip()
    if not path:
        return None
    absolute = os.path.abspath(os.path.expanduser(path))
    # The servers `manage.py start` spawns run in the project folder: they must find the same file.
    os.environ[VARIABLE] = absolute
    return _load(absolute)


def setting(variable):
    """The text the configuration file gives the Pharos variable `variable`, or None."""
    configuration = current()
    return configuration.setting(variable) if configuration else None


def describe(variable):
    """`Option=value in path` when the file sets the variable, else None (for error messages)."""
    configuration = current()
    option = OPTION_OF.get(variable)
    if configuration is None or option not in configuration.options:
        return None
    return configuration.describe(option)


# --- applied in each process ------------------------------------------------------------------------


def add_dictionary():
    """Add the file's Dictionary to pydicom's, so that its tags have names in this process."""
    from pydicom.datadict import add_dict_entries, add_private_dict_entries

    configuration = current()
    if configuration is None:
        return
    for creator, entries in configuration.dictionary.items():
        if creator:
            add_private_dict_entries(creator, {tag: (vr, vm, name, "") for tag, (vr, vm, name) in entries.items()})
        else:
            add_dict_entries({tag: (vr, vm, name, "", name) for tag, (vr, vm, name) in entries.items()})


def warn_once():
    """Log the options Pharos does not implement, once for a process and the processes it starts."""
    configuration = current()
    if configuration is None or os.environ.get(WARNED_VARIABLE):
        return
    os.environ[WARNED_VARIABLE] = "1"
    ignored = configuration.not_honoured()
    if ignored:
        logger.warning(
            "The Orthanc configuration %s sets options Pharos does not implement, ignored: %s",
            configuration.path,
            ", ".join(ignored),
        )
