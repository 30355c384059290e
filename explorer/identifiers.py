"""Checks on identifiers that arrive in URLs, query arguments and JSON bodies."""

import uuid

from explorer.errors import BadRequest

# The longest identifier worth looking up: the index's UID columns hold 128 characters (a
# DICOM UID has 64 at most, a public id 44, a job's id 36). A longer one is the client's
# mistake, answered 400 rather than searched for.
MAX_IDENTIFIER_LENGTH = 128
NUL = "\x00"


def is_uuid(text):
    try:
        uuid.UUID(str(text))
        return True
    except ValueError:
        return False


def check_identifier(text, what="identifier"):
    """Raise BadRequest for an identifier no resource can have: too long, or with a NUL byte
    (which PostgreSQL's text refuses)."""
    if NUL in text:
        raise BadRequest(f"The {what} holds a NUL byte")
    if len(text) > MAX_IDENTIFIER_LENGTH:
        raise BadRequest(f"The {what} is longer than {MAX_IDENTIFIER_LENGTH} characters")


def holds_nul(value):
    """Whether a parsed JSON document holds a NUL character in any key or string."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(holds_nul(item) for item in value)
    return False
