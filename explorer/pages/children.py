"""What a resource page lists below it: a patient's studies, a study's series with a
thumbnail each, a series' instances for its viewer; and the latest studies of the lookup page.

Each list takes the text of its filter box (?filter=): the studies are filtered by the
search's SQL, the series and the instances, which the page reads whole anyway (the series
viewer steps through every instance), in memory. The instances are then paged."""

import re
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Count, F, OuterRef, Q, Subquery, Value, Window
from django.db.models.functions import Coalesce, RowNumber

from explorer import levels, query
from explorer.models import Instance, Series
from explorer.pages.formatting import format_date
from explorer.pages.links import as_query_dict, full_size_url, preview_url, resource_url, thumbnail_url, with_params
from explorer.pages.listings import page_links
from explorer.pages.studies import STUDY_ROW_VALUES, study_rows
from explorer.pages.windowing import FROM_THE_FILE, page_link

INSTANCES_PER_PAGE = 50
# A date as typed in a filter box: 2024, 2024-03, 2024-03-15, 20240315.
TYPED_DATE = re.compile(r"\d{4}(?:[-/.]?\d{2}){0,2}")
# An instance number, or a range of them: 12, 10-20.
TYPED_NUMBERS = re.compile(r"(-?\d+)(?:\s*(?:-|–|\.\.)\s*(-?\d+))?")


def filter_text(params):
    """What the list's filter box holds."""
    return (as_query_dict(params).get("filter") or "").strip()


def latest_studies(count=10, order_by=("-last_update", "-pk")):
    """The studies that received an instance last, or in another order (the lookup page shows them)."""
    found = query.search(levels.STUDY, (), order_by=order_by, limit=count, **STUDY_ROW_VALUES)
    return study_rows(found)


def study_filter(text):
    """The studies whose description holds the text, or whose date starts with it when it is a date."""
    condition = Q(study_description__icontains=text)
    if TYPED_DATE.fullmatch(text):
        condition |= Q(study_date__startswith=re.sub(r"[-/.]", "", text))
    return condition


def patient_studies(patient, text=""):
    """The patient's studies, newest first, with their counts; those the filter text names."""
    mine = Q(patient=patient)
    if text:
        mine &= study_filter(text)
    found = query.search(levels.STUDY, (), order_by=("-study_date", "-pk"), scope=mine, **STUDY_ROW_VALUES)
    return study_rows(found)


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


def series_matches(series, text):
    """Whether the filter text is in the series' description, modality, number or body part."""
    main = series.main_tags
    shown = (main.get("SeriesDescription", ""), series.modality, main.get("SeriesNumber", ""))
    return any(text.casefold() in value.casefold() for value in (*shown, main.get("BodyPartExamined", "")))


def study_series(study, text=""):
    """The study's series by series number, each with its count and a thumbnail of its middle
    instance; those the filter text names."""
    series_list = sorted(Series.objects.filter(study=study), key=series_sort_key)
    if text:
        series_list = [series for series in series_list if series_matches(series, text)]
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
    """What the series viewer's slider steps through: one preview per instance, its URL without
    a window preset's query (the viewer appends the chosen one's)."""
    return [
        {
            "url": row.preview_url,
            "full": full_size_url(row.public_id),
            "label": f"Instance {row.number}" if row.number else "Instance",
            "href": row.url,
        }
        for row in instance_rows
    ]


@dataclass
class SeriesViewer:
    """The series viewer: every instance's preview, the one shown first and its picture."""

    frames: list
    start: int
    current: dict | None
    src: str = ""  # the first picture, with the preset's window
    full_size_url: str = ""
    link: str = ""  # the instance shown, keeping the preset


def series_viewer(instance_rows, preset=FROM_THE_FILE):
    frames = scroller_frames(instance_rows)
    if not frames:
        return SeriesViewer(frames, 0, None)
    start = (len(frames) - 1) // 2  # the middle instance, as the study page's thumbnail
    shown = instance_rows[start]
    return SeriesViewer(
        frames=frames,
        start=start,
        current=frames[start],
        src=frames[start]["url"] + preset.query,
        full_size_url=full_size_url(shown.public_id, window=preset.query),
        link=page_link(shown.url, preset),
    )


def number_range(text):
    """(low, high) of "12" or "10-20", or None when the text names no numbers."""
    typed = TYPED_NUMBERS.fullmatch(text)
    if typed is None:
        return None
    low, high = int(typed[1]), int(typed[2] or typed[1])
    return min(low, high), max(low, high)


def instance_matches(row, text, numbers):
    """Whether an instance row is one the filter text names: by number (or range of
    numbers) when the text is numbers, else by the text in its number or comments."""
    if numbers is not None:
        try:
            return numbers[0] <= int(row.number) <= numbers[1]
        except ValueError:
            return False
    return any(text.casefold() in value.casefold() for value in (row.number, row.comments))


@dataclass
class RowsPage:
    """One page of a list read whole, in the shape explorer/_pagination.html shows."""

    rows: list
    page: object
    page_links: list
    total: int
    filter: str = ""
    previous_url: str = ""
    next_url: str = ""


def instance_listing(params, instance_rows):
    """The series' instances the filter names, INSTANCES_PER_PAGE at a time."""
    params = as_query_dict(params)
    text = filter_text(params)
    rows = instance_rows
    if text:
        numbers = number_range(text)
        rows = [row for row in instance_rows if instance_matches(row, text, numbers)]
    page = Paginator(rows, INSTANCES_PER_PAGE).get_page(params.get("page"))
    return RowsPage(
        rows=list(page.object_list),
        page=page,
        page_links=page_links(params, page),
        total=len(rows),
        filter=text,
        previous_url=with_params(params, page=str(page.number - 1)) if page.has_previous() else "",
        next_url=with_params(params, page=str(page.number + 1)) if page.has_next() else "",
    )


@dataclass
class Neighbours:
    """Where an instance stands in its series (in the order of the series' list), and the
    instances before and after it."""

    position: int
    total: int
    previous_url: str = ""
    next_url: str = ""


# The series' order as one sortable key: instances without a number after every numbered one.
UNNUMBERED = 2**31 - 1


def _series_key():
    return Coalesce("index_in_series", Value(UNNUMBERED))


def neighbour_annotations():
    """What an instance is loaded with (explorer.pages.resource.load) for series_neighbours, in
    the query that loads it: the public ids of the instances before and after it in the
    series' order (instance_order), its position and the series' size."""
    series = Instance.objects.filter(series_id=OuterRef("series_id")).annotate(key=_series_key())
    before = Q(key__lt=OuterRef("series_key")) | Q(key=OuterRef("series_key"), pk__lt=OuterRef("pk"))
    after = Q(key__gt=OuterRef("series_key")) | Q(key=OuterRef("series_key"), pk__gt=OuterRef("pk"))

    def counted(instances):
        return Subquery(instances.values("series_id").annotate(n=Count("pk")).values("n")[:1])

    return {
        "series_key": _series_key(),
        "previous_in_series": Subquery(series.filter(before).order_by("-key", "-pk").values("public_id")[:1]),
        "next_in_series": Subquery(series.filter(after).order_by("key", "pk").values("public_id")[:1]),
        "before_in_series": counted(series.filter(before)),
        "series_size": counted(series),
    }


def series_neighbours(instance, preset=FROM_THE_FILE):
    """From an instance loaded with neighbour_annotations: no query of its own."""

    def link(public_id):
        return page_link(resource_url(levels.INSTANCE, public_id), preset) if public_id else ""

    return Neighbours(
        position=(instance.before_in_series or 0) + 1,
        total=instance.series_size or 1,
        previous_url=link(instance.previous_in_series),
        next_url=link(instance.next_in_series),
    )
