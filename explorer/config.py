"""Reading the environment: every setting has a name, a default and a rule.

A variable the environment leaves unset may come from an Orthanc configuration file
(`PHAROS_ORTHANC_CONFIG`, explorer/orthanc_config.py): the environment overrides the file.
A bad value stops the server at start with a message naming the variable (or the file's
option) and saying what is allowed, instead of failing later in a handler.
"""

import os
import re
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

from explorer import orthanc_config

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def _from_environment(name):
    value = os.environ.get(name)
    return value is not None and value.strip() != ""


def _raw(name, default):
    value = os.environ[name] if _from_environment(name) else orthanc_config.setting(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _fail(name, value, allowed):
    from_file = None if _from_environment(name) else orthanc_config.describe(name)
    if from_file:
        raise ImproperlyConfigured(f"The Orthanc option {from_file} ({name}) is not valid: {allowed}")
    raise ImproperlyConfigured(f"{name}={value!r} is not valid: {allowed}")


def env_str(name, default):
    return _raw(name, default)


def env_bool(name, default):
    value = _raw(name, None)
    if value is None:
        return default
    if value.lower() in TRUE_WORDS:
        return True
    if value.lower() in FALSE_WORDS:
        return False
    _fail(name, value, "use true or false (also 1/0, yes/no, on/off)")


def env_int(name, default, minimum=None, maximum=None):
    value = _raw(name, None)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    low_ok = minimum is None or (number is not None and number >= minimum)
    high_ok = maximum is None or (number is not None and number <= maximum)
    if number is None or not low_ok or not high_ok:
        bounds = f" from {minimum}" if minimum is not None else ""
        bounds += f" to {maximum}" if maximum is not None else ""
        _fail(name, value, f"use a whole number{bounds}")
    return number


def env_port(name, default):
    return env_int(name, default, minimum=1, maximum=65535)


AET_PATTERN = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")


def env_aet(name, default):
    value = _raw(name, default)
    if not AET_PATTERN.match(value) or not value.strip():
        _fail(name, value, "an AE title is 1 to 16 printable ASCII characters, without backslash")
    return value


def env_transfer_syntax(name, default=""):
    """A transfer syntax UID, or "" when unset (Orthanc: "Unknown transfer syntax for ingest
    transcoding" stops it at start)."""
    from pydicom.uid import UID  # the settings of a process that never reads DICOM stay light

    value = _raw(name, default)
    if value and not UID(value).is_transfer_syntax:
        _fail(name, value, "use the UID of a DICOM transfer syntax, e.g. 1.2.840.10008.1.2.4.80 (JPEG-LS lossless)")
    return value


def env_url(name, schemes, default=None):
    value = _raw(name, default)
    if value is None:
        return None
    scheme = urlparse(value).scheme
    if scheme not in schemes:
        _fail(name, value, "the URL must start with " + " or ".join(f"{s}://" for s in schemes))
    return value


def env_dir(name, default):
    return os.path.abspath(os.path.expanduser(_raw(name, default)))
