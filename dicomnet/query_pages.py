"""What the Query/Retrieve pages show, as plain data: the answers of a remote query
(marked when already stored here), what it matched on, the recent searches.

As explorer.pages does for the local index, everything here is ready to print (dates
formatted, names readable, URLs made), so that the views stay thin and tests can call
these functions directly.
"""

from dataclasses import dataclass

from django.db.models import Count
from django.urls import reverse

from dicomnet.models import RemoteQuery
from explorer import index, levels, tags
from explorer.dicomweb.resources import UID
from explorer.identifiers import is_uuid
from explorer.pages.formatting import (
    date_note,
    format_date,
    format_moment,
    format_time,
    person_name,
)
from explorer.pages.links import resource_url


def load_query(query_id):
    return RemoteQuery.objects.filter(pk=query_id).first() if is_uuid(str(query_id)) else None


@dataclass
class StudyAnswer:
    index: int
    date: str
    time: str
    patient_name: str
    patient_id: str
    birth_date: str
    description: str
    modalities: tuple
    accession_number: str
    series_count: str
    instance_count: str
    study_uid: str
    series_url: str
    retrieve_url: str
    local_url: str = ""
    date_note: str = ""  # why the date is shown as written (not a DICOM date)


@dataclass
class SeriesAnswer:
    index: int
    number: str
    modality: str
    description: str
    date: str
    body_part: str
    instance_count: str
    series_uid: str
    retrieve_url: str
    local_url: str = ""
    date_note: str = ""  # why the date is shown as written (not a DICOM date)


def _text(simplified, keyword):
    value = simplified.get(keyword)
    return value if isinstance(value, str) else ""


def answer_urls(stored, position):
    query_id = str(stored.id)
    return (
        reverse("remote-answer-series", args=[query_id, position]),
        reverse("remote-answer-retrieve", args=[query_id, position]),
    )


def local_studies(uids):
    """{StudyInstanceUID: page URL} of the studies already in Pharos, in one query."""
    found = index.studies_with_uids(uids).values_list("study_instance_uid", "public_id")
    return {uid: resource_url(levels.STUDY, public_id) for uid, public_id in found}


def local_series(uids):
    found = index.series_with_uids(uids).values_list("series_instance_uid", "public_id")
    return {uid: resource_url(levels.SERIES, public_id) for uid, public_id in found}


def study_answers(stored, answers, urls=None):
    """Rows of study answers, newest first (undated ones last, in the server's order).
    `urls(position, simplified tags)` gives an answer's (series URL, retrieve URL): those of
    a stored query's answer unless told."""
    urls = urls or (lambda position, _: answer_urls(stored, position))
    simplified = [(a.position, tags.simplified_tags(a.content)) for a in answers]
    here = local_studies([_text(s, "StudyInstanceUID") for _, s in simplified])
    dated = []
    for position, s in simplified:
        series_url, retrieve_url = urls(position, s)
        uid = _text(s, "StudyInstanceUID")
        row = StudyAnswer(
            index=position,
            date=format_date(_text(s, "StudyDate")),
            date_note=date_note(_text(s, "StudyDate")),
            time=format_time(_text(s, "StudyTime"))[:5],
            patient_name=person_name(_text(s, "PatientName")),
            patient_id=_text(s, "PatientID"),
            birth_date=format_date(_text(s, "PatientBirthDate")),
            description=_text(s, "StudyDescription"),
            modalities=tuple(m for m in _text(s, "ModalitiesInStudy").split("\\") if m),
            accession_number=_text(s, "AccessionNumber"),
            series_count=_text(s, "NumberOfStudyRelatedSeries"),
            instance_count=_text(s, "NumberOfStudyRelatedInstances"),
            study_uid=uid,
            series_url=series_url,
            retrieve_url=retrieve_url,
            local_url=here.get(uid, ""),
        )
        dated.append((_text(s, "StudyDate") + _text(s, "StudyTime"), row))
    # A stable sort: equal dates keep the server's order.
    dated.sort(key=lambda pair: pair[0], reverse=True)
    return [row for _, row in dated]


def series_answers(stored, answers, urls=None):
    urls = urls or (lambda position, _: answer_urls(stored, position))
    simplified = [(a.position, tags.simplified_tags(a.content)) for a in answers]
    here = local_series([_text(s, "SeriesInstanceUID") for _, s in simplified])
    rows = []
    for position, s in simplified:
        _, retrieve_url = urls(position, s)
        uid = _text(s, "SeriesInstanceUID")
        rows.append(
            SeriesAnswer(
                index=position,
                number=_text(s, "SeriesNumber"),
                modality=_text(s, "Modality"),
                description=_text(s, "SeriesDescription"),
                date=format_date(_text(s, "SeriesDate")),
                date_note=date_note(_text(s, "SeriesDate")),
                body_part=_text(s, "BodyPartExamined"),
                instance_count=_text(s, "NumberOfSeriesRelatedInstances"),
                series_uid=uid,
                retrieve_url=retrieve_url,
                local_url=here.get(uid, ""),
            )
        )
    return sorted(rows, key=_series_number_order)


def _series_number_order(row):
    try:
        return (0, int(row.number), row.index)
    except ValueError:
        return (1, 0, row.index)


# Labels of the keys a person may have searched on, in the order the form shows them.
CRITERIA_LABELS = {
    "PatientName": "Patient name",
    "PatientID": "Patient ID",
    "AccessionNumber": "Accession number",
    "StudyDescription": "Study description",
    "StudyDate": "Study date",
    "ModalitiesInStudy": "Modalities",
    "StudyInstanceUID": "Study Instance UID",
}


def readable_dates(matching):
    """A DICOM date or range as a person reads it: "1 Jan 2020 – 31 Dec 2020", "1 Jan 2020 – …"."""
    if "-" not in matching:
        return format_date(matching)
    return " – ".join(format_date(part) if part else "…" for part in matching.split("-", 1))


def criteria(stored):
    """[(label, value)] of what the query matched on (its non-empty keys)."""
    return criteria_of(stored.query)


def criteria_of(query):
    found = []
    for keyword, label in CRITERIA_LABELS.items():
        value = query.get(keyword) or ""
        if not value:
            continue
        if keyword == "StudyDate":
            value = readable_dates(value)
        elif keyword == "ModalitiesInStudy":
            value = ", ".join(value.split("\\"))
        found.append((label, value))
    return found


# Columns that many servers leave empty (they are optional return keys): shown when any answer fills them.
OPTIONAL_COLUMNS = ("series_count", "instance_count", "body_part", "date")


def optional_columns(rows):
    return {name: any(getattr(row, name, "") for row in rows) for name in OPTIONAL_COLUMNS}


@dataclass
class QueryPage:
    query: RemoteQuery | None  # None for a DICOMweb search, which is not stored
    level: str
    criteria: list
    rows: list
    dropped_keys: list
    modify_url: str
    shown: dict  # optional column -> whether any answer has a value for it
    source: str  # the name of the server asked
    retrieve_all_url: str
    parent_url: str = ""
    study: StudyAnswer | None = None  # the study whose series these are
    dicomweb: bool = False  # answers of a DICOMweb server (QIDO-RS), retrieved over WADO-RS


def query_page(stored, parent=None, parent_position=None):
    """A stored query and its answers; `parent` is the study query a series query came from."""
    answers = list(stored.answers.all())
    if stored.level == "Series":
        rows = series_answers(stored, answers)
    else:
        rows = study_answers(stored, answers)
    page = QueryPage(
        shown=optional_columns(rows),
        query=stored,
        level=stored.level,
        criteria=criteria(stored),
        rows=rows,
        dropped_keys=stored.dropped_keys,
        modify_url=reverse("query-retrieve") + f"?from={stored.id}",
        source=stored.modality,
        retrieve_all_url=reverse("remote-query-retrieve", args=[stored.id]),
    )
    if parent is not None:
        page.parent_url = reverse("remote-query", args=[parent.id])
        parent_answer = parent.answers.filter(position=parent_position).first() if parent_position is not None else None
        if parent_answer is not None:
            page.study = study_answers(parent, [parent_answer])[0]
            page.modify_url = reverse("query-retrieve") + f"?from={parent.id}"
    return page


def query_url(query_id):
    return reverse("remote-query", args=[query_id])


def simplified(answer):
    return tags.simplified_tags(answer.content)


def answer_title(level_name, answer):
    """How an answer is named in messages: “DOE, JOHN · Chest CT” or “series 2 · CT · Axial”."""
    s = simplified(answer)
    if level_name == "Series":
        parts = [
            f"#{_text(s, 'SeriesNumber')}" if _text(s, "SeriesNumber") else "",
            _text(s, "Modality"),
            _text(s, "SeriesDescription"),
        ]
        return "series " + (" · ".join(p for p in parts if p) or _text(s, "SeriesInstanceUID"))
    parts = [person_name(_text(s, "PatientName")), _text(s, "StudyDescription") or format_date(_text(s, "StudyDate"))]
    return "study " + (" · ".join(p for p in parts if p) or _text(s, "StudyInstanceUID"))


@dataclass
class RecentQuery:
    url: str
    modality: str
    created: str
    criteria: list
    answers: int


def recent_queries(count=5):
    """The last study searches, to open their answers again without asking the server."""
    found = (
        RemoteQuery.objects.filter(level="Study").annotate(answer_count=Count("answers")).order_by("-created")[:count]
    )
    return [
        RecentQuery(query_url(q.id), q.modality, format_moment(q.created), criteria(q), q.answer_count) for q in found
    ]


# ---------------------------------------------------------------- a DICOMweb server's answers


@dataclass
class WebAnswer:
    """A QIDO-RS answer where a stored C-FIND answer goes: its place and its DICOM JSON."""

    position: int
    content: dict


def is_uid(text):
    return bool(text) and len(text) <= 64 and bool(UID.match(text))


def _with_search(url, search):
    return f"{url}?{search}" if search else url


def web_answers(found, keyword):
    """The answers that carry their UID (the pages' URLs name it), numbered in the server's order."""
    answers = [WebAnswer(i, content) for i, content in enumerate(found)]
    return [a for a in answers if is_uid(_text(simplified(a), keyword))]


def web_study_page(server_name, search, found, dicom_query):
    """The study answers of a DICOMweb server; `search` is the query string of the search form."""

    def urls(position, s):
        uid = _text(s, "StudyInstanceUID")
        return (
            _with_search(reverse("web-query-study", args=[server_name, uid]), search),
            _with_search(reverse("web-retrieve-study", args=[server_name, uid]), search),
        )

    rows = study_answers(None, web_answers(found, "StudyInstanceUID"), urls)
    return QueryPage(
        query=None,
        level="Study",
        criteria=criteria_of(dicom_query),
        rows=rows,
        dropped_keys=[],
        modify_url=reverse("query-retrieve") + f"?server=dicomweb:{server_name}" + (f"&{search}" if search else ""),
        shown=optional_columns(rows),
        source=server_name,
        retrieve_all_url=_with_search(reverse("web-retrieve-all", args=[server_name]), search),
        dicomweb=True,
    )


def web_series_page(server_name, search, study_uid, study, found):
    """The series of one study of a DICOMweb server (`study`: its answer, DICOM JSON, or None
    when the server does not find it)."""

    def urls(position, s):
        uid = _text(s, "SeriesInstanceUID")
        return "", _with_search(reverse("web-retrieve-series", args=[server_name, study_uid, uid]), search)

    rows = series_answers(None, web_answers(found, "SeriesInstanceUID"), urls)
    parent_url = _with_search(reverse("web-query", args=[server_name]), search)
    page = QueryPage(
        query=None,
        level="Series",
        criteria=[],
        rows=rows,
        dropped_keys=[],
        modify_url=reverse("query-retrieve") + f"?server=dicomweb:{server_name}" + (f"&{search}" if search else ""),
        shown=optional_columns(rows),
        source=server_name,
        retrieve_all_url=_with_search(reverse("web-retrieve-study", args=[server_name, study_uid]), search),
        parent_url=parent_url,
        dicomweb=True,
    )
    if study is not None:
        page.study = study_answers(None, [WebAnswer(0, study)], lambda *_: (parent_url, ""))[0]
    return page
