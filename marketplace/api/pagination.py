"""Pagination of agent lists: counts up to a cap, and not at all when the search knows its count."""

from __future__ import annotations

from marketplace import selectors


class AgentSearchPaginationMixin:
    """For a DRF page-number pagination class: ``paginate_search`` pages an ``AgentSearch``,
    giving ``CappedPaginator`` the count the search already knows (a text search's candidates)."""

    django_paginator_class = selectors.CappedPaginator

    def paginate_search(self, search: selectors.AgentSearch, request, view=None):
        self.django_paginator_class = selectors.CappedPaginator.for_search(search)
        return self.paginate_queryset(search.queryset, request, view=view)
