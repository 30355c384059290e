"""The one search of the index: REST /tools/find, the C-FIND SCP and (soon) the explorer's
lists and QIDO-RS differ only in how they read a request and write the answers.

- explorer.matching holds the rules: a query becomes `Constraint` objects.
- `plan_for` decides where each constraint is checked at a level: in SQL on an indexed column
  or a `main_tags` key of the level or of a level above; in Python on the data set of the
  first instance of each candidate for any other tag; nowhere for a main tag of a lower
  level, which matches nothing as in Orthanc.
- `search` runs a plan: one query gives the matches, ordered and paged, with every value
  asked for (fields of the level's rows, main tags of the level and the levels above,
  elements of the first instance's stored data set, where the constraints on such tags are
  checked too); then one GROUP BY per computed key (NumberOf...Related..., ModalitiesInStudy,
  SOPClassesInStudy) over the answer set. No stored file is ever opened.
- `find` and `find_ids` are the REST flavour, where every VR ignores case unless asked
  otherwise. The C-FIND SCP builds its constraints with PN-only case-insensitivity
  (Orthanc's CaseSensitivePN=false) and calls `search`.
"""

from dataclasses import dataclass, field

from django.db.models import (
    Count,
    F,
    Func,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    prefetch_related_objects,
)
from django.db.models.fields.json import KeyTextTransform

from explorer import levels
from explorer.index import model_for
from explorer.matching import constraints_for
from explorer.models import Instance, Series, Study

# From a level to itself and each level above, nearest first: the relation path to follow.
PATHS_UP = {
    levels.PATIENT: ((levels.PATIENT, ""),),
    levels.STUDY: ((levels.STUDY, ""), (levels.PATIENT, "patient__")),
    levels.SERIES: ((levels.SERIES, ""), (levels.STUDY, "study__"), (levels.PATIENT, "study__patient__")),
    levels.INSTANCE: (
        (levels.INSTANCE, ""),
        (levels.SERIES, "series__"),
        (levels.STUDY, "series__study__"),
        (levels.PATIENT, "series__study__patient__"),
    ),
}
INDEXED_COLUMNS = {
    (levels.PATIENT, "PatientID"): "patient_id",
    (levels.PATIENT, "PatientName"): "patient_name",
    (levels.PATIENT, "PatientBirthDate"): "patient_birth_date",
    (levels.STUDY, "StudyInstanceUID"): "study_instance_uid",
    (levels.STUDY, "AccessionNumber"): "accession_number",
    (levels.STUDY, "StudyDate"): "study_date",
    (levels.STUDY, "StudyDescription"): "study_description",
    (levels.SERIES, "SeriesInstanceUID"): "series_instance_uid",
    (levels.SERIES, "Modality"): "modality",
    (levels.INSTANCE, "SOPInstanceUID"): "sop_instance_uid",
}
# Keys computed from the children of a study: the model and column holding the values, and
# the path from that model to the study.
COMPUTED_KEYS = {
    "ModalitiesInStudy": (Series, "modality", "study"),
    "SOPClassesInStudy": (Instance, "sop_class_uid", "series__study"),
}
# From each level below the patient, the study a resource belongs to.
STUDY_OF = {levels.STUDY: "pk", levels.SERIES: "study_id", levels.INSTANCE: "series__study_id"}
MATCHES_NOTHING = Q(pk__in=[])
# From each level but the instance one, the instances below a resource.
INSTANCES_OF = {levels.PATIENT: "series__study__patient", levels.STUDY: "series__study", levels.SERIES: "series"}
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
SHORT_ANSWER = 1000  # answer sets passed to later queries as their ids; longer ones as a subquery


# --- Where each constraint is checked -------------------------------------------------


def main_tag_expression(level, keyword):
    """The SQL text of a main tag of the level or of one above, seen from the level, or None."""
    owner, path = main_tag_owner(level, keyword)
    if owner is None:
        return None
    column = INDEXED_COLUMNS.get((owner, keyword))
    if column:
        return F(path + column)
    return KeyTextTransform(keyword, f"{path}main_tags")


def is_main_tag_anywhere(keyword):
    return any(keyword in level.main_tags for level in levels.LEVELS)


def computed_key_condition(level, constraint):
    """ModalitiesInStudy, SOPClassesInStudy: the resource's study (for a patient: one of its
    studies) has a series, an instance, whose value matches."""
    model, column, study = COMPUTED_KEYS[constraint.keyword]
    if level is levels.PATIENT:
        resource_field, linked = "pk", f"{study}__patient_id"
    else:
        resource_field, linked = STUDY_OF[level], f"{study}_id"
    holding = model.objects.filter(constraint.condition(F(column))).values(linked)
    return Q(**{f"{resource_field}__in": holding})


@dataclass(frozen=True)
class Plan:
    """A query at a level: a condition for SQL, and constraints left for the data sets."""

    level: levels.Level
    condition: Q
    in_dataset: tuple


def plan_for(level, constraints):
    """Where each constraint is checked at this level (see the module's docstring)."""
    condition, in_dataset = Q(), []
    for constraint in constraints:
        if constraint.keyword in COMPUTED_KEYS:
            condition &= computed_key_condition(level, constraint)
            continue
        expression = main_tag_expression(level, constraint.keyword) if constraint.keyword else None
        if expression is not None:
            condition &= constraint.condition(expression)
        elif constraint.keyword and is_main_tag_anywhere(constraint.keyword):
            # A main tag of a lower level: Orthanc matches nothing ({"Modality": "CT"} at Study level).
            condition &= MATCHES_NOTHING
        else:
            in_dataset.append(constraint)
    return Plan(level, condition, tuple(in_dataset))


# --- Data set elements ------------------------------------------------------------------


class DataSetElement(Func):
    """One element of an instance's data set, as JSON: `dataset -> 'ggggeeee'`.

    Not Django's KeyTransform, which takes a key made of digits only ("00180060") for an
    array index.
    """

    output_field = JSONField()

    def __init__(self, key, data_set="dataset"):
        super().__init__(data_set)
        self.key = key

    def as_sql(self, compiler, connection, **extra_context):
        data_set, params = compiler.compile(self.source_expressions[0])
        return f"JSON_EXTRACT({data_set}, %s)", (*params, f'$."{self.key}"')

    def as_postgresql(self, compiler, connection, **extra_context):
        data_set, params = compiler.compile(self.source_expressions[0])
        return f"({data_set} -> %s::text)", (*params, self.key)


def first_instance_element(level, key):
    """The DICOM JSON element `key` of the resource's first instance (by primary key)."""
    element = DataSetElement(key)
    if level is levels.INSTANCE:
        return element
    first = Instance.objects.filter(**{INSTANCES_OF[level]: OuterRef("pk")}).order_by("pk")
    return Subquery(first.values(element=element)[:1], output_field=JSONField())


def element_text(element):
    from explorer.tags import value_text  # written alongside; imported late on purpose

    return value_text(element) if isinstance(element, dict) else None


def matches_in_dataset(constraints, elements):
    return all(constraint.matches(element_text(element)) for constraint, element in zip(constraints, elements))


# --- The search -----------------------------------------------------------------------


@dataclass
class SearchResult:
    """What `search` gives.

    `rows` are tuples (pk, *fields, *main tag texts, *data set elements), in the order the
    search named them (`columns`: name -> position; a main tag's text is None when the
    resource lacks it, an element is its DICOM JSON, None when the first instance lacks it).
    `computed` holds {keyword: {pk: text}} for the computed keys. `truncated` says that
    more matches follow the last row; `total` is the number of matches without paging,
    when asked for. `answer_set` is what later queries take for "the rows' primary keys".
    """

    rows: list
    truncated: bool
    columns: dict
    computed: dict = field(default_factory=dict)
    total: int | None = None
    answer_set: object = ()

    def __len__(self):
        return len(self.rows)

    def pks(self):
        return [row[0] for row in self.rows]

    def values(self, name):
        """One column of every row."""
        position = self.columns[name]
        return [row[position] for row in self.rows]


def search(
    level,
    constraints,
    *,
    fields=(),
    main_tags=(),
    elements=(),
    computed=(),
    order_by=("pk",),
    limit=None,
    since=0,
    count_total=False,
    scope=None,
):
    """The resources of a level matching every constraint, with the values asked for.

    - fields: model fields of the level, or reached through its parents ("public_id",
      "patient__public_id"), read as they are.
    - main_tags: keywords of main tags of the level or of a level above, as texts.
    - elements: DICOM JSON keys ("00180060") of the first instance's data set.
    - computed: keys computed at this level (see `computed_at`).
    - order_by: Django orderings (the primary key ends any other, for stable pages).
    - limit (None or 0: all) and since: the page; `truncated` says whether more follow.
    - count_total: also count every match (one COUNT query unless the page tells it).
    - scope: a Q narrowing the resources before matching (the explorer's "studies of this
      patient"), for what no DICOM query says exactly.

    One query for the rows, whatever the constraints; one GROUP BY per computed key.
    """
    plan = plan_for(level, constraints)
    since = max(since or 0, 0)
    fields, main_tags, elements = (tuple(dict.fromkeys(names)) for names in (fields, main_tags, elements))
    ordering = tuple(order_by) if "pk" in order_by else (*order_by, "pk")
    matching = model_for(level).objects.filter(plan.condition)
    if scope is not None:
        matching = matching.filter(scope)
    matching = matching.order_by(*ordering)
    # The texts are taken out of the JSON by the database: decoding whole main tag
    # dictionaries took longer than the query itself.
    texts = {f"main_tag_{n}": main_tag_text(level, keyword) for n, keyword in enumerate(main_tags)}
    aliases = {key: f"element_{n}" for n, key in enumerate(elements)}
    for constraint in plan.in_dataset:
        aliases.setdefault(constraint.dataset_key, f"element_{len(aliases)}")
    shown = ["pk", *fields, *texts, *(aliases[key] for key in elements)]
    checked_only = [alias for alias in aliases.values() if alias not in shown]
    annotations = {**texts, **{alias: first_instance_element(level, key) for key, alias in aliases.items()}}
    rows = matching.annotate(**annotations).values_list(*shown, *checked_only)
    wanted = limit + 1 if limit else None  # one more than the page tells whether more follow
    total = None
    if plan.in_dataset:
        checked = [(shown + checked_only).index(aliases[c.dataset_key]) for c in plan.in_dataset]
        rows, total = matched_in_datasets(plan, rows, checked, len(shown), since, wanted, count_total)
    else:
        rows = list(rows[since : since + wanted] if wanted else rows[since:])
    truncated = bool(limit) and len(rows) > limit
    if truncated:
        del rows[limit:]
    if count_total and total is None:
        told = not truncated and (rows or not since)  # the page reaches the end
        total = since + len(rows) if told else matching.count()
    columns = {name: position for position, name in enumerate(("pk", *fields, *main_tags, *elements))}
    found = SearchResult(rows, truncated, columns)
    found.answer_set = answer_set(plan, matching, found, limit, since)
    found.computed = computed_values(level, computed, found.answer_set)
    found.total = total
    return found


def count(level, constraints):
    """How many resources of a level match: one COUNT when SQL decides alone."""
    plan = plan_for(level, constraints)
    if plan.in_dataset:
        return search(level, constraints, count_total=True).total
    return model_for(level).objects.filter(plan.condition).count()


def main_tag_text(level, keyword):
    """The text of a main tag of the level or of one above, seen from the level."""
    path = main_tag_path(level, keyword)
    if path is None:
        raise ValueError(f"{keyword} is no main tag of the {level.name} level or of one above")
    return KeyTextTransform(keyword, f"{path}main_tags")


def main_tag_owner(level, keyword):
    """(The nearest level, this one or above, keeping the main tag; the relation path to it),
    or (None, None)."""
    for owner, path in PATHS_UP[level]:
        if keyword in owner.main_tags:
            return owner, path
    return None, None


def main_tag_path(level, keyword):
    """The relation path to the nearest level (this one or above) keeping the main tag, or None."""
    return main_tag_owner(level, keyword)[1]


def matched_in_datasets(plan, rows, checked, width, since, wanted, count_all):
    """The rows whose first instance matches the data set constraints (the elements at
    `checked`), cut to `width`, `since` matches skipped, at most `wanted` kept; and the
    number of matches when `count_all` (else None). The rows are read in chunks and the
    reading stops once the page is full, unless everything is counted."""
    found, matched = [], 0
    for row in rows.iterator(chunk_size=2000):
        if not matches_in_dataset(plan.in_dataset, [row[index] for index in checked]):
            continue
        matched += 1
        if matched <= since or (wanted is not None and len(found) >= wanted):
            continue  # before the page, or after it while counting
        found.append(row[:width])
        if not count_all and len(found) == wanted:
            break
    return found, matched if count_all else None


def answer_set(plan, matching, found, limit, since):
    """The rows' primary keys for later queries: the list when it is short or when SQL alone
    did not find them, else the matching query itself (a long list of ids costs more to send
    than to recompute)."""
    if plan.in_dataset or len(found.rows) <= SHORT_ANSWER:
        return found.pks()
    pks = matching.values("pk")
    return pks[since : since + limit] if limit else pks[since:]


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


# --- The REST flavour -------------------------------------------------------------------


class Matches(list):
    """The matching resources. A list that also answers select_related(), as the REST
    handler calls it on the result to load parents: here in one query per relation."""

    def select_related(self, *fields):
        if fields:
            prefetch_related_objects(self, *fields)
        return self


def resources_of(level, found):
    """The model objects of a search's rows, in the rows' order. An instance's data set is
    left in the database: it is large and no answer shows it."""
    queryset = model_for(level).objects.all()
    if level is levels.INSTANCE:
        queryset = queryset.defer("dataset")
    by_pk = {}
    for condition in among("pk", found.answer_set):
        by_pk.update((resource.pk, resource) for resource in queryset.filter(**condition))
    return Matches(by_pk[pk] for pk in found.pks() if pk in by_pk)


def rest_constraints(level, query, case_sensitive):
    """REST /tools/find: every VR ignores case unless case_sensitive."""
    return constraints_for(level, query, case_insensitive_vr=lambda vr: not case_sensitive)


def find(level, query, case_sensitive=False, limit=None, since=0):
    """REST /tools/find: the matching resources (model objects), by primary key."""
    found = search(level, rest_constraints(level, query, case_sensitive), limit=limit, since=since)
    return resources_of(level, found)


def find_ids(level, query, case_sensitive=False, limit=None, since=0):
    """REST /tools/find without Expand: the public ids alone, the same as find() gives."""
    constraints = rest_constraints(level, query, case_sensitive)
    return search(level, constraints, fields=("public_id",), limit=limit, since=since).values("public_id")
