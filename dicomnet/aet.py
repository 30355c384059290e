"""What DICOM allows in an AE title, and what every PACS administrator had better stick to."""

import re

from django.core.exceptions import ValidationError

SAFE = re.compile(r"^[A-Z0-9_-]{1,16}$")


def check_allowed(aet):
    """Raise ValidationError for an AE title that DICOM forbids (PS3.5 AE: 16 chars, no backslash or control)."""
    if aet is None or not aet.strip():
        raise ValidationError("An AE title cannot be empty.")
    if len(aet) > 16:
        raise ValidationError(f"An AE title has at most 16 characters; {aet!r} has {len(aet)}.")
    if "\\" in aet or any(ord(c) < 0x20 or ord(c) == 0x7F for c in aet):
        raise ValidationError(f"An AE title cannot hold a backslash or a control character: {aet!r}.")
    if any(ord(c) > 0x7E for c in aet):
        raise ValidationError(f"An AE title is plain ASCII: {aet!r}.")


def is_safe(aet):
    """Letters A-Z, digits, '-' and '_' only: what every device accepts."""
    return bool(SAFE.match(aet or ""))


def same_aet(a, b):
    # DICOM pads AE titles with spaces; Orthanc compares them case-insensitively by default.
    return (a or "").strip().upper() == (b or "").strip().upper()
