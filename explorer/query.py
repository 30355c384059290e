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
  SOPClassesInStudy) over the answer set (explorer.computed_keys). No stored file is ever opened.
- `find` and `find_ids` are the REST flavour, where every VR ignores case unless asked
  otherwise. The C-FIND SCP builds its constraints with PN-only case-insensitivity
  (Orthanc's CaseSensitivePN=false) and calls `search`.
"""

from dataclasses import dataclass, field

from django.db.models import (
    F,
    Func,
    JSONField,
    Min,
    OuterRef,
    Q,
    Subquery,
    prefetch_related_objects,
)
from django.db.models.fields.json import KeyTextTransform

from explorer import levels

# computed_at is asked through this module by C-FIND, with the search.
from explorer.computed_keys import COMPUTED_KEYS, among, computed_at, computed_values  # noqa: F401
from explorer.index import model_for
from explorer.matching import constraints_for
from explorer.models import Instance

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


@dataclass(frozen=True)
class TagSource:
    """Where a level reads the main tags of one level (itself or one above): the JSON field
    holding them and the indexed columns, as paths from the level."""

    owner: levels.Level
    json_field: str
    columns: dict


def _source(owner, path):
    columns = {keyword: path + column for (level, keyword), column in INDEXED_COLUMNS.items() if level is owner}
    return TagSource(owner, f"{path}main_tags", columns)


def _study_copy(path):
    """The patient's tags as the study at `path` keeps them (its PatientID is the patient's)."""
    columns = {"PatientID": f"{path}patient__patient_id", "PatientName": f"{path}patient_name"}
    return TagSource(levels.PATIENT, f"{path}patient_main_tags", columns)


# From a level to itself and each level above, nearest first. Below the patient level, the
# patient's tags are read from the study's copy, as Orthanc does: each study (and its series
# and instances) is found by the patient tags it was received with.
TAG_SOURCES = {
    levels.PATIENT: (_source(levels.PATIENT, ""),),
    levels.STUDY: (_source(levels.STUDY, ""), _study_copy("")),
    levels.SERIES: (_source(levels.SERIES, ""), _source(levels.STUDY, "study__"), _study_copy("study__")),
    levels.INSTANCE: (
        _source(levels.INSTANCE, ""),
        _source(levels.SERIES, "series__"),
        _source(levels.STUDY, "series__study__"),
        _study_copy("series__study__"),
    ),
}
# From each level below the patient, the study a resource belongs to.
STUDY_OF = {levels.STUDY: "pk", levels.SERIES: "study_id", levels.INSTANCE: "series__study_id"}
MATCHES_NOTHING = Q(pk__in=[])
# From each level but the instance one, the instances below a resource.
INSTANCES_OF = {levels.PATIENT: "series__study__patient", levels.STUDY: "series__study", levels.SERIES: "series"}
# From an instance, the primary key of the resource above it at each level.
OWNER_OF_INSTANCE = {
    levels.PATIENT: "series__study__patient_id",
    levels.STUDY: "series__study_id",
    levels.SERIES: "series_id",
    levels.INSTANCE: "pk",
}
SHORT_ANSWER = 1000  # answer sets passed to later queries as their ids; longer ones as a subquery


# --- Where each constraint is checked -------------------------------------------------


def main_tag_expression(level, keyword, column=True):
    """The SQL text of a main tag of the level or of one above, seen from the level, or None:
    its indexed column when it has one and `column` (a column holds "" for an absent tag),
    else its key in the JSON of main tags (NULL when absent)."""
    source = main_tag_source(level, keyword)
    if source is None:
        return None
    if column and keyword in source.columns:
        return F(source.columns[keyword])
    return KeyTextTransform(keyword, source.json_field)


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
        expression = (
            main_tag_expression(level, constraint.keyword, column=not constraint.needs_presence)
            if constraint.keyword
            else None
        )
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


def first_instance_elements(level, answer_set, keys):
    """{pk: {key: DICOM JSON element}} of the first instance (by primary key) of each resource
    of a search's answer set (an instance's own at the instance level), for the DICOM JSON keys
    asked ("00080201"); an element the instance lacks is left out. One GROUP BY finds the
    first instances and one query reads their elements, whatever the number of answers: a
    subquery per answer row (first_instance_element) costs a lookup per row, which showed at
    thousands of studies."""
    keys = tuple(dict.fromkeys(keys))
    if not keys:
        return {}
    owner = OWNER_OF_INSTANCE[level]
    if level is levels.INSTANCE:
        firsts = None
    else:
        firsts = {}
        for condition in among(owner, answer_set):
            grouped = Instance.objects.filter(**condition).values(owner).annotate(first=Min("pk")).order_by()
            firsts.update((row["first"], row[owner]) for row in grouped)
    aliases = {f"element_{n}": DataSetElement(key) for n, key in enumerate(keys)}
    found = {}
    for condition in among("pk", answer_set if firsts is None else list(firsts)):
        rows = Instance.objects.filter(**condition).annotate(**aliases).values_list("pk", *aliases)
        for pk, *elements in rows:
            owner_pk = pk if firsts is None else firsts[pk]
            found[owner_pk] = {key: element for key, element in zip(keys, elements) if element is not None}
    return found


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
    source = main_tag_source(level, keyword)
    if source is None:
        raise ValueError(f"{keyword} is no main tag of the {level.name} level or of one above")
    return KeyTextTransform(keyword, source.json_field)


def main_tag_source(level, keyword):
    """The TagSource of the nearest level (this one or above) keeping the main tag, or None."""
    for source in TAG_SOURCES[level]:
        if keyword in source.owner.main_tags:
            return source
    return None


def main_tag_path(level, keyword):
    """The path to the JSON of main tags holding the keyword, seen from the level, or None."""
    source = main_tag_source(level, keyword)
    return source.json_field if source is not None else None


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
