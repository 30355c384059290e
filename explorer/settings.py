"""The only settings module: everything a deployment changes comes from the environment.

The README lists every variable with its default; `explorer/config.py` checks
each value and fails at start with a message naming the variable. An Orthanc configuration
file (`PHAROS_ORTHANC_CONFIG`) fills the variables the environment leaves unset.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from explorer import orthanc_config
from explorer.config import (
    env_aet,
    env_bool,
    env_dir,
    env_int,
    env_port,
    env_str,
    env_transfer_syntax,
    env_url,
)
from explorer.tls import mode as tls_mode

BASE_DIR = Path(__file__).resolve().parent.parent

# Read and checked first: a bad file stops every process at start, naming the option.
PHAROS_ORTHANC_CONFIG = getattr(orthanc_config.current(), "path", None)

# --- where things live -------------------------------------------------------
DATA_DIR = Path(env_dir("PHAROS_DATA_DIR", str(BASE_DIR / "data")))
STORAGE_DIR = DATA_DIR / "storage"
STORAGE_DIR.mkdir(parents=True, exist_ok=True)
# The OHIF viewer's prebuilt files, one folder per version, fetched once by `manage.py install_viewer`.
VIEWER_DIR = Path(env_dir("PHAROS_VIEWER_DIR", str(DATA_DIR / "viewer")))

# --- the server's identity and ports -------------------------------------------
PHAROS_NAME = env_str("PHAROS_NAME", "Pharos")
PHAROS_HTTP_HOST = env_str("PHAROS_HTTP_HOST", "127.0.0.1")
PHAROS_HTTP_PORT = env_port("PHAROS_HTTP_PORT", 8042)
PHAROS_HTTP_WORKERS = env_int("PHAROS_HTTP_WORKERS", 2, minimum=1, maximum=64)
PHAROS_HTTP_THREADS = env_int("PHAROS_HTTP_THREADS", 8, minimum=1, maximum=256)
PHAROS_AET = env_aet("PHAROS_AET", "PHAROS")
PHAROS_DICOM_PORT = env_port("PHAROS_DICOM_PORT", 4242)
PHAROS_ADMIN_USER = env_str("PHAROS_ADMIN_USER", "admin")
PHAROS_ADMIN_PASSWORD = env_str("PHAROS_ADMIN_PASSWORD", None)

# --- behaviour of the index ------------------------------------------------------
# Orthanc's OverwriteInstances: false keeps the first copy of a SOPInstanceUID.
PHAROS_OVERWRITE_INSTANCES = env_bool("PHAROS_OVERWRITE_INSTANCES", False)
# Orthanc's IngestTranscoding: the transfer syntax every arriving instance is stored in (none:
# as received), and IngestTranscodingOfUncompressed / IngestTranscodingOfCompressed.
PHAROS_INGEST_TRANSCODING = env_transfer_syntax("PHAROS_INGEST_TRANSCODING")
PHAROS_INGEST_TRANSCODING_OF_UNCOMPRESSED = env_bool("PHAROS_INGEST_TRANSCODING_OF_UNCOMPRESSED", True)
PHAROS_INGEST_TRANSCODING_OF_COMPRESSED = env_bool("PHAROS_INGEST_TRANSCODING_OF_COMPRESSED", True)
# Orthanc's StableAge: seconds without a new instance before a resource is stable.
PHAROS_STABLE_AGE = env_int("PHAROS_STABLE_AGE", 60, minimum=1)

# --- the DICOM server (Orthanc's option names in comments) --------------------------------
# DicomCheckCalledAet: refuse associations whose called AE title is not ours.
PHAROS_DICOM_CHECK_CALLED_AET = env_bool("PHAROS_DICOM_CHECK_CALLED_AET", False)
# DicomAlwaysAllowEcho / DicomAlwaysAllowStore: unknown AEs may C-ECHO / C-STORE.
PHAROS_DICOM_ALWAYS_ALLOW_ECHO = env_bool("PHAROS_DICOM_ALWAYS_ALLOW_ECHO", True)
PHAROS_DICOM_ALWAYS_ALLOW_STORE = env_bool("PHAROS_DICOM_ALWAYS_ALLOW_STORE", True)
# DicomAlwaysAllowFind / Move / Get: unknown AEs may query and retrieve.
PHAROS_DICOM_ALWAYS_ALLOW_FIND = env_bool("PHAROS_DICOM_ALWAYS_ALLOW_FIND", False)
PHAROS_DICOM_ALWAYS_ALLOW_MOVE = env_bool("PHAROS_DICOM_ALWAYS_ALLOW_MOVE", False)
PHAROS_DICOM_ALWAYS_ALLOW_GET = env_bool("PHAROS_DICOM_ALWAYS_ALLOW_GET", False)
# DicomCheckModalityHost: a modality is recognised by its AE title and its address.
PHAROS_DICOM_CHECK_MODALITY_HOST = env_bool("PHAROS_DICOM_CHECK_MODALITY_HOST", False)
# CaseSensitivePN: C-FIND matching of person names.
PHAROS_DICOM_CASE_SENSITIVE_PN = env_bool("PHAROS_DICOM_CASE_SENSITIVE_PN", False)
# LimitFindResults: the most answers one C-FIND gives (0: no limit).
PHAROS_DICOM_LIMIT_FIND_RESULTS = env_int("PHAROS_DICOM_LIMIT_FIND_RESULTS", 0, minimum=0)
# LimitFindInstances: the most answers one C-FIND at instance level gives (0: no limit).
PHAROS_DICOM_LIMIT_FIND_INSTANCES = env_int("PHAROS_DICOM_LIMIT_FIND_INSTANCES", 0, minimum=0)
# UnknownSopClassAccepted: accept any abstract syntax proposed for storage (read at run time
# through explorer/runtime_settings.py, which /tools/unknown-sop-class-accepted changes).
PHAROS_DICOM_UNKNOWN_SOP_CLASS_ACCEPTED = env_bool("PHAROS_DICOM_UNKNOWN_SOP_CLASS_ACCEPTED", False)
# DicomAssociationCloseDelay: seconds an SCU association stays open for the next request.
PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = env_int("PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY", 5, minimum=0)
# SynchronousCMove: an incoming C-MOVE runs inside the association (false: as a job in /jobs).
PHAROS_DICOM_SYNCHRONOUS_CMOVE = env_bool("PHAROS_DICOM_SYNCHRONOUS_CMOVE", True)
# AcceptedTransferSyntaxes: UIDs, comma-separated; a trailing * matches a prefix.
PHAROS_DICOM_ACCEPTED_TRANSFER_SYNTAXES = [
    uid.strip()
    for uid in env_str("PHAROS_DICOM_ACCEPTED_TRANSFER_SYNTAXES", "1.2.840.10008.1.*").split(",")
    if uid.strip()
]
# TranscodeDicomProtocol: sends may transcode for a peer that does not take the stored syntax
# (and a modality's AllowTranscoding too); DicomScuPreferredTransferSyntax: the syntax tried
# first then (unset: explorer/transcoding.py's best_syntax chooses).
PHAROS_DICOM_TRANSCODE = env_bool("PHAROS_DICOM_TRANSCODE", True)
PHAROS_DICOM_SCU_PREFERRED_TRANSFER_SYNTAX = env_transfer_syntax("PHAROS_DICOM_SCU_PREFERRED_TRANSFER_SYNTAX")
PHAROS_DICOM_MAX_PDU = env_int("PHAROS_DICOM_MAX_PDU", 4 * 1024 * 1024, minimum=0)
# DICOM server processes accepting on the port's one socket, each with its own threads.
PHAROS_DICOM_PROCESSES = env_int("PHAROS_DICOM_PROCESSES", 2, minimum=1, maximum=64)
# Associations held at once, over all the processes (dicomnet/limits.py): in all, and by
# one calling AE title; past either, A-ASSOCIATE-RJ "local limit exceeded".
PHAROS_DICOM_MAX_ASSOCIATIONS = env_int("PHAROS_DICOM_MAX_ASSOCIATIONS", 50, minimum=1, maximum=1 << 31)
PHAROS_DICOM_MAX_ASSOCIATIONS_PER_AE = env_int("PHAROS_DICOM_MAX_ASSOCIATIONS_PER_AE", 10, minimum=1, maximum=65535)
# Seconds a connection may stay without sending its A-ASSOCIATE-RQ (the ARTIM timer; Orthanc
# has no option of its own for it).
PHAROS_DICOM_ASSOCIATION_TIMEOUT = env_int("PHAROS_DICOM_ASSOCIATION_TIMEOUT", 5, minimum=1)
# DicomScpTimeout / DicomScuTimeout, in seconds.
PHAROS_DICOM_SCP_TIMEOUT = env_int("PHAROS_DICOM_SCP_TIMEOUT", 30, minimum=1)
PHAROS_DICOM_SCU_TIMEOUT = env_int("PHAROS_DICOM_SCU_TIMEOUT", 10, minimum=1)

# --- DICOM TLS (Orthanc's DicomTls* options; dicomnet/tls.py) ----------------------------------
# DicomTlsEnabled: the DICOM port speaks TLS only. DicomTlsCertificate and DicomTlsPrivateKey (PEM
# files) are ours, for the associations we accept and those we open to modalities with
# UseDicomTls; DicomTlsTrustedCertificates (PEM, concatenated) verify the peers' certificates,
# which DicomTlsRemoteCertificateRequired makes peers show. A file named must exist.
PHAROS_DICOM_TLS = env_bool("PHAROS_DICOM_TLS", False)
PHAROS_DICOM_TLS_REMOTE_CERTIFICATE_REQUIRED = env_bool("PHAROS_DICOM_TLS_REMOTE_CERTIFICATE_REQUIRED", True)


def _dicom_tls_file(name, needed_because=None):
    from_environment = os.environ.get(name, "").strip() != ""
    value = env_str(name, None)
    option = orthanc_config.OPTION_OF[name]
    if value is None:
        if needed_because:
            raise ImproperlyConfigured(f"{needed_because}: set {name} (Orthanc's {option})")
        return None
    path = os.path.abspath(os.path.expanduser(value))
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        named = name if from_environment else f"The Orthanc option {orthanc_config.describe(name)} ({name})"
        raise ImproperlyConfigured(f"{named}: no readable file {path}")
    if from_environment:
        os.environ[name] = path  # the servers `manage.py start` spawns run in the project folder
    return path


_tls_on = "PHAROS_DICOM_TLS is on" if PHAROS_DICOM_TLS else None
PHAROS_DICOM_TLS_CERTIFICATE = _dicom_tls_file("PHAROS_DICOM_TLS_CERTIFICATE", _tls_on)
PHAROS_DICOM_TLS_PRIVATE_KEY = _dicom_tls_file("PHAROS_DICOM_TLS_PRIVATE_KEY", _tls_on)
PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES = _dicom_tls_file(
    "PHAROS_DICOM_TLS_TRUSTED_CERTIFICATES",
    _tls_on and PHAROS_DICOM_TLS_REMOTE_CERTIFICATE_REQUIRED and f"{_tls_on} and requires remote certificates",
)

# --- HTTPS to other servers (DICOMweb servers, peers; Orthanc's HttpsVerifyPeers and
# HttpsCACertificates): their certificates are checked against this PEM file of authorities,
# or the system's when unset.
PHAROS_HTTPS_VERIFY_PEERS = env_bool("PHAROS_HTTPS_VERIFY_PEERS", True)
PHAROS_HTTPS_CA_CERTIFICATES = env_str("PHAROS_HTTPS_CA_CERTIFICATES", "")

# The speed-ups that reach into pynetdicom's, pydicom's and gunicorn's internals
# (explorer/fast_paths.py); off runs the libraries as they come, to debug a peer.
PHAROS_FAST_PATHS = env_bool("PHAROS_FAST_PATHS", True)

# DefaultEncoding: the character set of files without SpecificCharacterSet and of C-FIND
# answers (Orthanc's names: Latin1, Utf8, …; read at run time through explorer/runtime_settings.py).
PHAROS_DEFAULT_ENCODING = env_str("PHAROS_DEFAULT_ENCODING", "Latin1")
# JobsHistorySize: how many finished jobs /jobs keeps.
PHAROS_JOBS_HISTORY_SIZE = env_int("PHAROS_JOBS_HISTORY_SIZE", 10, minimum=0)
# LogExportedResources: sends are recorded in /exports.
PHAROS_LOG_EXPORTED_RESOURCES = env_bool("PHAROS_LOG_EXPORTED_RESOURCES", False)

# --- audit trail (explorer/audit.py) ---------------------------------------------------
# Days an audit event is kept; older ones are pruned every hour (explorer/cron.py). 0 keeps them all.
PHAROS_AUDIT_RETENTION_DAYS = env_int("PHAROS_AUDIT_RETENTION_DAYS", 365, minimum=0)

# --- services ------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", ("sqlite", "postgres", "postgresql"))
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))
# Without REDIS_URL, `manage.py start` runs a Redis of its own on a socket in the data folder.
PHAROS_EMBEDDED_REDIS = REDIS_URL is None
if PHAROS_EMBEDDED_REDIS:
    REDIS_URL = f"unix://{DATA_DIR / 'redis.sock'}"
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 24 * 3600}}
# A running job tells it is alive this often; one silent for longer is taken for dead.
PHAROS_JOB_HEARTBEAT_SECONDS = env_int("PHAROS_JOB_HEARTBEAT_SECONDS", 5, minimum=1)
PHAROS_JOB_DEAD_AFTER_SECONDS = env_int("PHAROS_JOB_DEAD_AFTER_SECONDS", 60, minimum=2)
# Orthanc's QueryRetrieveSize: how many remote queries (with their answers) are kept.
PHAROS_QUERIES_KEPT = env_int("PHAROS_QUERIES_KEPT", 100, minimum=1)
# How many times a store job tries to open an association before failing.
PHAROS_DICOM_STORE_RETRIES = env_int("PHAROS_DICOM_STORE_RETRIES", 2, minimum=0)

SQLITE_OPTIONS = {
    # IMMEDIATE takes the write lock when a transaction starts, so
    # concurrent ingests queue up instead of failing on lock upgrade.
    "transaction_mode": "IMMEDIATE",
    "timeout": 60,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
if DATABASE_URL:
    # A kept connection is checked before its first use in each request or DICOM handler
    # (close_old_connections): after a database restart the first one succeeds (the REST
    # side: explorer/failures.py).
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The same backend, its health check without a round trip (explorer/postgresql/base.py).
        DATABASES["default"]["ENGINE"] = "explorer.postgresql"
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        # A SQLite file named by URL (a worker sharing another process's file) locks as the default one.
        DATABASES["default"]["OPTIONS"] = dict(SQLITE_OPTIONS)
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "pharos.sqlite3"),
            "OPTIONS": dict(SQLITE_OPTIONS),
            # A file, not Django's shared in-memory database, whose table locks ignore the
            # busy timeout: tests run servers with many threads writing at once.
            "TEST": {"NAME": str(DATA_DIR / "test-pharos.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _secret_key():
    configured = env_str("PHAROS_SECRET_KEY", None)
    if configured:
        return configured
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("PHAROS_DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in env_str("PHAROS_ALLOWED_HOSTS", "*").split(",") if h.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "axes",
    "explorer",
    "dicomnet",
]

MIDDLEWARE = [
    # First: 503 for a database or Redis outage, 400 for a NUL byte, JSON on the REST API.
    "explorer.failures.ServerFailureMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Bodies beyond PHAROS_MAX_UPLOAD_SIZE refused before they are read; a request's files left
    # in the incoming folder removed when it ends.
    "explorer.bodies.BodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "explorer.audit.RequestMiddleware",  # the request whose events explorer/audit.py records
    "explorer.auth.RequireLoginMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "explorer.urls"
WSGI_APPLICATION = "explorer.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = []
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Rendered previews and thumbnails, shared by the web server's processes.
    "previews": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache" / "previews"),
        "TIMEOUT": 7 * 24 * 3600,
        "OPTIONS": {"MAX_ENTRIES": 20000},
    },
}

# --- failed logins (django-axes): the login form, the admin's and HTTP Basic ----------------
# After this many failed logins of one user from one address, that user is refused from that
# address (429) for the cool-off, even with the right password; a successful login by a form
# before that resets the count.
PHAROS_LOGIN_FAILURE_LIMIT = env_int("PHAROS_LOGIN_FAILURE_LIMIT", 10, minimum=1)
PHAROS_LOGIN_COOLOFF_MINUTES = env_int("PHAROS_LOGIN_COOLOFF_MINUTES", 15, minimum=1)
# From this many failed logins on, each next try of that user from that address waits, one
# second doubling with each failure (explorer/login_throttle.py); 0: no wait before the limit.
PHAROS_LOGIN_SLOW_AFTER = env_int("PHAROS_LOGIN_SLOW_AFTER", 3, minimum=0)
# ModelBackend, reading the rights in one query (explorer/rights_backend.py).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "explorer.rights_backend.RightsBackend"]
AXES_FAILURE_LIMIT = PHAROS_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=PHAROS_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A locked-out client that keeps trying stays locked out for the cool-off after its last try.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The log lines name the user and the address (never the password).
AXES_SENSITIVE_PARAMETERS = []
# Axes counts failures only; successful logins are not kept in its tables.
AXES_DISABLE_ACCESS_LOG = True

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
SESSION_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("PHAROS_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Served by the app itself from the source folders: no collectstatic step.
WHITENOISE_USE_FINDERS = True

# Uploads may be large DICOM files or ZIP archives: the largest body accepted, in bytes
# (beyond it the answer is 413 before the body is read). Bodies are read as streams into the
# storage area's incoming folder (explorer/bodies.py, explorer/incoming.py), never whole.
PHAROS_MAX_UPLOAD_SIZE = env_int("PHAROS_MAX_UPLOAD_SIZE", 4 * 1024**3, minimum=1)
# A ZIP archive (uploaded or imported) expanding beyond this many bytes, or holding more
# entries than this, is refused with 413 before anything of it is expanded (a ZIP bomb).
PHAROS_MAX_ZIP_EXPANSION = env_int("PHAROS_MAX_ZIP_EXPANSION", 16 * 1024**3, minimum=1)
PHAROS_MAX_ZIP_MEMBERS = env_int("PHAROS_MAX_ZIP_MEMBERS", 100_000, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = None
# The files of a form Django parses (a browser's, read by the CSRF check) go to the incoming
# folder too; under ASGI, Django holds this much of a body in memory before spilling it to disk.
FILE_UPLOAD_HANDLERS = ["explorer.bodies.IncomingUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024
# Where the web server spools a request body beyond 1 MiB while it arrives (explorer/asgi.py):
# the storage area's incoming folder, on the disk that keeps the files, swept of leftovers.
FILE_UPLOAD_TEMP_DIR = str(STORAGE_DIR / "incoming")
(STORAGE_DIR / "incoming").mkdir(exist_ok=True)

# The level of "default" in /tools/log-level, which changes it at run time in every server
# process: "verbose" and "trace" lower it (explorer/logs.py).
PHAROS_LOG_LEVEL = env_str("PHAROS_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": PHAROS_LOG_LEVEL},
    "loggers": {"pynetdicom": {"level": "WARNING"}},
}

# --- the web server's front: connections, HTTPS (explorer/web_worker.py, explorer/tls.py) ---------
# Seconds a connection may stay without a complete request head, new or kept alive between
# requests (a slow or idle client is then closed); also how long a request body may stall.
PHAROS_HTTP_IDLE_TIMEOUT = env_int("PHAROS_HTTP_IDLE_TIMEOUT", 30, minimum=1)
# Connections one web server process holds at most; more wait in the kernel for another process.
PHAROS_HTTP_MAX_CONNECTIONS = env_int("PHAROS_HTTP_MAX_CONNECTIONS", 1000, minimum=1)
# HTTPS served by the web server itself: PHAROS_TLS_CERT and PHAROS_TLS_KEY (PEM files; one file
# holding both, as Orthanc's SslCertificate, needs no key), or PHAROS_TLS=self-signed for one
# made in the data folder at first start. Behind a TLS proxy instead, PHAROS_BEHIND_PROXY=true
# trusts its X-Forwarded-Proto header.
PHAROS_TLS_CERT = env_str("PHAROS_TLS_CERT", None)
PHAROS_TLS_KEY = env_str("PHAROS_TLS_KEY", None)
PHAROS_TLS = tls_mode(env_str("PHAROS_TLS", ""), PHAROS_TLS_CERT)
PHAROS_BEHIND_PROXY = env_bool("PHAROS_BEHIND_PROXY", False)
if PHAROS_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if PHAROS_TLS != "off" or PHAROS_BEHIND_PROXY:
    # Cookies never go out over plain HTTP; browsers remember to come back over HTTPS only.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = env_int("PHAROS_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
    # Subdomains and browsers' preload lists are the whole domain's decision, not this server's.
    SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
