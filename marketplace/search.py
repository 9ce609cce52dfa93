"""Marketplace search and browse with bounded work at any catalogue size (docs/marketplace.md › Search).

- A text search never ranks every match. It gathers a bounded candidate set with indexes (the
  best ``SEARCH_MAX_RESULTS`` matches in the order asked for, popularity for relevance; for
  relevance also the matches in the name, tags or summary, and exact names), falls back to
  the query corrected against the words of agent names (typos) only when the text finds less
  than a page, and ranks those candidates.
- Browse orders by indexed columns only (the Bayesian rating through an index on the SQL function
  ``marketplace_weighted_rating``), so the first page is read from an index, not a sort.
- Lists count their results only up to ``LIST_COUNT_CAP`` (``CappedPaginator``): "10,000+". The
  search returns its queryset with the count when choosing the rows already counted them
  (``AgentSearch``), and the paginator is given that count.
- Measured evidence is the viewer's (``marketplace.search_evidence``): a team's own figures never
  count among the other teams' in a figure, a sort or a filter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import connection
from django.db.models import Case, ExpressionWrapper, F, FloatField, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.functional import cached_property

from marketplace import conf, search_evidence
from marketplace.models import RATING_FUNCTION, SEARCH_CONFIG, Agent, AgentDailyStat, weighted_rating
from marketplace.search_words import corrected_query
from marketplace.tag_counts import agent_tag_count

# Below this many text matches, typo-tolerant name matches are added (one page of results).
TYPO_FALLBACK_BELOW = 20
# A quoted phrase: agents with all its words checked one by one at most; past that, the walk in the
# asked order reads at most this many agents (marketplace.search._phrase_matches).
PHRASE_WORD_MATCHES = 10_000
PHRASE_WALK = 20_000


# Browse orders that list every agent the filters select (the evidence sorts leave out stale rows,
# trending the agents not installed lately): a per-tag count kept in the database counts them.
COUNTED_SORTS = ("rating", "installs", "newest", "updated")

ORDERINGS = {
    "relevance": ("-exact", "-rank", "-weighted_rating", "pk"),
    "rating": (weighted_rating().desc(), "-rating_count", "pk"),
    "installs": ("-install_count", "pk"),
    "newest": ("-created_at", "-pk"),
    "updated": ("-updated_at", "-pk"),
    "success": search_evidence.column_order("success"),
    "cost_per_run": search_evidence.column_order("cost_per_run"),
}


@dataclass(frozen=True)
class AgentSearch:
    """What a list of agents needs: the agents, in order, and their number when choosing them
    already counted it (a text search's candidate set, a tag's kept count), else None (the
    paginator counts); ``window(queryset, top)``: the agents of ``queryset`` that can be among its
    first ``top``, in order, read with bounded work, when ordering the whole queryset would not be
    (an evidence sort on the viewer's figures): the paginator reads a page from it. Order the
    queryset further as you like (``ordered``); filter it, and the count is wrong."""

    queryset: QuerySet[Agent]
    count: int | None = None
    window: Callable[[QuerySet[Agent], int], QuerySet[Agent]] | None = None

    def ordered(self, queryset: QuerySet[Agent]) -> AgentSearch:
        """The same agents, in the order of ``queryset`` (the count holds; the window only when
        ``queryset`` is this one)."""
        return AgentSearch(queryset, self.count, self.window if queryset is self.queryset else None)


def agent_search(
    *,
    team_ids,
    q: str = "",
    category: str | None = None,
    tags=None,
    min_rating: float | None = None,
    verified: bool | None = None,
    publisher: str | None = None,
    min_success_rate: float | None = None,
    max_cost_per_run: float | None = None,
    sort: str | None = None,
    queryset: QuerySet[Agent] | None = None,
    with_description: bool = False,
) -> AgentSearch:
    """Agents visible to ``team_ids`` matching the query and filters, ranked, with their count
    when the search already knows it.

    Matching: PostgreSQL full text (name weight A, tags and summary B, description C; websearch
    syntax); when that finds less than a page, also the query corrected against name words (typos).
    Relevance: exact name match first, then text matches by rank, then typo matches by the rank of
    the corrected query, then weighted rating. A text search lists at most about ``SEARCH_MAX_RESULTS``
    agents (its candidate set; one query to gather them happens here).

    Measured evidence (figures, evidence sorts and filters) is what ``team_ids`` may see: without
    their own teams' figures (``marketplace.search_evidence``).

    Listings leave out the description columns (``with_description`` brings them back)."""
    from marketplace.selectors import visible_q, with_listing_annotations

    base = queryset if queryset is not None else Agent.objects.all()
    base = _filtered(
        base.filter(visible_q(team_ids)),
        category=category,
        tags=tags,
        min_rating=min_rating,
        verified=verified,
        publisher=publisher,
    )
    q = (q or "").strip()[: conf.SEARCH_MAX_QUERY_LENGTH]
    sort = sort or ("relevance" if q else "rating")
    if sort == "relevance" and not q:
        sort = "rating"
    base, viewer_sorted = search_evidence.viewer_evidence(
        base, team_ids=team_ids, sort=sort, min_success_rate=min_success_rate, max_cost_per_run=max_cost_per_run
    )
    if sort.startswith("trending_"):
        base = _trending(base, sort.removeprefix("trending_"))
    qs = base
    ids = None
    if q:
        query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
        ids, corrected = _candidate_ids(base, q=q, query=query, sort=sort, team_ids=team_ids if viewer_sorted else None)
        qs = Agent.objects.filter(pk__in=ids)
        if sort.startswith("trending_"):
            qs = _trending(qs, sort.removeprefix("trending_"))
        if sort == "relevance":
            qs = qs.annotate(
                exact=Case(
                    When(Q(name__iexact=q) | Q(slug=q.lower()), then=Value(1)),
                    default=Value(0),
                    output_field=IntegerField(),
                ),
                # Text matches first, by weighted ts_rank; agents found only through the query
                # corrected against name words (typos) follow, by their rank. Only candidates are ranked.
                rank=Case(
                    When(
                        search_vector=query,
                        then=ExpressionWrapper(
                            SearchRank(F("search_vector"), query) + Value(1.0), output_field=FloatField()
                        ),
                    ),
                    default=SearchRank(F("search_vector"), corrected) if corrected is not None else Value(0.0),
                    output_field=FloatField(),
                ),
            )
    window = None
    if viewer_sorted:
        qs = search_evidence.with_evidence_order(qs, sort=sort, team_ids=team_ids)
        if ids is None:  # browse: a page reads the agents that can be on it (bounded work)
            window = partial(search_evidence.bounded_evidence_order, sort=sort, team_ids=team_ids)
    qs = search_evidence.with_search_evidence(with_listing_annotations(qs), team_ids=team_ids)
    if not with_description:
        qs = qs.defer("description", "description_html")
    if sort.startswith("trending_"):
        qs = qs.order_by("-trending", "-install_count", "pk")
    elif viewer_sorted:
        qs = qs.order_by(*search_evidence.viewer_order(sort))
    else:
        qs = qs.order_by(*ORDERINGS.get(sort, ORDERINGS["rating"]))
    # The candidate query already applied visibility and every filter: its size is the count.
    if ids is not None:
        return AgentSearch(qs, len(ids))
    if window is not None:
        return AgentSearch(qs, window=window)
    if tags and len(tags) == 1 and sort in COUNTED_SORTS and _scope_is_visibility(queryset, team_ids):
        unfiltered = (category, min_rating, verified, publisher, min_success_rate, max_cost_per_run)
        if all(value is None or value == "" for value in unfiltered):
            return AgentSearch(qs, agent_tag_count(team_ids=team_ids, tag=tags[0]))
    return AgentSearch(qs)


def _scope_is_visibility(queryset, team_ids) -> bool:
    """The caller's queryset selects what ``visible_q(team_ids)`` does (or everything): counts kept
    in the database then count the same agents."""
    from marketplace.selectors import visible_q

    if queryset is None or not queryset.query.where:
        return True
    return queryset.query.where == Agent.objects.filter(visible_q(team_ids)).query.where


def _filtered(qs, *, category, tags, min_rating, verified, publisher):
    if category:
        qs = qs.filter(category=category)
    if tags:
        qs = qs.filter(tags__contains=list(tags))
    if min_rating is not None:
        qs = qs.filter(rating_count__gt=0, rating_sum__gte=Cast("rating_count", FloatField()) * float(min_rating))
    if verified is not None:
        qs = qs.filter(team__is_verified=verified)
    if publisher:
        qs = qs.filter(team__slug=publisher)
    return qs


def _candidate_ids(
    base, *, q: str, query: SearchQuery, sort: str, team_ids=None
) -> tuple[list[int], SearchQuery | None]:
    """The agents a text search lists (one query; two more only for the typo fallback): the first
    ``SEARCH_MAX_RESULTS`` text matches in the asked order (popularity for relevance), and for
    relevance also the most installed matches in name, tags or summary and exact name or slug
    matches, so a strong match of a little-known agent is never lost among popular ones. With the
    typo fallback, also the query corrected against name words (returned, to rank with).
    ``team_ids``: an evidence sort on the figures those teams may see (their own measured agents
    read without them; ``base`` carries ``with_evidence_order``)."""
    limit = conf.SEARCH_MAX_RESULTS
    popular = ("-install_count", "pk")
    order = popular if sort == "relevance" or sort.startswith("trending_") else ORDERINGS[sort]
    if team_ids is not None:
        order = search_evidence.viewer_order(sort)
    if '"' in q:
        branches = [_phrase_matches(base, q=q, query=query, order=order, limit=limit)]
    elif team_ids is not None:
        matches = search_evidence.bounded_evidence_order(
            base.filter(search_vector=query), limit, sort=sort, team_ids=team_ids
        )
        branches = [matches.values_list("pk", flat=True)[:limit]]
    else:
        branches = [base.filter(search_vector=query).order_by(*order).values_list("pk", flat=True)[:limit]]
    # A phrase is rare in titles however common its words: the planner cannot know, so no title
    # branch for phrases (their matches are ranked among the most installed ones).
    if sort == "relevance" and '"' not in q:
        title = base.filter(title_vector=query).order_by(*popular)
        exact = base.filter(Q(name__iexact=q) | Q(slug=q.lower())).order_by("pk")
        branches += [title.values_list("pk", flat=True)[:limit], exact.values_list("pk", flat=True)[:limit]]
    ids = list(branches[0].union(*branches[1:])) if len(branches) > 1 else list(branches[0])
    corrected = None
    if len(ids) < min(TYPO_FALLBACK_BELOW, limit):  # a full window means more text matches
        corrected = corrected_query(q)
        if corrected is not None:
            typos = base.filter(search_vector=corrected).order_by(*popular).values_list("pk", flat=True)
            ids = list(dict.fromkeys([*ids, *typos[:limit]]))
    return ids, corrected


def _phrase_matches(base, *, q: str, query: SearchQuery, order, limit: int) -> list[int]:
    """The first ``limit`` matches of a query with a quoted phrase, in ``order``, with bounded work.

    PostgreSQL estimates a phrase as its words in any order, so for a rare phrase of common words
    it walks the order's index through much of the table. When the planner expects at most
    ``PHRASE_WORD_MATCHES`` agents with the words, the phrase's matches are read without an order
    (GIN) and put in order here; otherwise the words are common, and the walk in ``order`` reads
    at most ``PHRASE_WALK`` agents (a phrase rarer than that among them lists what the walk found)."""
    matches = base.filter(search_vector=query)
    if _estimated_rows(matches) <= PHRASE_WORD_MATCHES:
        found = _in_order(matches, order, PHRASE_WORD_MATCHES + 1)
        if len(found) <= PHRASE_WORD_MATCHES:
            return found[:limit]
    walked_sql, walked_params = (
        base.order_by(*order).values("pk", "search_vector")[:PHRASE_WALK].query.sql_with_params()
    )
    # The walk is a fenced subquery (its LIMIT), so the phrase filter cannot extend it; a filter on
    # a subquery scan keeps the subquery's order.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT walked.pk FROM ({walked_sql}) AS walked "
            "WHERE walked.search_vector @@ websearch_to_tsquery(%s::regconfig, %s) LIMIT %s",
            [*walked_params, SEARCH_CONFIG, q, limit],
        )
        return [pk for (pk,) in cursor.fetchall()]


def _in_order(queryset, order, most: int) -> list[int]:
    """Up to ``most`` keys of ``queryset`` read without an order (so the planner cannot choose to
    walk the order's index) and sorted here by ``order`` (field names and ``OrderBy`` expressions,
    NULLs where PostgreSQL puts them)."""
    keys, directions = {}, []
    for i, item in enumerate(order):
        if isinstance(item, str):
            expression, descending, nulls_last = F(item.lstrip("-")), item.startswith("-"), None
        else:
            expression, descending, nulls_last = item.expression, item.descending, item.nulls_last
        keys[f"order_{i}"] = expression
        # PostgreSQL's default: NULLs last ascending, first descending.
        directions.append((descending, nulls_last if nulls_last is not None else not descending))
    rows = list(queryset.order_by().annotate(**keys).values_list("pk", *keys)[:most])
    for position in reversed(range(len(directions))):  # stable sorts, last key first
        descending, nulls_last = directions[position]

        def key(row, position=position, descending=descending, nulls_last=nulls_last):
            value = row[position + 1]
            return (value is None) == (nulls_last != descending), value if value is not None else 0

        rows.sort(key=key, reverse=descending)
    return [row[0] for row in rows]


def _estimated_rows(queryset) -> float:
    """The planner's estimate of how many rows ``queryset`` gives (EXPLAIN: planned, not run)."""
    return json.loads(queryset.explain(format="json"))[0]["Plan"]["Plan Rows"]


def _trending(qs, window: str):
    """Trending lists the agents installed within the window, hottest first."""
    from marketplace.selectors import TRENDING_WINDOWS, trending_expression

    since = timezone.now().date() - timedelta(days=TRENDING_WINDOWS[window] - 1)
    active = AgentDailyStat.objects.filter(day__gte=since, installs__gt=0).values("agent_id")
    return qs.filter(pk__in=active).annotate(trending=trending_expression(window))


# --- counting ------------------------------------------------------------------------------------


class CappedPaginator(Paginator):
    """Counts at most ``LIST_COUNT_CAP`` results (one ``count(*)`` over a ``LIMIT cap + 1``
    subquery): lists of agents stop there, and ``capped`` says there were more. The count rides
    along with the page's rows (a scalar subquery in the same statement), so a page with rows costs
    one query; a count given with the list (``known_count``: ``AgentSearch.count``) costs none."""

    cap = None  # None: conf.LIST_COUNT_CAP
    capped = False

    def __init__(self, object_list, per_page, *args, known_count: int | None = None, window=None, **kwargs):
        super().__init__(object_list, per_page, *args, **kwargs)
        self.known_count = known_count
        self.window = window  # ``AgentSearch.window``: a page reads the agents that can be on it

    @classmethod
    def for_search(cls, search: AgentSearch):
        """A paginator class for ``search``'s queryset that knows its count (for the list views and
        DRF's pagination, which build the paginator from a queryset and a page size)."""
        return partial(cls, known_count=search.count, window=search.window)

    def _cap(self) -> int:
        return self.cap if self.cap is not None else conf.LIST_COUNT_CAP

    def _capped_count_sql(self) -> tuple[str, tuple]:
        # Only the keys: the listing annotations (rating, rank) are not needed to count.
        inner, params = self.object_list.order_by().values("pk")[: self._cap() + 1].query.sql_with_params()
        return f"SELECT count(*) FROM ({inner}) AS capped", params

    def _set_count(self, found: int) -> int:
        cap = self._cap()
        self.capped = found > cap
        self.__dict__["count"] = min(found, cap)
        return self.__dict__["count"]

    @cached_property
    def count(self):
        if self.known_count is not None:  # a text search counted its candidates when it chose them
            return self._set_count(self.known_count)
        return self._set_count(self.object_list.order_by().values("pk")[: self._cap() + 1].count())

    def get_page(self, number):
        """As ``Paginator.get_page`` (a bad number gives the first page, one past the end the
        last), asking for the page first so that its query also counts."""
        try:
            return self.page(number)
        except PageNotAnInteger:
            return self.page(1)
        except EmptyPage:
            return self.page(self.num_pages)

    def page(self, number):
        if self.window is not None:  # counted apart (an index-only walk), then the page from its window
            number = self.validate_number(number)
            bottom = (number - 1) * self.per_page
            top = min(bottom + self.per_page, self.count)
            rows = list(self.window(self.object_list, top)[bottom:top]) if top > bottom else []
            return self._get_page(rows, number, self)
        counted = "count" in self.__dict__ or self.known_count is not None
        if counted or not isinstance(self.object_list, QuerySet) or self.object_list.query.is_empty():
            return super().page(number)  # nothing to save (``none()`` compiles to no SQL at all)
        try:
            index = int(number)
        except (TypeError, ValueError):
            return super().page(number)  # raises PageNotAnInteger
        if index < 1:
            return super().page(number)  # raises EmptyPage
        bottom = (index - 1) * self.per_page
        if bottom >= self._cap():
            # Past the cap, where every list stops: EmptyPage after the count alone (such an OFFSET
            # may be past what PostgreSQL takes: ?page=10**21 was a 400 naming no parameter).
            return super().page(number)
        sql, params = self._capped_count_sql()
        rows = list(self.object_list.annotate(listed_total=RawSQL(sql, params))[bottom : bottom + self.per_page])
        if not rows:  # past the end, or an empty list: count on its own
            return super().page(number)
        self._set_count(rows[0].listed_total)
        number = self.validate_number(number)  # past the cap: EmptyPage, as with a separate count
        top = min(bottom + self.per_page, self.count)
        return self._get_page(rows[: top - bottom], number, self)


def agent_search_count(search: AgentSearch) -> int:
    """What the lists show as the number of results: exact up to ``LIST_COUNT_CAP``."""
    return CappedPaginator.for_search(search)(search.queryset, 20).count


# --- the rating function ---------------------------------------------------------------------------


def rating_function_apply(*, using: str = "default") -> bool:
    """Create or update ``marketplace_weighted_rating`` with the prior from settings, and rebuild
    the index on it when the prior changed (run by the migration and after every ``migrate``).
    True when it changed something."""
    from django.db import connections

    prior_count, prior_mean = float(conf.RATING_PRIOR_COUNT), float(conf.RATING_PRIOR_MEAN)
    marker = f"prior {prior_count!r} {prior_mean!r}"
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT obj_description(p.oid, 'pg_proc') FROM pg_proc p WHERE p.proname = %s", [RATING_FUNCTION]
        )
        row = cursor.fetchone()
        if row is not None and row[0] == marker:
            return False
        # IMMUTABLE for the index: the prior only changes here, and the index is rebuilt with it.
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {RATING_FUNCTION}(rating_sum integer, rating_count integer) "
            "RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE "
            f"RETURN ({prior_count * prior_mean!r}::float8 + rating_sum) "
            f"/ NULLIF({prior_count!r}::float8 + rating_count, 0)"
        )
        cursor.execute(f"COMMENT ON FUNCTION {RATING_FUNCTION}(integer, integer) IS '{marker}'")
        if row is not None:
            cursor.execute("SELECT 1 FROM pg_class WHERE relname = 'agent_rating_desc'")
            if cursor.fetchone():
                cursor.execute("REINDEX INDEX agent_rating_desc")
    return True
