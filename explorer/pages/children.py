"""What a resource page lists below it: a patient's studies, a study's series with a
thumbnail each, a series' instances for its viewer; and the latest studies of the lookup page."""

from dataclasses import dataclass

from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber

from explorer import levels, query
from explorer.models import Instance, Series
from explorer.pages.formatting import format_date
from explorer.pages.links import preview_url, resource_url, thumbnail_url
from explorer.pages.studies import STUDY_ROW_VALUES, study_rows


def latest_studies(count=10, order_by=("-last_update", "-pk")):
    """The studies that received an instance last, or in another order (the lookup page shows them)."""
    found = query.search(levels.STUDY, (), order_by=order_by, limit=count, **STUDY_ROW_VALUES)
    return study_rows(found)


def patient_studies(patient):
    """The patient's studies, newest first, with their counts."""
    mine = Q(patient=patient)
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
