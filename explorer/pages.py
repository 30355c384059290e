"""What the explorer's pages show, as plain data built from the index.

Views only pick the resource and render; everything a page displays is computed here,
ready to print (dates formatted, names readable, URLs made), so tests can call these
functions directly. Each page costs a few queries whatever the size of the index: lists
are paged in the database, and the counts of a page's rows come from one grouped query
over the rows of that page, never one query per row.
"""

import base64
from dataclasses import dataclass, field
from datetime import datetime

from django.core.paginator import Paginator
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from pydicom.datadict import dictionary_description, dictionary_VR, tag_for_keyword
from pydicom.uid import UID

from explorer import forms, index, levels, query, tags
from explorer.api.representation import expected_instances, series_status
from explorer.api.tools import lookup_identifier
from explorer.models import Instance, Patient, Series, Study

PAGE_SIZE = 50
NUMBER_OF_FRAMES = "00280008"
# Longer tag values are cut in the tag tree; the whole value stays one click away in /tags.
SHORTENED_LENGTH = 96
SEX = {"M": "Male", "F": "Female", "O": "Other"}


# ---------------------------------------------------------------- formatting


def format_date(text):
    """DICOM DA "20040119" → "19 Jan 2004"; anything else is shown as it is."""
    try:
        day = datetime.strptime(text.strip()[:8], "%Y%m%d")
    except (AttributeError, ValueError):
        return text or ""
    return f"{day.day} {day:%b %Y}"


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


# ---------------------------------------------------------------- URLs


def resource_url(level, public_id):
    return reverse(level.name.lower(), args=[public_id])


def delete_url(level, public_id):
    return reverse(f"delete-{level.name.lower()}", args=[public_id])


def archive_url(level, public_id):
    return f"/{level.plural}/{public_id}/archive"


def preview_url(instance_id, frame=None):
    """A PNG of the instance (or one frame); a placeholder when it has no picture, never an error."""
    if frame is None:
        return f"/instances/{instance_id}/preview?returnUnsupportedImage"
    return f"/instances/{instance_id}/frames/{frame}/preview?returnUnsupportedImage"


def thumbnail_url(instance_id):
    # Scaled on the server: a radiograph's full-size PNG is megabytes for a 10 rem picture.
    return f"/instances/{instance_id}/rendered?height=160&smooth&returnUnsupportedImage"


def with_params(params, **changes):
    """'?…' keeping the current parameters but `changes` (None removes one)."""
    kept = params.copy()
    for key, value in changes.items():
        kept.pop(key, None)
        if value is not None:
            kept[key] = value
    encoded = kept.urlencode()
    return f"?{encoded}" if encoded else "?"


def as_query_dict(params):
    if isinstance(params, QueryDict):
        return params
    query_dict = QueryDict(mutable=True)
    for key, value in (params or {}).items():
        query_dict[key] = value
    return query_dict


# ---------------------------------------------------------------- lists: sorting and paging


@dataclass
class Column:
    """A column header; sortable ones link to the same list sorted by them."""

    label: str
    key: str = ""
    url: str = ""
    direction: str = ""  # "ascending", "descending" or "" when the list is not sorted by it
    numeric: bool = False


@dataclass
class PageLink:
    label: str
    url: str = ""
    current: bool = False


@dataclass
class Listing:
    form: object
    rows: list
    columns: list
    page: object
    page_links: list
    total: int
    filtered: bool
    sort: str
    previous_url: str = ""
    next_url: str = ""


def chosen_order(text, sorts, default):
    """(key, descending) from ?sort=key or ?sort=-key; the default for anything unknown."""
    text = (text or "").strip()
    descending = text.startswith("-")
    key = text.lstrip("-")
    if key not in sorts:
        key, descending = default.lstrip("-"), default.startswith("-")
    return key, descending


def order_by_fields(sorts, key, descending):
    # The primary key last keeps the order of equal values stable from page to page.
    fields = (*sorts[key], "pk")
    return [f"-{name}" if descending else name for name in fields]


def sort_columns(params, headers, sort_key, descending):
    """Header cells: each sortable one links to the list sorted by it (again: reversed)."""
    columns = []
    for label, key, numeric in headers:
        column = Column(label, key, numeric=numeric)
        if key:
            is_current = key == sort_key
            reverse_it = is_current and not descending
            column.url = with_params(params, sort=f"-{key}" if reverse_it else key, page=None)
            column.direction = ("descending" if descending else "ascending") if is_current else ""
        columns.append(column)
    return columns


def page_links(params, page):
    links = []
    for number in page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1):
        if number == page.paginator.ELLIPSIS:
            links.append(PageLink("…"))
        else:
            links.append(PageLink(str(number), with_params(params, page=str(number)), number == page.number))
    return links


def matching_condition(level, dicom_query):
    """The Q of a DICOM query at a level, with explorer.query's matching rules (as /tools/find)."""
    constraints = query.rest_constraints(level, dicom_query, case_sensitive=False)
    plan = query.plan_for(level, constraints)
    # The forms only ask for main tags held in columns: nothing is left to read in data sets.
    assert not plan.in_dataset, plan.in_dataset
    return plan.condition


def paged_listing(params, form, queryset, sorts, default_sort, headers, build_rows):
    """Filter, sort and page a queryset, then turn the page's objects into rows."""
    params = as_query_dict(params)
    dicom_query = form.dicom_query() if form.is_valid() else {}
    if form.is_valid():
        queryset = queryset.filter(matching_condition(form.level, dicom_query))
    else:
        queryset = queryset.none()  # the form shows what to correct
    sort_key, descending = chosen_order(params.get("sort"), sorts, default_sort)
    queryset = queryset.order_by(*order_by_fields(sorts, sort_key, descending))
    page = Paginator(queryset, PAGE_SIZE).get_page(params.get("page"))
    return Listing(
        form=form,
        rows=build_rows(list(page.object_list)),
        columns=sort_columns(params, headers, sort_key, descending),
        page=page,
        page_links=page_links(params, page),
        total=page.paginator.count,
        filtered=bool(dicom_query),
        sort=f"-{sort_key}" if descending else sort_key,
        previous_url=with_params(params, page=str(page.number - 1)) if page.has_previous() else "",
        next_url=with_params(params, page=str(page.number + 1)) if page.has_next() else "",
    )


# ---------------------------------------------------------------- patients


@dataclass
class PatientRow:
    public_id: str
    url: str
    name: str
    patient_id: str
    birth_date: str
    sex: str
    study_count: int


PATIENT_SORTS = {
    "name": ("patient_name",),
    "id": ("patient_id",),
    "birthdate": ("patient_birth_date",),
}
PATIENT_HEADERS = (
    ("Patient name", "name", False),
    ("Patient ID", "id", False),
    ("Birth date", "birthdate", False),
    ("Sex", "", False),
    ("Studies", "", True),
)


def study_counts_of_patients(patient_pks):
    """{patient pk: number of studies}, in one query."""
    rows = (
        Study.objects.filter(patient_id__in=patient_pks)
        .values("patient_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    return {row["patient_id"]: row["count"] for row in rows}


def patient_rows(patients):
    counts = study_counts_of_patients([p.pk for p in patients])
    return [
        PatientRow(
            public_id=p.public_id,
            url=resource_url(levels.PATIENT, p.public_id),
            name=person_name(p.patient_name),
            patient_id=p.patient_id,
            birth_date=format_date(p.patient_birth_date),
            sex=SEX.get(p.main_tags.get("PatientSex", ""), p.main_tags.get("PatientSex", "")),
            study_count=counts.get(p.pk, 0),
        )
        for p in patients
    ]


def patient_listing(params):
    """/ui/patients: the patients matching ?patient_name=&patient_id=&birth_date=, sorted by ?sort=, paged by ?page=."""
    form = forms.PatientFilterForm(as_query_dict(params))
    return paged_listing(params, form, Patient.objects.all(), PATIENT_SORTS, "name", PATIENT_HEADERS, patient_rows)


# ---------------------------------------------------------------- studies


@dataclass
class StudyRow:
    public_id: str
    url: str
    date: str
    time: str
    description: str
    accession_number: str
    patient_name: str
    patient_id: str
    patient_url: str
    modalities: tuple = ()
    series_count: int = 0
    instance_count: int = 0


@dataclass
class StudyCounts:
    modalities: set = field(default_factory=set)
    series: int = 0
    instances: int = 0


STUDY_SORTS = {
    "date": ("study_date", "main_tags__StudyTime"),
    "description": ("study_description",),
    "patient": ("patient__patient_name",),
    "patientid": ("patient__patient_id",),
    "accession": ("accession_number",),
}
STUDY_HEADERS = (
    ("Date", "date", False),
    ("Description", "description", False),
    ("Patient", "patient", False),
    ("Patient ID", "patientid", False),
    ("Accession", "accession", False),
    ("Modalities", "", False),
    ("Series", "", True),
    ("Instances", "", True),
)


def study_counts(study_pks):
    """{study pk: StudyCounts}: modalities, series and instances of each study, in one query
    grouped by study and modality."""
    grouped = (
        Series.objects.filter(study_id__in=study_pks)
        .values("study_id", "modality")
        .annotate(series=Count("id", distinct=True), instances=Count("instances"))
        .order_by()
    )
    counts = {}
    for row in grouped:
        entry = counts.setdefault(row["study_id"], StudyCounts())
        if row["modality"]:
            entry.modalities.add(row["modality"])
        entry.series += row["series"]
        entry.instances += row["instances"]
    return counts


def study_rows(studies):
    """Rows for studies loaded with their patient (select_related)."""
    counts = study_counts([s.pk for s in studies])
    rows = []
    for study in studies:
        numbers = counts.get(study.pk, StudyCounts())
        rows.append(
            StudyRow(
                public_id=study.public_id,
                url=resource_url(levels.STUDY, study.public_id),
                date=format_date(study.study_date),
                time=format_time(study.main_tags.get("StudyTime", ""))[:5],  # hours and minutes
                description=study.study_description,
                accession_number=study.accession_number,
                patient_name=person_name(study.patient.patient_name),
                patient_id=study.patient.patient_id,
                patient_url=resource_url(levels.PATIENT, study.patient.public_id),
                modalities=tuple(sorted(numbers.modalities)),
                series_count=numbers.series,
                instance_count=numbers.instances,
            )
        )
    return rows


def study_listing(params, today=None):
    """/ui/studies: studies matching the lookup fields (see forms.StudyFilterForm), newest first
    unless ?sort= says otherwise, paged by ?page=."""
    form = forms.StudyFilterForm(as_query_dict(params), today=today)
    queryset = Study.objects.select_related("patient")
    return paged_listing(params, form, queryset, STUDY_SORTS, "-date", STUDY_HEADERS, study_rows)


# ---------------------------------------------------------------- one resource: modules and breadcrumbs

# What to load with a resource so that its ancestors come in the same query.
ANCESTORS = {
    levels.PATIENT: (),
    levels.STUDY: ("patient",),
    levels.SERIES: ("study__patient",),
    levels.INSTANCE: ("series__study__patient",),
}
PARENT_ATTRIBUTE = {levels.STUDY: "patient", levels.SERIES: "study", levels.INSTANCE: "series"}


def load(level, public_id):
    """The resource with its ancestors, or None. An instance's data set comes along: its page shows it."""
    model = index.model_for(level)
    return model.objects.select_related(*ANCESTORS[level]).filter(public_id=public_id).first()


def lineage(level, resource):
    """[(level, resource)] from the patient down to this resource."""
    chain = [(level, resource)]
    while chain[0][0] in PARENT_ATTRIBUTE:
        child_level, child = chain[0]
        chain.insert(0, (levels.parent_of(child_level), getattr(child, PARENT_ATTRIBUTE[child_level])))
    return chain


@dataclass
class Field:
    label: str
    value: str
    keyword: str = ""
    mono: bool = False  # UIDs and lists of numbers read better in a fixed-width font


@dataclass
class Module:
    level: str  # "Patient"
    title: str
    url: str
    fields: list
    current: bool = False


def title_of(level, resource):
    """How a resource is named in breadcrumbs and module headings."""
    main = resource.main_tags
    if level is levels.PATIENT:
        return person_name(main.get("PatientName", "")) or main.get("PatientID") or "Unnamed patient"
    if level is levels.STUDY:
        return main.get("StudyDescription") or format_date(main.get("StudyDate", "")) or "Study"
    if level is levels.SERIES:
        parts = [main.get("Modality", ""), main.get("SeriesDescription", "")]
        text = " · ".join(part for part in parts if part)
        return text or f"Series {main.get('SeriesNumber', '')}".strip()
    number = main.get("InstanceNumber") or main.get("ImageIndex")
    return f"Instance {number}" if number else "Instance"


# The levels above the page's resource show only what identifies them, so that the page's
# own module and its actions stay in sight; their full modules are one click away.
SUMMARY_TAGS = {
    levels.PATIENT: ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"),
    levels.STUDY: ("StudyDate", "StudyDescription", "AccessionNumber"),
    levels.SERIES: ("Modality", "SeriesNumber", "SeriesDescription", "SeriesDate"),
}


def main_tag_fields(level, main_tags, keywords=None):
    """The level's main tags in Orthanc's order (or the given keywords), empty ones left out."""
    fields = []
    for keyword in keywords or level.main_tags:
        text = main_tags.get(keyword)
        if text:
            tag = tag_for_keyword(keyword)
            mono = (tag is not None and dictionary_VR(tag) == "UI") or "\\" in text
            fields.append(Field(readable_label(keyword), format_value(keyword, text), keyword, mono))
    return fields


def file_fields(instance):
    """What the instance page adds about the stored file."""
    moment = timezone.localtime(instance.received_at)
    received = f"{moment.day} {moment:%b %Y %H:%M:%S}"
    origin = instance.origin
    sender = instance.remote_aet or instance.remote_ip or instance.http_username
    if sender:
        origin = f"{origin} ({sender})"
    return [
        Field("SOP Class", uid_name(instance.sop_class_uid)),
        Field("Transfer Syntax", uid_name(instance.transfer_syntax_uid)),
        Field("File size", file_size(instance.file_size)),
        Field("Received", received),
        Field("Origin", origin),
    ]


def series_fields(series, instance_indexes):
    """The series status (Complete, Missing, …) and its instance count, as Orthanc's explorer shows them."""
    expected = expected_instances(series.main_tags)
    count = len(instance_indexes)
    status = series_status(expected, instance_indexes)
    shown = f"{count} / {expected}" if expected else str(count)
    return [Field("Status", status), Field("Instances", shown)]


def modules(level, resource, extra_fields=()):
    """One module per level from the patient down to this resource; the current one gets `extra_fields`."""
    found = []
    for each_level, each in lineage(level, resource):
        current = each is resource
        if current:
            fields = main_tag_fields(each_level, each.main_tags) + list(extra_fields)
        else:
            fields = main_tag_fields(each_level, each.main_tags, SUMMARY_TAGS[each_level])
        found.append(
            Module(
                level=each_level.name,
                title=title_of(each_level, each),
                url=resource_url(each_level, each.public_id),
                fields=fields,
                current=current,
            )
        )
    return found


@dataclass
class Crumb:
    level: str
    label: str
    url: str
    current: bool = False


def breadcrumbs(level, resource):
    return [
        Crumb(each_level.name, title_of(each_level, each), resource_url(each_level, each.public_id), each is resource)
        for each_level, each in lineage(level, resource)
    ]


@dataclass
class Actions:
    delete_url: str
    archive_url: str = ""  # no archive for a single instance: its file is the download
    file_url: str = ""
    png_url: str = ""


def actions(level, resource):
    public_id = resource.public_id
    if level is levels.INSTANCE:
        return Actions(
            delete_url=delete_url(level, public_id),
            file_url=f"/instances/{public_id}/file",
            png_url=f"/instances/{public_id}/preview?returnUnsupportedImage",
        )
    return Actions(delete_url=delete_url(level, public_id), archive_url=archive_url(level, public_id))


@dataclass
class ResourcePage:
    """What every resource page has: who it is, where it sits, and what can be done with it."""

    level: str
    public_id: str
    title: str
    breadcrumbs: list
    modules: list
    actions: Actions


def resource_page(level, resource, extra_fields=()):
    return ResourcePage(
        level=level.name,
        public_id=resource.public_id,
        title=title_of(level, resource),
        breadcrumbs=breadcrumbs(level, resource),
        modules=modules(level, resource, extra_fields),
        actions=actions(level, resource),
    )


# ---------------------------------------------------------------- children


def latest_studies(count=10):
    """The studies that changed last (the lookup page shows them)."""
    studies = list(Study.objects.select_related("patient").order_by("-last_update", "-pk")[:count])
    return study_rows(studies)


def patient_studies(patient):
    """The patient's studies, newest first, with their counts."""
    studies = list(
        Study.objects.filter(patient=patient).select_related("patient").order_by("-study_date", "-pk")
    )
    return study_rows(studies)


@dataclass
class SeriesRow:
    public_id: str
    url: str
    number: str
    modality: str
    description: str
    date: str
    body_part: str
    instance_count: int
    thumbnail_url: str


def instance_order():
    # Instances without a number come after the numbered ones, in arrival order.
    return [F("index_in_series").asc(nulls_last=True), F("pk").asc()]


def middle_instances(series_pks):
    """{series pk: (public id of its middle instance, number of instances)}, in one query:
    each instance gets its rank in its series and the series' size, and only the middle one is kept."""
    ranked = (
        Instance.objects.filter(series_id__in=series_pks)
        .annotate(
            rank=Window(RowNumber(), partition_by=[F("series_id")], order_by=instance_order()),
            size=Window(Count("pk"), partition_by=[F("series_id")]),
        )
        .filter(rank=(F("size") + 1) / 2)
        .values_list("series_id", "public_id", "size")
    )
    return {series_pk: (public_id, size) for series_pk, public_id, size in ranked}


def series_sort_key(series):
    try:
        number = int(series.main_tags.get("SeriesNumber", ""))
    except ValueError:
        number = None
    return (number is None, number or 0, series.pk)


def study_series(study):
    """The study's series by series number, each with its count and a thumbnail of its middle instance."""
    series_list = sorted(Series.objects.filter(study=study), key=series_sort_key)
    middles = middle_instances([s.pk for s in series_list])
    rows = []
    for series in series_list:
        middle_id, size = middles.get(series.pk, (None, 0))
        main = series.main_tags
        rows.append(
            SeriesRow(
                public_id=series.public_id,
                url=resource_url(levels.SERIES, series.public_id),
                number=main.get("SeriesNumber", ""),
                modality=series.modality,
                description=main.get("SeriesDescription", ""),
                date=format_date(main.get("SeriesDate", "")),
                body_part=main.get("BodyPartExamined", ""),
                instance_count=size,
                thumbnail_url=thumbnail_url(middle_id) if middle_id else "",
            )
        )
    return rows


@dataclass
class InstanceRow:
    public_id: str
    url: str
    number: str
    frames: int
    acquisition: str
    comments: str
    preview_url: str
    sop_instance_uid: str = ""
    index_in_series: int | None = None


def number_of_frames(main_tags):
    try:
        return max(int(main_tags.get("NumberOfFrames") or 1), 1)
    except ValueError:
        return 1


def series_instances(series):
    """The series' instances by instance number (then arrival), without their data sets."""
    instances = (
        Instance.objects.filter(series=series)
        .only("public_id", "main_tags", "index_in_series")
        .order_by(*instance_order())
    )
    return [
        InstanceRow(
            public_id=instance.public_id,
            url=resource_url(levels.INSTANCE, instance.public_id),
            number=instance.main_tags.get("InstanceNumber") or instance.main_tags.get("ImageIndex") or "",
            frames=number_of_frames(instance.main_tags),
            acquisition=instance.main_tags.get("AcquisitionNumber", ""),
            comments=instance.main_tags.get("ImageComments", ""),
            preview_url=preview_url(instance.public_id),
            sop_instance_uid=instance.main_tags.get("SOPInstanceUID", ""),
            index_in_series=instance.index_in_series,
        )
        for instance in instances
    ]


def scroller_frames(instance_rows):
    """What the series viewer's slider steps through: one preview per instance."""
    return [
        {"url": row.preview_url, "label": f"Instance {row.number}" if row.number else "Instance", "href": row.url}
        for row in instance_rows
    ]


# ---------------------------------------------------------------- an instance: its tags and frames


@dataclass
class TagNode:
    """One element of the tag tree. `items` is a list of item node lists for a sequence, None otherwise."""

    tag: str  # "0010,0010"
    name: str
    vr: str
    value: str
    kind: str  # "text", "long", "binary", "empty" or "sequence"
    private: bool = False
    creator: str = ""
    link: str = ""  # where a binary value can be downloaded
    items: list | None = None


def frame_count(dataset_json):
    element = dataset_json.get(NUMBER_OF_FRAMES) or {}
    try:
        return max(int(float((element.get("Value") or [1])[0])), 1)
    except (TypeError, ValueError, IndexError):
        return 1


def _element_vr(element, tag_number):
    vr = element.get("vr")
    if vr:
        return vr
    try:
        return dictionary_VR(tag_number)
    except KeyError:
        return ""


def _plain_values(element):
    """Every value of a long element as text, for its shortened form."""
    parts = []
    for value in element.get("Value") or []:
        if isinstance(value, dict):  # a person name
            value = value.get("Alphabetic", "")
        parts.append("" if value is None else str(value))
    return "\\".join(parts)


def _shortened(text):
    return text if len(text) <= SHORTENED_LENGTH else text[:SHORTENED_LENGTH].rstrip() + "…"


def _binary_value(element):
    """(shown text, download link) of a binary element."""
    if "BulkDataURI" in element:
        return "binary data", element["BulkDataURI"]
    if "InlineBinary" in element:
        size = len(base64.b64decode(element["InlineBinary"]))
        return f"binary, {size} bytes", ""
    return "binary, empty", ""


def _leaf(described, element):
    kind, value, link = "text", described.get("Value"), ""
    if described["Type"] == "TooLong":
        text = _plain_values(element)
        kind, value = "long", f"{_shortened(text)} ({len(text)} characters)"
    elif value is None:
        if "BulkDataURI" in element or "InlineBinary" in element or element.get("vr") in tags.BINARY_VRS:
            kind = "binary"
            value, link = _binary_value(element)
        else:
            kind, value = "empty", ""
    elif value == "":
        kind = "empty"
    return kind, value, link


def tag_nodes(dataset_json, described=None):
    """The data set (DICOM JSON) as TagNodes in tag order, names from explorer.tags.full_tags."""
    described = tags.full_tags(dataset_json) if described is None else described
    by_key = {key.upper(): element for key, element in dataset_json.items()}
    nodes = []
    for tag_text, info in described.items():
        element = by_key[tag_text.replace(",", "").upper()]
        tag_number = int(tag_text.replace(",", ""), 16)
        node = TagNode(
            tag=tag_text.upper(),
            name=info["Name"],
            vr=_element_vr(element, tag_number),
            value="",
            kind="sequence",
            private=bool((tag_number >> 16) % 2),
            creator=info.get("PrivateCreator", ""),
        )
        if info["Type"] == "Sequence":
            items_json = element.get("Value") or []
            node.items = [tag_nodes(item, item_described) for item, item_described in zip(items_json, info["Value"])]
            node.value = f"{len(node.items)} item{'s' if len(node.items) != 1 else ''}"
        else:
            node.kind, node.value, node.link = _leaf(info, element)
        nodes.append(node)
    return nodes


@dataclass
class InstanceView:
    """The picture part of an instance page."""

    preview_url: str
    frames: int
    frame_url_template: str  # "{n}" stands for the frame number


def instance_view(instance):
    frames = frame_count(instance.dataset)
    return InstanceView(
        preview_url=preview_url(instance.public_id),
        frames=frames,
        frame_url_template=preview_url(instance.public_id, frame="{n}"),
    )


# ---------------------------------------------------------------- lookup by identifier


@dataclass
class Match:
    level: str
    public_id: str
    url: str
    label: str


def jump_matches(text):
    """Every resource an identifier names: PatientID, AccessionNumber, any UID (as /tools/lookup)
    or a Pharos (Orthanc) public id, each once, patients first."""
    text = text.strip()
    if not text:
        return []
    found = [(levels.level_named(m["Type"]), m["ID"]) for m in lookup_identifier(text)]
    level, resource = index.resolve(text)
    if resource is not None:
        found.append((level, resource.public_id))
    unique = list(dict.fromkeys(found))
    return [Match(lvl.name, public_id, resource_url(lvl, public_id), label) for lvl, public_id, label in labelled(unique)]


def labelled(level_ids):
    """(level, public id, title) for each, with one query per level involved."""
    by_level = {}
    for level, public_id in level_ids:
        by_level.setdefault(level, []).append(public_id)
    titles = {}
    for level, public_ids in by_level.items():
        queryset = index.model_for(level).objects.filter(public_id__in=public_ids)
        if level is levels.INSTANCE:
            queryset = queryset.defer("dataset")
        for resource in queryset:
            titles[(level, resource.public_id)] = title_of(level, resource)
    ordered = sorted(level_ids, key=lambda pair: levels.LEVELS.index(pair[0]))
    return [(level, public_id, titles.get((level, public_id), public_id)) for level, public_id in ordered]


# ---------------------------------------------------------------- deletion


@dataclass
class Deletion:
    """What the confirmation step shows before a resource is deleted."""

    level: str
    title: str
    public_id: str
    counts: dict
    cancel_url: str


def deletion(level, resource):
    return Deletion(
        level=level.name,
        title=title_of(level, resource),
        public_id=resource.public_id,
        counts=index.resource_statistics(level, resource),
        cancel_url=resource_url(level, resource.public_id),
    )


def delete_and_go_up(level, resource):
    """Delete the resource; the URL of what remains above it (its nearest ancestor left, or the lists)."""
    remaining = index.delete(level, resource)
    if remaining is None:
        return reverse("patient-list")
    parent_level, parent = remaining
    return resource_url(parent_level, parent.public_id)
