"""Settings that change at run time, as Orthanc's /tools/default-encoding and its siblings.

The configured value (environment or Orthanc configuration file) is the default; a value
put through REST is stored in the database, so every process sees it: web workers, DICOM
server processes and job workers. Each process keeps what it read for at most
`REFRESH_SECONDS`, so a change holds everywhere within that time without a query on every
association or request; the process that took the change sees it at once.
"""

import json
import threading
import time

from django.conf import settings

REFRESH_SECONDS = 1.0

# Orthanc's option name → the Django setting that holds its configured value.
CONFIGURED = {
    "DefaultEncoding": "PHAROS_DEFAULT_ENCODING",
    "AcceptedTransferSyntaxes": "PHAROS_DICOM_ACCEPTED_TRANSFER_SYNTAXES",
    "UnknownSopClassAccepted": "PHAROS_DICOM_UNKNOWN_SOP_CLASS_ACCEPTED",
    "LogLevel": "PHAROS_LOG_LEVEL",
}

_lock = threading.Lock()
_cache = {"values": {}, "read_at": float("-inf")}


def _stored():
    from explorer.models import RuntimeSetting

    return dict(RuntimeSetting.objects.values_list("name", "value"))


def current(name):
    """The value of one runtime setting (an Orthanc option name from CONFIGURED)."""
    if name not in CONFIGURED:
        raise KeyError(name)
    with _lock:
        if time.monotonic() - _cache["read_at"] > REFRESH_SECONDS:
            _cache["values"] = _stored()
            _cache["read_at"] = time.monotonic()
        values = _cache["values"]
    if name in values:
        return values[name]
    return getattr(settings, CONFIGURED[name])


def change(name, value):
    """Store a new value for every process; JSON-serialisable."""
    from explorer import audit
    from explorer.models import RuntimeSetting

    if name not in CONFIGURED:
        raise KeyError(name)
    RuntimeSetting.objects.update_or_create(name=name, defaults={"value": value})
    forget()
    audit.record(audit.SETTING, detail=f"{name} = {json.dumps(value)}")  # by the request being served


def forget():
    """Drop this process's copy: the next read asks the database (tests, and after a change)."""
    with _lock:
        _cache["read_at"] = float("-inf")


def reset():
    """Every setting back to its configured value (at start: Orthanc forgets them on restart)."""
    from explorer.models import RuntimeSetting

    RuntimeSetting.objects.all().delete()
    forget()
