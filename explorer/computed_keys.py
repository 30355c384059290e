"""The keys of C-FIND and /tools/find computed from the children of a resource
(NumberOf...Related..., ModalitiesInStudy, SOPClassesInStudy), over the answer set of a
search: one GROUP BY per key, never a query per answer. explorer.query runs the search.
"""

from django.db.models import Count

from explorer import levels
from explorer.models import Instance, Series, Study

# Keys computed from the children of a study: the model and column holding the values, and
# the path from that model to the study.
COMPUTED_KEYS = {
    "ModalitiesInStudy": (Series, "modality", "study"),
    "SOPClassesInStudy": (Instance, "sop_class_uid", "series__study"),
}
# Counted children, by key: the level it belongs to, the model counted and its path to it.
COUNTED_KEYS = {
    "NumberOfPatientRelatedStudies": (levels.PATIENT, Study, "patient_id"),
    "NumberOfPatientRelatedSeries": (levels.PATIENT, Series, "study__patient_id"),
    "NumberOfPatientRelatedInstances": (levels.PATIENT, Instance, "series__study__patient_id"),
    "NumberOfStudyRelatedSeries": (levels.STUDY, Series, "study_id"),
    "NumberOfStudyRelatedInstances": (levels.STUDY, Instance, "series__study_id"),
    "NumberOfSeriesRelatedInstances": (levels.SERIES, Instance, "series_id"),
}
# Distinct values of the children of a study (ModalitiesInStudy, SOPClassesInStudy): the
# level, the model, its path to the study and the column collected.
COLLECTED_KEYS = {
    keyword: (levels.STUDY, model, f"{study}_id", column) for keyword, (model, column, study) in COMPUTED_KEYS.items()
}
CHUNK = 5000  # ids per IN (...) clause: SQLite limits the number of parameters


def among(column, answer_set):
    """Filters keeping the rows whose `column` is in the answer set, an IN (...) per chunk
    of a list of ids."""
    if not isinstance(answer_set, list):
        yield {f"{column}__in": answer_set}
        return
    for start in range(0, len(answer_set), CHUNK):
        yield {f"{column}__in": answer_set[start : start + CHUNK]}


# --- Computed keys ----------------------------------------------------------------------


def computed_at(keyword):
    """The level whose resources have this computed key, or None when it is none."""
    known = COUNTED_KEYS.get(keyword) or COLLECTED_KEYS.get(keyword)
    return known[0] if known else None


class ByAnswer(dict):
    """Computed texts by primary key, and the text of an answer the queries did not see."""

    def __init__(self, texts, missing):
        super().__init__(texts)
        self.missing = missing

    def __missing__(self, pk):
        return self.missing


# Study keys read from its series: one GROUP BY by study and modality answers them all.
SERIES_OF_STUDY_KEYS = ("ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances")


def computed_values(level, keywords, answer_set):
    """{keyword: {pk: text}} for computed keys of the level over an answer set: one GROUP
    BY per key (and chunk of a list of ids), never a query per answer; one for all the
    study keys read from its series when more than one of them is asked."""
    keywords = list(dict.fromkeys(keywords))
    for keyword in keywords:
        if computed_at(keyword) is not level:
            raise ValueError(f"{keyword} is not computed at the {level.name} level")
    values = {}
    if sum(keyword in SERIES_OF_STUDY_KEYS for keyword in keywords) > 1:
        values.update(series_of_study_values(answer_set))
    for keyword in keywords:
        if keyword in values:
            continue
        if keyword in COUNTED_KEYS:
            values[keyword] = counts(*COUNTED_KEYS[keyword][1:], answer_set)
        else:
            values[keyword] = distinct_values(*COLLECTED_KEYS[keyword][1:], answer_set)
    return {keyword: values[keyword] for keyword in keywords}


def series_of_study_values(answer_set):
    """ModalitiesInStudy, NumberOfStudyRelatedSeries and NumberOfStudyRelatedInstances of
    the studies of an answer set, from one query grouped by study and modality."""
    modalities, series, instances = {}, {}, {}
    for condition in among("study_id", answer_set):
        grouped = (
            Series.objects.filter(**condition)
            .values("study_id", "modality")
            .annotate(series=Count("pk", distinct=True), instances=Count("instances"))
            .order_by()
        )
        for row in grouped:
            study = row["study_id"]
            if row["modality"]:
                modalities.setdefault(study, set()).add(row["modality"])
            series[study] = series.get(study, 0) + row["series"]
            instances[study] = instances.get(study, 0) + row["instances"]
    return {
        "ModalitiesInStudy": ByAnswer({pk: "\\".join(sorted(found)) for pk, found in modalities.items()}, ""),
        "NumberOfStudyRelatedSeries": ByAnswer({pk: str(n) for pk, n in series.items()}, "0"),
        "NumberOfStudyRelatedInstances": ByAnswer({pk: str(n) for pk, n in instances.items()}, "0"),
    }


def counts(model, group, answer_set):
    found = {}
    for condition in among(group, answer_set):
        rows = model.objects.filter(**condition).values(group).annotate(n=Count("pk")).order_by()
        found.update((row[group], str(row["n"])) for row in rows)
    return ByAnswer(found, "0")


def distinct_values(model, group, column, answer_set):
    collected = {}
    for condition in among(group, answer_set):
        pairs = model.objects.filter(**condition).values_list(group, column).distinct().order_by()
        for pk, value in pairs:
            if value:
                collected.setdefault(pk, set()).add(value)
    return ByAnswer({pk: "\\".join(sorted(found)) for pk, found in collected.items()}, "")
