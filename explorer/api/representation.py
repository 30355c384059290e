"""Resources as Orthanc shows them (GET /{level}/{id}), built for many at once in a few queries."""

from collections import defaultdict

from pydicom.datadict import tag_for_keyword

from explorer import levels
from explorer.api.base import timestamp
from explorer.index import model_for
from explorer.models import Instance, Series, Study

CHUNK = 5000  # ids per IN (…) clause: SQLite limits the number of parameters


def short_key(keyword):
    tag = tag_for_keyword(keyword)
    return f"{tag >> 16:04x},{tag & 0xFFFF:04x}" if tag is not None else keyword


def tags_out(tags, short):
    return {short_key(k): v for k, v in tags.items()} if short else dict(tags)


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


EXPECTED_FROM = (
    ("ImagesInAcquisition", "NumberOfTemporalPositions"),
    ("NumberOfSlices", "NumberOfTimeSlices"),
    ("CardiacNumberOfImages",),
)


def expected_instances(series_tags):
    """Orthanc's ExpectedNumberOfInstances, from the series' main tags, or None."""
    for keywords in EXPECTED_FROM:
        if all(series_tags.get(k) for k in keywords):
            try:
                product = 1
                for keyword in keywords:
                    product *= int(series_tags[keyword])
            except ValueError:
                return None
            return product if product > 0 else None
    return None


def series_status(expected, indexes):
    if expected is None:
        return "Unknown"
    seen = set()
    for index in indexes:
        if index is None or not 1 <= index <= expected or index in seen:
            return "Inconsistent"
        seen.add(index)
    return "Complete" if len(seen) == expected else "Missing"


def describe_many(level, resources, short=False):
    """Orthanc's JSON for each resource (a list of model objects of one level)."""
    resources = list(resources)
    pks = [r.pk for r in resources]
    out = []
    if level is levels.PATIENT:
        studies = _children_ids(Study, "patient", pks)
        for p in resources:
            out.append(_common(p, level, short) | {"Studies": studies[p.pk]})
    elif level is levels.STUDY:
        series = _children_ids(Series, "study", pks)
        for s in resources:
            out.append(
                _common(s, level, short)
                | {
                    "ParentPatient": s.patient.public_id,
                    "PatientMainDicomTags": tags_out(s.patient.main_tags, short),
                    "Series": series[s.pk],
                }
            )
    elif level is levels.SERIES:
        instances = _children_ids(Instance, "series", pks)
        expected = {s.pk: expected_instances(s.main_tags) for s in resources}
        indexes = defaultdict(list)
        counted = [pk for pk, n in expected.items() if n is not None]
        for chunk in _chunks(counted):
            for series_pk, index in Instance.objects.filter(series_id__in=chunk).values_list(
                "series_id", "index_in_series"
            ):
                indexes[series_pk].append(index)
        for s in resources:
            out.append(
                _common(s, level, short)
                | {
                    "ExpectedNumberOfInstances": expected[s.pk],
                    "Instances": instances[s.pk],
                    "ParentStudy": s.study.public_id,
                    "Status": series_status(expected[s.pk], indexes[s.pk]),
                }
            )
    else:
        for i in resources:
            out.append(
                {
                    "FileSize": i.file_size,
                    "FileUuid": str(i.file_uuid),
                    "ID": i.public_id,
                    "IndexInSeries": i.index_in_series,
                    "MainDicomTags": tags_out(i.main_tags, short),
                    "ParentSeries": i.series.public_id,
                    "Type": "Instance",
                }
            )
    return out


def _common(resource, level, short):
    return {
        "ID": resource.public_id,
        "IsStable": resource.is_stable,
        "LastUpdate": timestamp(resource.last_update),
        "MainDicomTags": tags_out(resource.main_tags, short),
        "Type": level.name,
    }


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
