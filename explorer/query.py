"""Matching of DICOM queries against the index, for REST /tools/find and the C-FIND SCP.

A query maps tags to DICOM matching strings (PS3.4 C.2.2.2). The work is split in three:

- `constraints_for` turns a query into `Constraint` objects that hold the matching rules
  alone (single value, wildcard, range, list; which VRs ignore case). A constraint matches
  a text in Python (`matches`) and makes a Django condition on a text expression
  (`condition`), so both sides always agree.
- `plan_for` decides where each constraint is checked at a level: in SQL on an indexed column
  or a `main_tags` key of the level or of a level above; in Python on the data set of the
  first instance of each candidate for any other tag; nowhere for a main tag of a lower
  level, which matches nothing as in Orthanc.
- `find_matching` runs a plan with paging and gives model objects; `find_matching_ids` gives
  public ids alone, much cheaper for long answers. `find` and `find_ids` are the REST
  flavour, where every VR ignores case unless asked otherwise. The C-FIND SCP calls
  `constraints_for` with PN-only case-insensitivity (Orthanc's CaseSensitivePN=false) and
  then `find_matching`.
"""

import re
from dataclasses import dataclass

from django.db.models import (
    F,
    Func,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    TextField,
    Value,
    lookups,
    prefetch_related_objects,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Replace
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

from explorer import levels
from explorer.errors import ParameterOutOfRange, UnknownDicomTag
from explorer.index import model_for
from explorer.models import Instance, Series

# PS3.4 C.2.2.2.4: the VRs where '*' and '?' are wildcards; elsewhere they are plain characters.
WILDCARD_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
RANGE_VRS = frozenset({"DA", "TM", "DT"})
# Stored data sets keep these as JSON numbers, their spelling lost ("120" reads back "120.0"):
# read from a data set, they compare as numbers.
NUMBER_VRS = frozenset({"DS", "IS", "FL", "FD", "SL", "SS", "SV", "UL", "US", "UV"})
# Times and date-times come with any precision ("07", "0730", "073000.123"): a bound and a
# value are compared on their common length, so "080000" as an upper bound keeps "080000.5".
PREFIX_RANGE_VRS = frozenset({"TM", "DT"})
# Keys that only shape a C-FIND answer, or that the index does not hold: never a constraint.
IGNORED_KEYWORDS = frozenset(
    {
        "QueryRetrieveLevel",
        "SpecificCharacterSet",
        "RetrieveAETitle",
        "NumberOfPatientRelatedStudies",
        "NumberOfPatientRelatedSeries",
        "NumberOfPatientRelatedInstances",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
        "NumberOfSeriesRelatedInstances",
    }
)

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

_HEX_TAG = re.compile(r"^([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})$")


# --- Tags -------------------------------------------------------------------------------


def tag_of(name):
    """The tag (an int) of a keyword or of 'gggg,eeee' / 'ggggeeee'. Raises UnknownDicomTag."""
    text = name.strip()
    match = _HEX_TAG.match(text)
    if match:
        return int(match.group(1) + match.group(2), 16)
    tag = tag_for_keyword(text)
    if tag is None:
        raise UnknownDicomTag(f"Unknown DICOM tag: {name}")
    return tag


def orthanc_tag(tag):
    return f"{tag >> 16:04x},{tag & 0xFFFF:04x}"


def vr_of(tag):
    """The dictionary VR; 'UN' for private and unknown tags, which then match exactly."""
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


# --- Terms: one value of a matching string --------------------------------------------


@dataclass(frozen=True)
class Single:
    """Single value matching: the whole value is equal."""

    value: str
    kind = "single"

    def matches(self, text, ignore_case):
        if ignore_case:
            return text.casefold() == self.value.casefold()
        return text == self.value

    def condition(self, expression, ignore_case):
        return Q((lookups.IExact if ignore_case else lookups.Exact)(expression, self.value))


@dataclass(frozen=True)
class Number(Single):
    """Single value matching of a number: "120" matches "120.0" in Python. SQL compares the
    text, as main tags keep the file's own spelling."""

    def matches(self, text, ignore_case):
        try:
            return float(text) == float(self.value)
        except ValueError:
            return super().matches(text, ignore_case)


@dataclass(frozen=True)
class Wildcard:
    """'*' for any run of characters, '?' for one, the rest literal; anchored at both ends."""

    pattern: str
    kind = "wildcard"

    @property
    def regex(self):
        parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in self.pattern)
        # (?s) and \Z mean the same in Python (SQLite's REGEXP) and PostgreSQL.
        return "(?s)^" + "".join(parts) + r"\Z"

    def matches(self, text, ignore_case):
        return re.search(self.regex, text, re.IGNORECASE if ignore_case else 0) is not None

    def condition(self, expression, ignore_case):
        if ignore_case:
            cheaper = self._like_lookup(expression)
            if cheaper is not None:
                return Q(cheaper)
            return Q(lookups.IRegex(expression, self.regex))
        # Not LIKE: SQLite's LIKE ignores case whatever the lookup says.
        return Q(lookups.Regex(expression, self.regex))

    def _like_lookup(self, expression):
        """'abc*', '*abc*' and '*abc' as case-insensitive LIKE lookups, or None."""
        core = self.pattern.strip("*")
        if not core or "*" in core or "?" in core:
            return None
        starts, ends = self.pattern.startswith("*"), self.pattern.endswith("*")
        if starts and ends:
            return lookups.IContains(expression, core)
        if ends:
            return lookups.IStartsWith(expression, core)
        return lookups.IEndsWith(expression, core)


@dataclass(frozen=True)
class Range:
    """Range matching, inclusive; an empty bound is open. Only non-empty values match."""

    lower: str
    upper: str
    by_prefix: bool
    kind = "range"

    def matches(self, text, ignore_case):
        if not text:
            return False
        if self.lower and not self._at_least_lower(text):
            return False
        return not self.upper or self._at_most_upper(text)

    def _at_least_lower(self, text):
        if self.by_prefix:
            length = min(len(text), len(self.lower))
            return text[:length] >= self.lower[:length]
        return text >= self.lower

    def _at_most_upper(self, text):
        if self.by_prefix:
            length = min(len(text), len(self.upper))
            return text[:length] <= self.upper[:length]
        return text <= self.upper

    def condition(self, expression, ignore_case):
        condition = Q(lookups.GreaterThan(expression, ""))
        if self.lower:
            condition &= self._lower_condition(expression)
        if self.upper:
            condition &= self._upper_condition(expression)
        return condition

    def _lower_condition(self, expression):
        at_least = Q(lookups.GreaterThanOrEqual(expression, self.lower))
        if not self.by_prefix or len(self.lower) < 2:
            return at_least
        # A value shorter than the bound compares on its own length: it passes when it is a
        # prefix of the bound (then value[:n] == bound[:n]), which ">=" alone misses.
        prefixes = [self.lower[:n] for n in range(1, len(self.lower))]
        return at_least | Q(lookups.In(expression, prefixes))

    def _upper_condition(self, expression):
        at_most = Q(lookups.LessThanOrEqual(expression, self.upper))
        if not self.by_prefix:
            return at_most
        # A value longer than the bound compares on the bound's length: it passes when the
        # bound is its prefix, which "<=" alone misses.
        return at_most | Q(lookups.StartsWith(expression, self.upper))


# --- Constraints ----------------------------------------------------------------------


@dataclass(frozen=True)
class Constraint:
    """One key of a query: its terms are ORed (list matching when more than one)."""

    tag: int
    keyword: str | None
    vr: str
    terms: tuple
    ignore_case: bool

    @property
    def kind(self):
        """'single', 'wildcard', 'range' or 'list'."""
        return "list" if len(self.terms) > 1 else self.terms[0].kind

    @property
    def dataset_key(self):
        """The key of this tag in DICOM JSON."""
        return f"{self.tag:08X}"

    def matches(self, text):
        """Whether a value, in Orthanc's string form, matches; None (absent) never does."""
        if text is None:
            return False
        text = normalised_text(self.vr, text)
        return any(term.matches(text, self.ignore_case) for term in self.terms)

    def condition(self, expression):
        """A Q matching the rows whose text expression (a column, a JSON key) matches."""
        expression = normalised_expression(self.vr, expression)
        condition = Q()
        for term in self.terms:
            condition |= term.condition(expression, self.ignore_case)
        return condition


def normalised_text(vr, text):
    # Old (ACR-NEMA) times are written "07:30:00".
    return text.replace(":", "") if vr == "TM" else text


def normalised_expression(vr, expression):
    if vr != "TM":
        return expression
    return Replace(expression, Value(":"), Value(""), output_field=TextField())


def constraints_for(level, query, case_insensitive_vr=frozenset()):
    """The constraints of a query {tag name: matching string} at a level.

    `case_insensitive_vr` says which VRs ignore case: a set of VR names or a callable
    vr -> bool. Empty values and `*` are universal matching (no constraint); ignored keys
    and the level only shape answers. Raises UnknownDicomTag and ParameterOutOfRange.
    """
    ignores_case = case_insensitive_vr if callable(case_insensitive_vr) else case_insensitive_vr.__contains__
    constraints = []
    for name, value in query.items():
        tag = tag_of(name)
        keyword = keyword_for_tag(tag) or None
        if keyword in IGNORED_KEYWORDS:
            continue
        vr = vr_of(tag)
        terms = _terms(tag, vr, "" if value is None else str(value))
        if terms:
            constraints.append(Constraint(tag, keyword, vr, terms, bool(ignores_case(vr))))
    return constraints


def _terms(tag, vr, value):
    """The terms of a matching string; () when it is universal matching."""
    items = [item.strip(" ") for item in value.split("\\")]
    terms = [_term(tag, vr, item) for item in items if item]
    if not terms or any(term is None for term in terms):
        return ()
    return tuple(terms)


def _term(tag, vr, item):
    """One value as a term; None when it matches everything."""
    has_wildcard = "*" in item or "?" in item
    if vr in RANGE_VRS:
        if has_wildcard:
            raise ParameterOutOfRange(f"Wildcards are not allowed on tag {orthanc_tag(tag)}")
        item = normalised_text(vr, item)
        if "-" in item:
            lower, upper = item.split("-", 1)
            return Range(lower, upper, vr in PREFIX_RANGE_VRS) if lower or upper else None
        return Single(item)
    if vr in WILDCARD_VRS and has_wildcard:
        return None if set(item) == {"*"} else Wildcard(item)
    if set(vr.split(" or ")) & NUMBER_VRS:
        return Number(item)
    return Single(item)


# --- Where each constraint is checked -------------------------------------------------


def main_tag_expression(level, keyword):
    """The SQL text of a main tag of the level or of one above, seen from the level, or None."""
    for owner, path in PATHS_UP[level]:
        if keyword in owner.main_tags:
            column = INDEXED_COLUMNS.get((owner, keyword))
            if column:
                return F(path + column)
            return KeyTextTransform(keyword, f"{path}main_tags")
    return None


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


# --- Running a plan -------------------------------------------------------------------

CHUNK = 5000  # ids per IN (...) clause: SQLite limits the number of parameters


class Matches(list):
    """The matching resources. A list that also answers select_related(), as the REST
    handler calls it on the result to load parents: here in one query per relation."""

    def select_related(self, *fields):
        if fields:
            prefetch_related_objects(self, *fields)
        return self


def candidates(plan):
    """The resources passing the SQL condition, by primary key. An instance's data set is
    left in the database: it is large and no answer shows it."""
    queryset = model_for(plan.level).objects.filter(plan.condition).order_by("pk")
    if plan.level is levels.INSTANCE:
        queryset = queryset.defer("dataset")
    return queryset


def paged(queryset, limit, since):
    return queryset[since : since + limit] if limit else queryset[since:]


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


def matched_in_datasets(plan, limit, since):
    """(pk, public id) of the candidates whose first instance matches the data set
    constraints, paged. One query reads the candidates with only the elements needed,
    and stops early once the page is full."""
    # One alias per constraint, not per tag: two keys may name the same tag ("KVP", "0018,0060").
    elements = {
        f"element_{n}": first_instance_element(plan.level, constraint.dataset_key)
        for n, constraint in enumerate(plan.in_dataset)
    }
    rows = candidates(plan).annotate(**elements).values_list("pk", "public_id", *elements)
    wanted = since + limit if limit else None
    found = []
    for pk, public_id, *values in rows.iterator(chunk_size=2000):
        if matches_in_dataset(plan.in_dataset, values):
            found.append((pk, public_id))
            if wanted is not None and len(found) >= wanted:
                break
    return found[since:]


def resources_by_pk(level, pks):
    found = Matches()
    for start in range(0, len(pks), CHUNK):
        queryset = candidates(Plan(level, Q(pk__in=pks[start : start + CHUNK]), ()))
        found.extend(queryset)
    return found


def find_matching(level, constraints, limit=None, since=0):
    """The resources (model objects) of a level matching every constraint, ordered by
    primary key, `since` matches skipped and at most `limit` kept (None or 0: all)."""
    plan = plan_for(level, constraints)
    since = max(since or 0, 0)
    if not plan.in_dataset:
        return Matches(paged(candidates(plan), limit, since))
    return resources_by_pk(level, [pk for pk, _ in matched_in_datasets(plan, limit, since)])


def find_matching_ids(level, constraints, limit=None, since=0):
    """As find_matching, but only the public ids: no model object is built, which is most
    of the time of a long answer."""
    plan = plan_for(level, constraints)
    since = max(since or 0, 0)
    if not plan.in_dataset:
        return list(paged(candidates(plan).values_list("public_id", flat=True), limit, since))
    return [public_id for _, public_id in matched_in_datasets(plan, limit, since)]


def rest_constraints(level, query, case_sensitive):
    """REST /tools/find: every VR ignores case unless case_sensitive."""
    return constraints_for(level, query, case_insensitive_vr=lambda vr: not case_sensitive)


def find(level, query, case_sensitive=False, limit=None, since=0):
    """REST /tools/find: the matching resources (model objects), by primary key."""
    return find_matching(level, rest_constraints(level, query, case_sensitive), limit=limit, since=since)


def find_ids(level, query, case_sensitive=False, limit=None, since=0):
    """REST /tools/find without Expand: the public ids alone, the same as find() gives."""
    return find_matching_ids(level, rest_constraints(level, query, case_sensitive), limit=limit, since=since)
