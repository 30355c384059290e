"""The explorer's filter forms: what a person types, turned into a DICOM query.

Each form's `dicom_query()` gives {keyword: matching string} in the language of
explorer.query (wildcards, ranges), so the pages match exactly as REST /tools/find does.
Names and descriptions are searched as "contains", because a person looking for "smith"
means "SMITH^JOHN" too; a `*` or `?` typed in them is a wildcard inside that contained text
("m*ller" finds "MÜLLER^JÜRGEN" as "ller" does). A person name is also tried in the other
order of its components (Given Family as well as DICOM's Family^Given), as a DICOM list of
patterns that the query matches like any other. Identifiers stay exact unless the person
writes a wildcard, because a part of an ID usually matches too much. Case is ignored as REST
/tools/find ignores it (non-ASCII letters included); accents are not.
"""

import re
from datetime import date, timedelta

from django import forms
from django.utils import timezone

from explorer import levels

# Spaces, commas and carets separate the parts of a typed person name; a backslash too, as
# it would otherwise start a DICOM list of its own.
NAME_SEPARATORS = re.compile(r"[\s,^\\]+")
REPEATED_STARS = re.compile(r"\*+")
NAME_HINT = (
    "DICOM writes names Family^Given (DOE^JOHN). Type the words in either order,"
    " “doe john” or “john doe”; * stands for any letters (m*ller)."
)

ANY_DATE, DATE_RANGE = "", "range"
DATE_PRESETS = (
    (ANY_DATE, "Any date"),
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("last7", "Last 7 days"),
    ("last31", "Last 31 days"),
    ("last3months", "Last 3 months"),
    ("lastyear", "Last year"),
    (DATE_RANGE, "Between…"),
)
# Suggestions for the modality box; any other value can be typed.
COMMON_MODALITIES = ("CR", "CT", "DX", "MG", "MR", "NM", "OT", "PT", "RF", "RTPLAN", "RTSTRUCT", "SC", "SR", "US", "XA")


def dicom_date(day):
    return day.strftime("%Y%m%d")


def months_before(day, months):
    """The same day `months` earlier, or the month's last day when it has fewer days."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)


def preset_range(preset, today):
    """(first day, last day) of a preset, both included; None for any date."""
    starts = {
        "today": today,
        "yesterday": today - timedelta(days=1),
        "last7": today - timedelta(days=6),
        "last31": today - timedelta(days=30),
        "last3months": months_before(today, 3),
        "lastyear": months_before(today, 12),
    }
    if preset not in starts:
        return None
    end = today - timedelta(days=1) if preset == "yesterday" else today
    return starts[preset], end


def date_matching(first, last):
    """A DICOM date range ("20240101-20240131", open ends allowed), or "" for any date."""
    if first is None and last is None:
        return ""
    if first == last:
        return dicom_date(first)
    return f"{dicom_date(first) if first else ''}-{dicom_date(last) if last else ''}"


def contains(text):
    """`*text*`, a wildcard typed inside kept as one ("ch*st" → "*ch*st*"); "" stays "" (no
    constraint). A backslash is taken out: it would start a DICOM list."""
    text = text.replace("\\", " ").strip()
    return REPEATED_STARS.sub("*", f"*{text}*") if text.strip("*") else ""


def in_order(words):
    """A pattern finding the words, each a part of the text, in this order."""
    return REPEATED_STARS.sub("*", "*" + "*".join(words) + "*")


def name_contains(text):
    """A typed person name as a DICOM list of patterns: the words in the order typed ("doe john"
    finds DOE^JOHN), or the last word as the family name component before the others, for a
    name typed Given Family ("john doe" finds DOE^JOHN, "maria anna smith" SMITH^MARIA ANNA)."""
    words = [word for word in NAME_SEPARATORS.split(text.strip()) if word.strip("*")]
    if not words:
        return ""
    patterns = [in_order(words)]
    if len(words) > 1:
        patterns.append(in_order([f"{words[-1]}*^", *words[:-1]]))
    return "\\".join(dict.fromkeys(patterns))


def text_field(label, placeholder="", max_length=128, help_text=""):
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        help_text=help_text,
        widget=forms.TextInput(attrs={"placeholder": placeholder, "autocomplete": "off"}),
    )


def date_field(label):
    return forms.DateField(label=label, required=False, widget=forms.DateInput(attrs={"type": "date"}))


def checked_date_range(cleaned):
    """A form's cleaned data, refused when its date_from comes after its date_to."""
    first, last = cleaned.get("date_from"), cleaned.get("date_to")
    if first and last and first > last:
        raise forms.ValidationError("The first day of the range comes after the last one.")
    return cleaned


class LabelsAboveForm(forms.Form):
    """Labels without Django's trailing colon: they sit above their boxes."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class StudyFilterForm(LabelsAboveForm):
    """The lookup form and the filters of the study list."""

    level = levels.STUDY

    patient_name = text_field("Patient name", "e.g. doe john", help_text=NAME_HINT)
    patient_id = text_field("Patient ID", "exact, or with * wildcards")
    accession_number = text_field("Accession number", "exact, or with * wildcards")
    study_description = text_field("Study description", "e.g. chest")
    study_date = forms.ChoiceField(label="Study date", choices=DATE_PRESETS, required=False)
    date_from = date_field("From")
    date_to = date_field("To")
    modality = text_field("Modality", "e.g. CT")

    def __init__(self, *args, today=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()
        self.fields["modality"].widget.attrs["list"] = "modalities"

    def clean(self):
        return checked_date_range(super().clean())

    def date_bounds(self):
        """(first, last) day, either None when open. Days typed without choosing "Between…"
        still count: without JavaScript the day boxes are always visible."""
        preset = self.cleaned_data.get("study_date") or ANY_DATE
        first, last = self.cleaned_data.get("date_from"), self.cleaned_data.get("date_to")
        if preset == DATE_RANGE or (preset == ANY_DATE and (first or last)):
            return first, last
        return preset_range(preset, self.today) or (None, None)

    def dicom_query(self):
        """The study-level query; call after is_valid()."""
        data = self.cleaned_data
        query = {
            "PatientName": name_contains(data.get("patient_name", "")),
            "PatientID": data.get("patient_id", "").strip(),
            "AccessionNumber": data.get("accession_number", "").strip(),
            "StudyDescription": contains(data.get("study_description", "")),
            "StudyDate": date_matching(*self.date_bounds()),
            "ModalitiesInStudy": data.get("modality", "").strip().upper(),
        }
        return {keyword: value for keyword, value in query.items() if value}


class PatientFilterForm(LabelsAboveForm):
    """The filters of the patient list."""

    level = levels.PATIENT

    patient_name = text_field("Patient name", "e.g. doe john", help_text=NAME_HINT)
    patient_id = text_field("Patient ID", "exact, or with * wildcards")
    birth_date = date_field("Birth date")

    def dicom_query(self):
        data = self.cleaned_data
        birth_date = data.get("birth_date")
        query = {
            "PatientName": name_contains(data.get("patient_name", "")),
            "PatientID": data.get("patient_id", "").strip(),
            "PatientBirthDate": dicom_date(birth_date) if birth_date else "",
        }
        return {keyword: value for keyword, value in query.items() if value}


class JumpForm(LabelsAboveForm):
    """The lookup box: any identifier, or a public id."""

    q = forms.CharField(
        label="Identifier",
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "e.g. ACC-42 or 1.2.840.…", "autocomplete": "off"}),
    )
