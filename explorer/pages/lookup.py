"""The jump box of the lookup page: the resources an identifier names."""

from dataclasses import dataclass

from explorer import index, levels
from explorer.pages.links import as_query_dict, resource_url, with_params
from explorer.pages.resource import title_of


@dataclass
class Match:
    level: str
    public_id: str
    url: str
    label: str


def jump_matches(text):
    """Every resource an identifier names: PatientID, AccessionNumber, any UID (as /tools/lookup)
    or a Pharos (Orthanc) public id, each once, patients first."""
    text = text.strip()
    if not text:
        return []
    found = [(levels.level_named(m["Type"]), m["ID"]) for m in index.lookup_identifier(text, accession_number=True)]
    level, resource = index.resolve(text)
    if resource is not None:
        found.append((level, resource.public_id))
    unique = list(dict.fromkeys(found))
    return [
        Match(lvl.name, public_id, resource_url(lvl, public_id), label) for lvl, public_id, label in labelled(unique)
    ]


def labelled(level_ids):
    """(level, public id, title) for each, with one query per level involved."""
    by_level = {}
    for level, public_id in level_ids:
        by_level.setdefault(level, []).append(public_id)
    titles = {}
    for level, public_ids in by_level.items():
        queryset = index.model_for(level).objects.filter(public_id__in=public_ids)
        if level is levels.INSTANCE:
            queryset = queryset.defer("dataset")
        for resource in queryset:
            titles[(level, resource.public_id)] = title_of(level, resource)
    ordered = sorted(level_ids, key=lambda pair: levels.LEVELS.index(pair[0]))
    return [(level, public_id, titles.get((level, public_id), public_id)) for level, public_id in ordered]


# How the lookup page's latest studies can be ordered (?latest=): the key, what the page says,
# the ordering. The first is the default.
LATEST_ORDERS = (
    ("received", "last received", ("-last_update", "-pk")),
    ("date", "study date", ("-study_date", "-main_tags__StudyTime", "-pk")),
)


@dataclass
class OrderLink:
    label: str
    url: str
    current: bool


def latest_order(params):
    """(ordering, what the page says, links to each order) for the lookup page's ?latest=; an
    unknown value is the default order."""
    params = as_query_dict(params)
    chosen = next((entry for entry in LATEST_ORDERS if entry[0] == params.get("latest")), LATEST_ORDERS[0])
    links = []
    for entry in LATEST_ORDERS:
        key, label, _ = entry
        # The jump box's answer is not shown again: the link only reorders the list.
        url = with_params(params, latest=None if entry is LATEST_ORDERS[0] else key, q=None)
        links.append(OrderLink(label, url, entry is chosen))
    return chosen[2], chosen[1], links
