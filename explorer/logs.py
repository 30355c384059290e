"""The log level every server process follows, as Orthanc's /tools/log-level sets it.

Orthanc has three verbosities. Here they are levels of Python's loggers:

- ``default``: the configured level (PHAROS_LOG_LEVEL) and pynetdicom's warnings;
- ``verbose``: Pharos's own debug lines, and pynetdicom's information lines (associations
  requested, accepted, released);
- ``trace``: everything every library logs at debug level, pynetdicom's included.

A level changed through REST is stored as a runtime setting (explorer/runtime_settings.py).
The web workers and the DICOM server's processes call `follow()` as they start: a thread
then applies what is stored within REFRESH_SECONDS. A job applies it as it starts and as it
reports progress (dicomnet/jobs.py), with no thread of its own. Levels, not filters, do the
work: a debug line that is off costs one comparison, as before, where a filter would build
every record first. LOGGING in explorer/settings.py is the "default" verbosity.
"""

import logging
import os
import threading
import time

from django.conf import settings
from django.db import close_old_connections

VERBOSITIES = ("default", "verbose", "trace")
OWN_LOGGERS = ("explorer", "dicomnet")
REFRESH_SECONDS = 1.0

_applied = {"verbosity": "default"}  # as LOGGING sets the loggers up
_follower = {"pid": None}


def verbosity(stored):
    """Orthanc's name for a stored value; the configured level reads as "default"."""
    return stored if stored in VERBOSITIES else "default"


def levels_for(name):
    """{logger name: level} for one of Orthanc's verbosities ("" is the root logger)."""
    configured = logging.getLevelName(str(settings.PHAROS_LOG_LEVEL).upper())
    if not isinstance(configured, int):
        configured = logging.INFO
    if name == "trace":
        return {"": logging.DEBUG, "pynetdicom": logging.DEBUG, **dict.fromkeys(OWN_LOGGERS, logging.NOTSET)}
    if name == "verbose":
        return {
            "": min(configured, logging.INFO),
            "pynetdicom": logging.INFO,
            **dict.fromkeys(OWN_LOGGERS, logging.DEBUG),
        }
    return {"": configured, "pynetdicom": logging.WARNING, **dict.fromkeys(OWN_LOGGERS, logging.NOTSET)}


def apply(name):
    """Set this process's loggers to one of Orthanc's verbosities."""
    name = verbosity(name)
    if _applied["verbosity"] == name:
        return
    for logger_name, level in levels_for(name).items():
        logging.getLogger(logger_name).setLevel(level)
    _applied["verbosity"] = name
    logging.getLogger("explorer").warning("Log level: %s", name)


def apply_stored():
    from explorer import runtime_settings

    apply(runtime_settings.current("LogLevel"))


def _follow_forever():
    while True:
        try:
            close_old_connections()  # this thread's connection, when broken or too old
            apply_stored()
        except Exception:  # the database away for a moment: the level stays as it is
            pass
        time.sleep(REFRESH_SECONDS)


def follow():
    """Apply the stored level now, then keep following it in a thread of this process.

    Called by each server process as it starts; a second call, or one in a process forked
    from a follower (where the thread did not survive the fork), starts what is missing."""
    if _follower["pid"] == os.getpid():
        return
    _follower["pid"] = os.getpid()
    try:
        apply_stored()
    except Exception:  # no database yet: the thread retries
        pass
    threading.Thread(target=_follow_forever, name="pharos-log-level", daemon=True).start()
