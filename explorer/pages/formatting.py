"""Values as a person reads them: DICOM dates, times, names, sizes and UIDs, moments in the
server's time zone, counts of resources ("3 studies")."""

from datetime import datetime

from django.utils import timezone
from pydicom.datadict import dictionary_description, dictionary_VR, tag_for_keyword
from pydicom.uid import UID

from explorer import levels

SEX = {"M": "Male", "F": "Female", "O": "Other"}


# What a date that is not a DICOM date (DA, YYYYMMDD) says when it is shown as written.
NOT_DICOM_DATE = "Not a DICOM date (YYYYMMDD): shown as written"


def dicom_day(text):
    """The day of a DICOM DA "20040119" (surrounding spaces allowed), else None."""
    text = text.strip() if isinstance(text, str) else ""
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return None


def format_date(text):
    """DICOM DA "20040119" → "19 Jan 2004"; anything else ("2004", "19.01.2004", "2004011") is
    shown as it is, never partly read: `date_note` tells a page to mark it."""
    day = dicom_day(text)
    if day is None:
        return text or ""
    return f"{day.day} {day:%b %Y}"


def date_note(text):
    """Why a date is shown as written (NOT_DICOM_DATE), or "" for a DICOM date or none."""
    return NOT_DICOM_DATE if text and text.strip() and dicom_day(text) is None else ""


def format_time(text):
    """DICOM TM "072730.123" → "07:27:30"; old "07:27:30" and short "0727" are understood."""
    digits = (text or "").replace(":", "").split(".")[0]
    if not digits.isdigit() or len(digits) % 2:
        return text or ""
    return ":".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def person_name(text):
    """DICOM PN "DOE^JOHN^^DR" → "DOE, JOHN DR"; each representation (=) formatted alike."""
    if not text:
        return ""

    def one(group):
        family, *others = group.split("^")
        given = " ".join(part for part in others if part)
        return f"{family}, {given}" if family and given else family or given

    return " = ".join(one(group) for group in text.split("=") if group)


def readable_label(keyword):
    """The dictionary's description without possessives: "Patient's Name" → "Patient Name"."""
    tag = tag_for_keyword(keyword)
    description = dictionary_description(tag) if tag is not None else keyword
    return description.replace("'s ", " ").replace("s' ", "s ")


def format_value(keyword, text):
    """A main tag's value as a person reads it: dates, times, names and sexes spelled out."""
    tag = tag_for_keyword(keyword)
    vr = dictionary_VR(tag) if tag is not None else ""
    if vr == "DA":
        return format_date(text)
    if vr == "TM":
        return format_time(text)
    if vr == "PN":
        return person_name(text)
    if keyword == "PatientSex":
        return SEX.get(text, text)
    # Multiple values are joined by a backslash; spaces let long lists wrap.
    return text.replace("\\", " \\ ")


def file_size(size):
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def uid_name(uid):
    """The name of a well-known UID ("CT Image Storage"), or the UID itself."""
    return UID(uid).name if uid else ""


def format_moment(moment):
    """A timestamp in the server's time zone: "19 Jan 2024 07:27:30"; "" for none."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    return f"{local.day} {local:%b %Y %H:%M:%S}"


def counted(count, level_name):
    """ "1 study", "3 studies", "2 series"."""
    level = levels.level_named(level_name or "")
    if level is None:
        return f"{count} item{'s' if count != 1 else ''}"
    noun = level.name.lower() if count == 1 else level.plural
    return f"{count} {noun}"
