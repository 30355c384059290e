"""The forms of the network pages: send to a destination, query a remote server, retrieve.

`RemoteStudyQueryForm.dicom_query()` gives the study-level C-FIND keys, with the empty
return keys the answer table shows; unlike the local lookup, values go out as typed
(DICOM matching: `*` and `?` are the wildcards, a date range is `from-to`), because the
remote server, not Pharos, does the matching.
"""

from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from dicomnet import destinations
from dicomnet.aet import check_allowed
from explorer.forms import DATE_PRESETS, DATE_RANGE, LabelsAboveForm, StudyFilterForm, date_matching

# The servers a study search asks: a DICOM modality (C-FIND) or a DICOMweb server (QIDO-RS).
SEARCHABLE = (destinations.MODALITY, destinations.DICOMWEB)
# Orthanc Explorer's modality buttons, in its order.
QUERY_MODALITIES = ("CR", "CT", "MR", "NM", "PT", "US", "XA", "DR", "DX", "MG")
# Asked of the remote server with an empty value so that the answers carry them.
STUDY_RETURN_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "StudyDate",
    "StudyTime",
    "StudyDescription",
    "StudyInstanceUID",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
SERIES_RETURN_KEYS = (
    "SeriesInstanceUID",
    "SeriesNumber",
    "SeriesDescription",
    "SeriesDate",
    "Modality",
    "BodyPartExamined",
    "NumberOfSeriesRelatedInstances",
)


class DestinationField(forms.ChoiceField):
    """One configured destination among `kinds`, posted as "kind:name" and cleaned to a
    destinations.Destination. The list opens on an empty choice: nothing is chosen for the user."""

    def __init__(self, kinds=destinations.KINDS, placeholder="Choose…", **kwargs):
        super().__init__(**kwargs)
        self.kinds, self.placeholder = kinds, placeholder
        self.choices = [("", placeholder)]

    def load_choices(self):
        """The configured destinations, read from the database (by the form, once per request)."""
        grouped = destinations.choices(self.kinds)
        self.choices = [("", self.placeholder), *grouped]
        return grouped

    def validate(self, value):
        # The value is checked against the database in clean(), not against the choices
        # read when the form was built: a destination added or removed meanwhile counts.
        if value in self.empty_values and self.required:
            raise ValidationError(self.error_messages["required"], code="required")

    def to_python(self, value):
        return str(value or "").strip()

    def clean(self, value):
        value = self.to_python(value)
        self.validate(value)
        try:
            return destinations.find(value, self.kinds)
        except destinations.UnknownDestination as error:
            raise ValidationError(str(error), code="unknown") from error


class SendForm(LabelsAboveForm):
    destination = DestinationField(
        kinds=destinations.sendable(),
        label="Send to",
        placeholder="Choose a destination…",
        error_messages={"required": "Choose a destination to send to."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grouped = self.fields["destination"].load_choices()


class TargetAetField(forms.CharField):
    """An AE title a C-MOVE sends to: any the remote server knows, ours by default."""

    def __init__(self, **kwargs):
        super().__init__(label="Target AE title", max_length=16, validators=[check_allowed], **kwargs)
        self.widget.attrs.update(autocomplete="off", spellcheck="false", size="16")


class RetrieveForm(LabelsAboveForm):
    target_aet = TargetAetField(
        help_text="The remote server sends the instances to this AE title: ours unless you change it."
    )

    def clean_target_aet(self):
        return self.cleaned_data["target_aet"].strip()


def _text(label, placeholder=""):
    return forms.CharField(
        label=label,
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": placeholder, "autocomplete": "off"}),
    )


# The fields of a search kept in the URL of a DICOMweb search's answers (and back in the form).
SEARCH_TEXT_FIELDS = (
    "patient_name",
    "patient_id",
    "accession_number",
    "study_description",
    "study_date",
    "date_from",
    "date_to",
)


class RemoteStudyQueryForm(LabelsAboveForm):
    """Query/Retrieve step 1: which server (a DICOM modality or a DICOMweb server), and what
    to look for among its studies."""

    server = DestinationField(
        kinds=SEARCHABLE,
        label="Server",
        placeholder="Choose a server…",
        error_messages={"required": "Choose the server to search."},
    )
    patient_name = _text("Patient name", "e.g. DOE* (wildcards * and ?)")
    patient_id = _text("Patient ID", "exact, or with * wildcards")
    accession_number = _text("Accession number", "exact, or with * wildcards")
    study_description = _text("Study description", "e.g. *CHEST*")
    study_date = forms.ChoiceField(label="Study date", choices=DATE_PRESETS, required=False)
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    modalities = forms.MultipleChoiceField(
        label="Modalities",
        required=False,
        choices=[(m, m) for m in QUERY_MODALITIES],
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, today=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()
        self.grouped = self.fields["server"].load_choices()

    def search_fields(self):
        """What was typed, without the server: the query string of a DICOMweb search's answers
        page (a GET, that runs the search again when opened)."""
        data = self.data.copy()
        for name in ("server", "action", "csrfmiddlewaretoken"):
            data.pop(name, None)
        return data.urlencode()

    def clean(self):
        cleaned = super().clean()
        first, last = cleaned.get("date_from"), cleaned.get("date_to")
        if first and last and first > last:
            raise ValidationError("The first day of the range comes after the last one.")
        return cleaned

    # The same three date fields as the local lookup, read the same way (presets, "Between…").
    date_bounds = StudyFilterForm.date_bounds

    def dicom_query(self):
        """{keyword: value} for a study-level C-FIND; call after is_valid()."""
        data = self.cleaned_data
        constraints = {
            "PatientName": data.get("patient_name", "").strip(),
            "PatientID": data.get("patient_id", "").strip(),
            "AccessionNumber": data.get("accession_number", "").strip(),
            "StudyDescription": data.get("study_description", "").strip(),
            "StudyDate": date_matching(*self.date_bounds()),
            # Several values of a multi-valued key: any of them matches (PS3.4 C.2.2.2.1).
            "ModalitiesInStudy": "\\".join(data.get("modalities") or ()),
        }
        query = {keyword: "" for keyword in STUDY_RETURN_KEYS}
        query.update({keyword: value for keyword, value in constraints.items() if value})
        return query


def series_query(study_answer):
    """The series-level C-FIND below one study answer (simplified tags)."""
    query = {keyword: "" for keyword in SERIES_RETURN_KEYS}
    query["StudyInstanceUID"] = study_answer.get("StudyInstanceUID") or ""
    return query


def initial_from_query(modality_name, query):
    """The search form's fields from a stored study query, to change a search."""
    initial = {"server": f"{destinations.MODALITY.key}:{modality_name}"}
    for field, keyword in (
        ("patient_name", "PatientName"),
        ("patient_id", "PatientID"),
        ("accession_number", "AccessionNumber"),
        ("study_description", "StudyDescription"),
    ):
        initial[field] = query.get(keyword, "")
    dates = query.get("StudyDate") or ""
    first, _, last = dates.partition("-") if "-" in dates else (dates, "", dates)
    if first or last:
        initial.update(study_date=DATE_RANGE, date_from=_as_date(first), date_to=_as_date(last))
    modalities = query.get("ModalitiesInStudy") or ""
    initial["modalities"] = [m for m in modalities.split("\\") if m]
    return initial


def _as_date(text):
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None
