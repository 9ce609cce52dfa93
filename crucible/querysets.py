"""Querysets shared by the apps' models (no view imports: models import them)."""

from __future__ import annotations

from django.db.models import F, OrderBy, QuerySet


class DeferredRowsQuerySet(QuerySet):
    """A list whose narrowing index also holds its sort columns and the primary key (``INCLUDE``)
    reads a page in two steps, pages and API alike (both slice the queryset): the ids of the page
    from that index alone (an index-only scan of the narrowed entries and a top-N sort of them),
    then those rows by primary key. Read in one step, every narrowed row is fetched from the
    table before the sort: one agent's 49,000 runs, scattered over a month's partition, to show
    its 50 slowest (docs/observability.md, "An agent's runs by duration or cost").

    ``rows_deferred(columns)``: slices of the queryset read so when its first sort term is on one
    of ``columns``; any other sort, an unsliced read (an export) and ``qs[i]`` read as before."""

    _deferred_sorts: frozenset = frozenset()

    def rows_deferred(self, columns) -> DeferredRowsQuerySet:
        clone = self._chain()
        clone._deferred_sorts = frozenset(columns)
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._deferred_sorts = self._deferred_sorts
        return clone

    def __getitem__(self, k):
        if (
            isinstance(k, slice)
            and k.step is None
            and self._result_cache is None
            and _first_sort(self) in self._deferred_sorts
        ):
            plain = self.rows_deferred(())
            # The same filters and order: the page's ids, then the rows they name, in that order.
            return plain.filter(pk__in=plain.values("pk")[k])
        return super().__getitem__(k)


def _first_sort(queryset) -> str | None:
    """The field the rows of ``queryset`` are sorted by first ("-cost" and the NULLS ordering of
    ``ordering_terms`` alike), or None."""
    terms = queryset.query.order_by or (queryset.query.default_ordering and queryset.model._meta.ordering)
    if not terms:
        return None
    term = terms[0]
    if isinstance(term, str):
        return term.lstrip("-")
    if isinstance(term, OrderBy) and isinstance(term.expression, F):
        return term.expression.name
    return None
