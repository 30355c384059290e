"""Checks on identifiers that arrive in URLs."""

import uuid


def is_uuid(text):
    try:
        uuid.UUID(str(text))
        return True
    except ValueError:
        return False
