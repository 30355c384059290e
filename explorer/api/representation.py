"""Resources as Orthanc shows them (GET /{level}/{id}), built for many at once in a few queries."""

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from pydicom.datadict import tag_for_keyword

from explorer import levels
from explorer.api.base import flag, timestamp
from explorer.index import model_for
from explorer.models import Instance, Series, Study
from explorer.series_status import expected_instances, series_status

CHUNK = 5000  # ids per IN (…) clause: SQLite limits the number of parameters


def short_key(keyword):
    tag = tag_for_keyword(keyword)
    return f"{tag >> 16:04x},{tag & 0xFFFF:04x}" if tag is not None else keyword


# How main tags are written: by keyword (Orthanc's default), by tag (?short), or by tag with
# name and type (?full).
KEYWORDS, SHORT, FULL = "keywords", "short", "full"


def tag_format(short=False, full=False):
    """The format of ?short and ?full (or /tools/find's Short and Full): short wins, as in Orthanc."""
    if short:
        return SHORT
    return FULL if full else KEYWORDS


def request_tag_format(request):
    """The format of main tags a request asks for with ?short and ?full."""
    return tag_format(short=flag(request, "short"), full=flag(request, "full"))


def tags_out(tags, short):
    """Main tags in a format: `short` is a format or, as before formats, a bool for SHORT."""
    form = short if isinstance(short, str) else tag_format(short=short)
    if form == SHORT:
        return {short_key(k): v for k, v in tags.items()}
    if form == FULL:
        # Main tags are texts: their type is always String (a too long one is no main tag).
        return {short_key(k): {"Name": k, "Type": "String", "Value": v} for k, v in tags.items()}
    return dict(tags)


def _chunks(values):
    values = list(values)
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _children_ids(child_model, parent_field, parent_pks):
    children = defaultdict(list)
    for chunk in _chunks(parent_pks):
        rows = (
            child_model.objects.filter(**{f"{parent_field}_id__in": chunk})
            .order_by("id")
            .values_list(f"{parent_field}_id", "public_id")
        )
        for parent_pk, public_id in rows:
            children[parent_pk].append(public_id)
    return children


LINKS = ("modified_from", "anonymized_from")
ROW_FIELDS = {
    levels.PATIENT: ("id", "public_id", "main_tags", "last_update", *LINKS),
    levels.STUDY: ("id", "public_id", "main_tags", "last_update", "patient__public_id", "patient_main_tags", *LINKS),
    levels.SERIES: ("id", "public_id", "main_tags", "last_update", "study__public_id", *LINKS),
    levels.INSTANCE: (
        "id",
        "public_id",
        "main_tags",
        "file_size",
        "file_uuid",
        "index_in_series",
        "series__public_id",
        *LINKS,
    ),
}


def _add_links(rows, answers):
    # Orthanc adds ModifiedFrom / AnonymizedFrom at the top level when the metadata exists.
    for row, answer in zip(rows, answers):
        if row["modified_from"]:
            answer["ModifiedFrom"] = row["modified_from"]
        if row["anonymized_from"]:
            answer["AnonymizedFrom"] = row["anonymized_from"]
    return answers


def _rows(level, resources):
    """Plain dicts of the fields the answer needs: a queryset is read with .values(),
    which skips building model objects (most of the cost of a long listing)."""
    fields = ROW_FIELDS[level]
    if isinstance(resources, QuerySet):
        return list(resources.values(*fields))
    rows = []
    for resource in resources:
        row = {}
        for field in fields:
            value = resource
            for part in field.split("__"):
                value = getattr(value, part)
            row[field] = value
        rows.append(row)
    return rows


def describe_many(level, resources, short=False):
    """Orthanc's JSON for each resource (a queryset or a list of model objects of one level);
    `short`: the format of main tags (tag_format), or True for SHORT."""
    rows = _rows(level, resources)
    pks = [row["id"] for row in rows]
    if level is levels.INSTANCE:
        return _add_links(
            rows,
            [
                {
                    "FileSize": row["file_size"],
                    "FileUuid": str(row["file_uuid"]),
                    "ID": row["public_id"],
                    "IndexInSeries": row["index_in_series"],
                    "MainDicomTags": tags_out(row["main_tags"], short),
                    "ParentSeries": row["series__public_id"],
                    "Type": "Instance",
                }
                for row in rows
            ],
        )
    stable_before = timezone.now() - timedelta(seconds=settings.PHAROS_STABLE_AGE)
    out = [
        {
            "ID": row["public_id"],
            "IsStable": row["last_update"] <= stable_before,
            "LastUpdate": timestamp(row["last_update"]),
            "MainDicomTags": tags_out(row["main_tags"], short),
            "Type": level.name,
        }
        for row in rows
    ]
    if level is levels.PATIENT:
        studies = _children_ids(Study, "patient", pks)
        for row, answer in zip(rows, out):
            answer["Studies"] = studies[row["id"]]
    elif level is levels.STUDY:
        series = _children_ids(Series, "study", pks)
        for row, answer in zip(rows, out):
            answer["ParentPatient"] = row["patient__public_id"]
            # The patient's tags as this study received them, as Orthanc answers them.
            answer["PatientMainDicomTags"] = tags_out(row["patient_main_tags"], short)
            answer["Series"] = series[row["id"]]
    else:
        instances = _children_ids(Instance, "series", pks)
        expected = {row["id"]: expected_instances(row["main_tags"]) for row in rows}
        indexes = _indexes_in_series([pk for pk, n in expected.items() if n is not None])
        for row, answer in zip(rows, out):
            answer["ExpectedNumberOfInstances"] = expected[row["id"]]
            answer["Instances"] = instances[row["id"]]
            answer["ParentStudy"] = row["study__public_id"]
            answer["Status"] = series_status(expected[row["id"]], indexes[row["id"]])
    return _add_links(rows, out)


def _indexes_in_series(series_pks):
    indexes = defaultdict(list)
    for chunk in _chunks(series_pks):
        rows = Instance.objects.filter(series_id__in=chunk).values_list("series_id", "index_in_series")
        for series_pk, index in rows:
            indexes[series_pk].append(index)
    return indexes


def with_parents(level, queryset):
    """select_related the parent needed by describe_many."""
    related = {
        levels.STUDY: ("patient",),
        levels.SERIES: ("study",),
        levels.INSTANCE: ("series",),
    }.get(level, ())
    return queryset.select_related(*related)


def describe(level, resource, short=False):
    return describe_many(level, [resource], short)[0]


def queryset_for(level):
    return with_parents(level, model_for(level).objects.all())
