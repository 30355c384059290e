"""Lists of resources: filtered as REST /tools/find matches, sorted by any column, paged
in the database."""

from dataclasses import dataclass

from django.core.paginator import Paginator

from explorer import query
from explorer.pages.links import as_query_dict, with_params

PAGE_SIZE = 50


@dataclass
class Column:
    """A column header; sortable ones link to the same list sorted by them."""

    label: str
    key: str = ""
    url: str = ""
    direction: str = ""  # "ascending", "descending" or "" when the list is not sorted by it
    numeric: bool = False


@dataclass
class PageLink:
    label: str
    url: str = ""
    current: bool = False


@dataclass
class Listing:
    form: object
    rows: list
    columns: list
    page: object
    page_links: list
    total: int
    filtered: bool
    sort: str
    previous_url: str = ""
    next_url: str = ""
    invalid: bool = False  # a filter to correct: its error alone is shown, no count, no empty state


def chosen_order(text, sorts, default):
    """(key, descending) from ?sort=key or ?sort=-key; the default for anything unknown."""
    text = (text or "").strip()
    descending = text.startswith("-")
    key = text.lstrip("-")
    if key not in sorts:
        key, descending = default.lstrip("-"), default.startswith("-")
    return key, descending


def order_by_fields(sorts, key, descending):
    # The primary key last keeps the order of equal values stable from page to page.
    fields = (*sorts[key], "pk")
    return [f"-{name}" if descending else name for name in fields]


def sort_columns(params, headers, sort_key, descending):
    """Header cells: each sortable one links to the list sorted by it (again: reversed)."""
    columns = []
    for label, key, numeric in headers:
        column = Column(label, key, numeric=numeric)
        if key:
            is_current = key == sort_key
            reverse_it = is_current and not descending
            column.url = with_params(params, sort=f"-{key}" if reverse_it else key, page=None)
            column.direction = ("descending" if descending else "ascending") if is_current else ""
        columns.append(column)
    return columns


def page_links(params, page):
    links = []
    for number in page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1):
        if number == page.paginator.ELLIPSIS:
            links.append(PageLink("…"))
        else:
            links.append(PageLink(str(number), with_params(params, page=str(number)), number == page.number))
    return links


class SearchedPages:
    """A list's matches as Django's Paginator pages them: counted, then each page read by
    explorer.query.search, the one search of REST /tools/find and C-FIND, with the values
    the rows show (`wanted`: search's fields, main_tags and computed)."""

    def __init__(self, level, constraints, order_by, wanted):
        self.level, self.constraints, self.order_by, self.wanted = level, constraints, order_by, wanted

    def count(self):
        return query.count(self.level, self.constraints)

    def __getitem__(self, window):
        limit = window.stop - window.start
        return query.search(
            self.level, self.constraints, order_by=self.order_by, limit=limit, since=window.start, **self.wanted
        )


def paged_listing(params, form, sorts, default_sort, headers, wanted, build_rows):
    """Filter (the form's DICOM query, matched as /tools/find matches), sort and page the
    resources of the form's level, then turn the page's search result into rows."""
    params = as_query_dict(params)
    dicom_query = form.dicom_query() if form.is_valid() else {}
    sort_key, descending = chosen_order(params.get("sort"), sorts, default_sort)
    order_by = order_by_fields(sorts, sort_key, descending)
    if form.is_valid():
        constraints = query.rest_constraints(form.level, dicom_query, case_sensitive=False)
        matches = SearchedPages(form.level, constraints, order_by, wanted)
    else:
        matches = []  # the form shows what to correct
    page = Paginator(matches, PAGE_SIZE).get_page(params.get("page"))
    return Listing(
        form=form,
        rows=build_rows(page.object_list) if matches else [],
        columns=sort_columns(params, headers, sort_key, descending),
        page=page,
        page_links=page_links(params, page),
        total=page.paginator.count,
        filtered=bool(dicom_query),
        sort=f"-{sort_key}" if descending else sort_key,
        previous_url=with_params(params, page=str(page.number - 1)) if page.has_previous() else "",
        next_url=with_params(params, page=str(page.number + 1)) if page.has_next() else "",
        invalid=not form.is_valid(),
    )
