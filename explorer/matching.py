"""The matching rules of DICOM queries (PS3.4 C.2.2.2), apart from where they are checked.

`constraints_for` turns a query {tag name: matching string} into `Constraint` objects that
hold the rules alone: single value, wildcard, range, list; which VRs ignore case. A
constraint matches a text in Python (`matches`) and makes a Django condition on a text
expression (`condition`), so both sides always agree. explorer.query decides where each
constraint is checked (SQL or the stored data sets) and runs the search.
"""

import re
from dataclasses import dataclass

from django.db.models import Func, Q, TextField, Value, lookups
from django.db.models.functions import Replace
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

from explorer.errors import ParameterOutOfRange, UnknownDicomTag

# PS3.4 C.2.2.2.4: the VRs where '*' and '?' are wildcards; elsewhere they are plain characters.
WILDCARD_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
RANGE_VRS = frozenset({"DA", "TM", "DT"})
# Numbers: binary ones are JSON numbers in the stored data sets, and so are IS and DS in data
# sets stored before their text was kept ("120" read back "120.0"): read from a data set,
# they compare as numbers.
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


# --- Case ------------------------------------------------------------------------------


class Folded(Func):
    """A text in upper case, non-ASCII letters included ("Müller" → "MÜLLER"), for matching
    that ignores case. PostgreSQL's UPPER folds them under a UTF-8 ctype (its default);
    SQLite's UPPER, LIKE and NOCASE fold ASCII only, so SQLite gets Python's str.upper as a
    function of the connection."""

    function = "UPPER"
    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra_context):
        connection.ensure_connection()
        connection.connection.create_function(SQLITE_UPPER, 1, _upper, deterministic=True)
        return self.as_sql(compiler, connection, function=SQLITE_UPPER, **extra_context)


SQLITE_UPPER = "PHAROS_UPPER"


def _upper(text):
    return text.upper() if isinstance(text, str) else text


def folds_beyond_ascii(text):
    """Whether ignoring case needs Folded: the text has letters outside ASCII. An ASCII text
    keeps the databases' own case-insensitive lookups, which their indexes serve."""
    return not text.isascii()


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
        if ignore_case and folds_beyond_ascii(self.value):
            return Q(lookups.Exact(Folded(expression), self.value.upper()))
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
        if ignore_case and folds_beyond_ascii(self.pattern):
            return Q(lookups.Regex(Folded(expression), Wildcard(self.pattern.upper()).regex))
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
class Present:
    """'*' alone: any value, empty included, of a tag the resource has. Orthanc never
    matches a resource lacking the tag with it (an empty matching string is universal)."""

    kind = "present"

    def matches(self, text, ignore_case):
        return text is not None

    def condition(self, expression, ignore_case):
        return Q(lookups.IsNull(expression, False))


@dataclass(frozen=True)
class Range:
    """Range matching, inclusive; an empty bound is open. An empty value matches a range open
    below alone ("-20200101"), as in Orthanc, whose index compares "" <= "20200101"; a
    resource lacking the tag never matches (see `Constraint.needs_presence`)."""

    lower: str
    upper: str
    by_prefix: bool
    kind = "range"

    @property
    def open_below(self):
        return not self.lower

    def matches(self, text, ignore_case):
        if not text:
            return self.open_below
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
        condition = Q(lookups.IsNull(expression, False)) if self.open_below else Q(lookups.GreaterThan(expression, ""))
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
    def needs_presence(self):
        """Whether a term matches an empty value but not an absent tag: the text checked must
        tell an absent tag (None, NULL) from an empty one, which an indexed column cannot."""
        return any(term.kind == "present" or (term.kind == "range" and term.open_below) for term in self.terms)

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
    vr -> bool. Empty values are universal matching (no constraint), `*` asks for the tag
    to be present (see Present); ignored keys
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
        return Present() if set(item) == {"*"} else Wildcard(item)
    if set(vr.split(" or ")) & NUMBER_VRS:
        return Number(item)
    return Single(item)
