"""The filtered list page: one base view for every list of the pages.

A list page is a selector (``get_queryset``), the FilterSet the API list uses, whitelisted sortable
columns (``?ordering=name`` or ``-name``, as the API's ``ordering``) and a page with totals
("1–25 of 245"), rendered with ``crucible/_filter_form.html`` and ``crucible/_pagination.html``.

An invalid filter shows nothing and names the problem next to the field (by its label): a list
that ignores a filter it could not read would look like an answer to the question asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db.models import F
from django.views.generic import TemplateView

from crucible.pages import TeamPageMixin

CONTROL_PARAMETERS = ("page", "ordering")


@dataclass
class Listing:
    """One page of a list, with what the pagination template shows."""

    items: list
    number: int
    first: int  # 1-based position of the first item shown; 0 when nothing is shown
    last: int
    total: int | None  # None for lists too large to count
    pages: int | None
    previous_url: str = ""
    next_url: str = ""
    range_text: str = field(default="")
    total_capped: bool = False  # the list stops at ``total``; more rows matched ("10,000+")

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


def ordering_terms(model, terms) -> list:
    """The ORDER BY of a list sorted by ``terms`` (field names, a leading "-" reversing), pages and
    API alike: an empty value (NULL: an unpriced cost, an unscored build, a key never used) sorts
    below every value, so last when descending and first when ascending. PostgreSQL's own default
    puts NULL above every value, and "costliest first" opened on the unpriced executions. A field
    that cannot be empty stays a plain name, which an index on it serves in either direction (an
    explicit NULLS order would not match that index)."""
    ordered = []
    for term in terms:
        name, descending = term.lstrip("-"), term.startswith("-")
        try:
            nullable = model._meta.get_field(name).null
        except FieldDoesNotExist:  # "pk", or an annotation: PostgreSQL's default
            nullable = False
        if nullable:
            ordered.append(F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_first=True))
        else:
            ordered.append(term)
    return ordered


def reversed_term(term: str) -> str:
    """An ``order_by`` term the other way round ("-name" <-> "name")."""
    return term[1:] if term.startswith("-") else f"-{term}"


def url_with(request, **changes) -> str:
    """The current query string with some parameters changed (None or "": removed)."""
    params = request.GET.copy()
    for name, value in changes.items():
        params.pop(name, None)
        if value not in (None, ""):
            params[name] = value
    text = params.urlencode()
    return f"?{text}" if text else "?"


def page_number(request, *, parameter: str = "page", max_page: int = 100_000) -> int:
    """The page number ``?page=`` asks for: a whole number from 1 to ``max_page`` (anything else
    is page 1; a number past the last page is brought back to it by the paginator)."""
    try:
        return min(max(1, int(request.GET.get(parameter, "1"))), max_page)
    except ValueError:
        return 1


def page_of(
    request,
    queryset,
    *,
    per_page: int = 25,
    with_total: bool = True,
    item_name: tuple[str, str] = ("item", "items"),
    max_page: int = 100_000,
    parameter: str = "page",
    paginator_class=Paginator,
) -> Listing:
    """The page of ``queryset`` asked for by ``?page=`` (out-of-range numbers give the nearest page),
    with its position ("1–25 of 245") and links that keep the other parameters. Without a total,
    one more row than shown is read to know whether there is a next page."""
    number = page_number(request, parameter=parameter, max_page=max_page)
    if with_total:
        page = paginator_class(queryset, per_page).get_page(number)
        items, number = list(page.object_list), page.number
        total, pages = page.paginator.count, page.paginator.num_pages
        has_next = page.has_next()
    else:
        offset = (number - 1) * per_page
        rows = list(queryset[offset : offset + per_page + 1])
        items, has_next = rows[:per_page], len(rows) > per_page
        total = pages = None
    first = (number - 1) * per_page + 1 if items else 0
    last = first + len(items) - 1 if items else 0
    listing = Listing(
        items=items,
        number=number,
        first=first,
        last=last,
        total=total,
        pages=pages,
        previous_url=url_with(request, **{parameter: number - 1 if number > 2 else None}) if number > 1 else "",
        next_url=url_with(request, **{parameter: number + 1}) if has_next else "",
        total_capped=bool(with_total and getattr(page.paginator, "capped", False)),
    )
    listing.range_text = _range_text(listing, item_name)
    return listing


def _range_text(listing: Listing, item_name: tuple[str, str]) -> str:
    singular, plural = item_name
    if listing.total is None:
        return f"{listing.first:,}–{listing.last:,}" if listing.items else f"No {plural}"
    if listing.total == 0:
        return f"No {plural}"
    if not listing.items:
        return f"{listing.total:,} {plural}; none on this page"
    more = "+" if listing.total_capped else ""
    return f"{listing.first:,}–{listing.last:,} of {listing.total:,}{more} {singular if listing.total == 1 else plural}"


class FilteredListView(TeamPageMixin, TemplateView):
    """Subclasses set ``filterset_class``, ``sorts`` and ``default_ordering`` and implement
    ``get_queryset()`` (a selector call). The template gets ``filterset``, ``form``, ``listing``
    (iterable), ``sort_links`` ({column: {url, arrow, aria_sort}}) and ``query`` (the filters)."""

    filterset_class = None
    replica_reads = True  # GET reads may come from the read replica (crucible.db_router)
    per_page = 25
    max_page = 100_000  # keeps OFFSET within a bigint for lists without a total
    with_total = True  # False for tables too large to count on every page view
    paginator_class = Paginator  # e.g. one that counts only up to a cap
    # Public column name -> model fields to order by, ascending; "-name" reverses them all.
    sorts: dict[str, tuple[str, ...]] = {}
    default_ordering = ""
    # The order of rows with equal sort values, as in a descending sort; an ascending sort reverses
    # it too, so each direction is exactly the other reversed and one index on (team, field, id)
    # serves both (the traces list's error count: most traces tie at 0).
    tiebreak: tuple[str, ...] = ("-pk",)
    item_name = ("item", "items")
    # Filters shown in the form (None: all); a filter given in the URL or in error is always shown.
    form_fields: tuple[str, ...] | None = None

    def get_queryset(self):
        raise NotImplementedError

    def filter_params(self):
        params = self.request.GET.copy()
        for name in CONTROL_PARAMETERS:
            params.pop(name, None)
        return params

    def get_filterset(self, queryset):
        return self.filterset_class(self.filter_params(), queryset=queryset, request=self.request)

    def ordering(self) -> str:
        asked = self.request.GET.get("ordering", "")
        return asked if asked.lstrip("-") in self.sorts else self.default_ordering

    def order(self, queryset, ordering: str):
        if not ordering:
            return queryset
        descending = ordering.startswith("-")
        fields = [f"-{name}" if descending else name for name in self.sorts[ordering.lstrip("-")]]
        ties = self.tiebreak if descending else [reversed_term(term) for term in self.tiebreak]
        return queryset.order_by(*ordering_terms(queryset.model, [*fields, *ties]))

    def url_with(self, **changes) -> str:
        return url_with(self.request, **changes)

    def paginate(self, queryset) -> Listing:
        return page_of(
            self.request,
            queryset,
            per_page=self.per_page,
            with_total=self.with_total,
            item_name=self.item_name,
            max_page=self.max_page,
            paginator_class=self.paginator_class,
        )

    def sort_links(self, ordering: str) -> dict:
        links = {}
        for name in self.sorts:
            current = ordering.lstrip("-") == name
            descending = ordering.startswith("-")
            target = (name if descending else f"-{name}") if current else name
            links[name] = {
                "url": self.url_with(ordering=target, page=None),
                "arrow": (" ↓" if descending else " ↑") if current else "",
                "aria_sort": ("descending" if descending else "ascending") if current else "",
            }
        return links

    def shown_fields(self, form) -> list:
        return [
            bound
            for bound in form.visible_fields()
            if self.form_fields is None
            or bound.name in self.form_fields
            or bound.errors
            or bound.data not in (None, "", [])
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        queryset = self.get_queryset()
        filterset = self.get_filterset(queryset)
        ordering = self.ordering()
        valid = filterset.is_valid()
        listing = self.paginate(self.order(filterset.qs, ordering) if valid else queryset.none())
        if not valid:
            listing.range_text = f"No {self.item_name[1]} listed: correct the filter above"
        context.update(
            filterset=filterset,
            form=filterset.form,
            form_fields=self.shown_fields(filterset.form),
            listing=listing,
            ordering=ordering,
            sort_links=self.sort_links(ordering),
            query=self.filter_params().urlencode(),
            filtered=any(value for value in self.filter_params().values()),
        )
        return context
