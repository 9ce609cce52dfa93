import binascii
import math
from base64 import b64decode, b64encode
from datetime import datetime
from urllib import parse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.core.paginator import Paginator as DjangoPaginator
from django.db import models
from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils import timezone
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.utils.urls import replace_query_param

from crucible.limits import BIGINT_MAX
from crucible.lists import reversed_term

# PostgreSQL bigint; a cursor position outside it is not a position the API ever gave out.
_BIGINT = BIGINT_MAX


class StrictPageSizeMixin:
    """``page_size`` is a whole number of at least 1, given once (the schema says so); a larger one
    than the maximum is cut to it, as DRF does. DRF would silently use the default for ``-3``."""

    def get_page_size(self, request):
        name = self.page_size_query_param
        values = request.query_params.getlist(name)
        if not values:
            return self.page_size
        if len(values) > 1:
            raise ApiValidationError({name: ["Give this parameter once."]})
        value = values[0]
        if not (value.isascii() and value.isdigit()) or int(value) < 1:
            raise ApiValidationError({name: [f"A whole number of at least 1 (at most {self.max_page_size} are used)."]})
        return min(int(value), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
                parameter["description"] = f"Results per page (default {self.page_size}, at most {self.max_page_size})."
            elif parameter["name"] == getattr(self, "page_query_param", None):
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
        return parameters


class CountWhenNeededPaginator(DjangoPaginator):
    """Django's paginator, without its ``COUNT(*)`` query when the page itself tells the total: a
    page with fewer rows than the page size is the last one, so the total is the rows before it
    plus its own (most lists of a team fit on their first page). A full page still counts, so
    ``count`` is always exact."""

    def page(self, number):
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        bottom = (number - 1) * self.per_page
        if bottom + self.per_page > _BIGINT:
            # No list has that many rows, and PostgreSQL refuses such an OFFSET: the page is not there.
            raise EmptyPage(self.error_messages["no_results"])
        rows = list(self.object_list[bottom : bottom + self.per_page])
        if not rows and number > 1:
            raise EmptyPage(self.error_messages["no_results"])
        if len(rows) < self.per_page:
            self.__dict__["count"] = bottom + len(rows)  # the cached_property, known without a query
        return self._get_page(rows, number, self)


class PageNumberPagination(StrictPageSizeMixin, pagination.PageNumberPagination):
    """``?page=N&page_size=M`` (at most ``CRUCIBLE_API_MAX_PAGE_SIZE``). For small and medium lists.
    ``count`` is exact; it costs a query only when the page is full (``CountWhenNeededPaginator``)."""

    django_paginator_class = CountWhenNeededPaginator
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE

    def get_page_number(self, request, paginator):
        """``page`` given empty or twice is a 400 (DRF read an empty one as the first page)."""
        values = request.query_params.getlist(self.page_query_param)
        if len(values) > 1:
            raise ApiValidationError({self.page_query_param: ["Give this parameter once."]})
        if values and values[0] == "":
            raise ApiValidationError(
                {self.page_query_param: ["This parameter may not be empty; leave it out for the first page."]}
            )
        if values and values[0] not in self.last_page_strings and not (values[0].isascii() and values[0].isdigit()):
            # int() would read "1\r", " 2" or "+3" as a page number; the schema says integer.
            raise ApiValidationError({self.page_query_param: ["A page number is a whole number."]})
        return super().get_page_number(request, paginator)


class CursorPagination(StrictPageSizeMixin, pagination.CursorPagination):
    """Keyset pagination for large, append-mostly lists (executions, traces, builds, assignments):
    stable under inserts and constant cost per page, however deep. Ordering comes from
    ``?ordering=`` when the view allows it, else the view's ``cursor_ordering``.

    The list is ordered by its sort fields and then by id in the same direction, and a cursor
    holds their values in the row it stops at (``p``, one per field, and ``k``): the next page is
    the rows after it, one row comparison ``(field, id) < (value, id)`` that an index on
    ``(team, field, id)`` serves as a bound. DRF's own cursor keeps the first sort field alone
    plus an offset among rows of equal value, capped at 1,000, in an order PostgreSQL leaves free
    among those rows: walking the traces by error count (most have none) gave 1,000 rows of which
    673 were distinct."""

    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
    ordering = "-created_at"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self._model = queryset.model
        self.ordering = self._keyset(self.get_ordering(request, queryset, view))
        self.cursor = self.decode_cursor(request)
        reverse, position = (False, None) if self.cursor is None else (self.cursor.reverse, self.cursor.position)

        ordering = [reversed_term(term) for term in self.ordering] if reverse else self.ordering
        queryset = queryset.order_by(*ordering)
        if position is not None:
            queryset = queryset.filter(self._after(ordering, position))
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        self.page = rows[: self.page_size]
        if reverse:
            self.page.reverse()
            self.has_previous, self.has_next = more, position is not None
        else:
            self.has_previous, self.has_next = position is not None, more
        if (self.has_previous or self.has_next) and self.template is not None:
            self.display_page_controls = True
        return self.page

    def _keyset(self, ordering) -> tuple[str, ...]:
        """The sort fields, then the id in the same direction (the order of rows with equal values).
        A row comparison goes one way: fields sorted both ways are a 400 naming ``ordering``."""
        if len({term.startswith("-") for term in ordering}) > 1:
            raise ApiValidationError(
                {"ordering": ["On this list the sort fields go one way: all with a leading '-' or none."]}
            )
        keys = []
        for term in ordering:
            keys.append(term)
            if term.lstrip("-") in ("pk", self._model._meta.pk.name):
                return tuple(keys)  # unique: nothing after it orders anything
        return (*keys, "-pk" if ordering[0].startswith("-") else "pk")

    def _after(self, ordering, position):
        """The rows after ``position`` (the sort values and the id) in ``ordering``: one row comparison."""
        names = [term.lstrip("-") for term in ordering]
        values, key = position
        typed = [self._field(name).to_python(value) for name, value in zip(names, values, strict=False)]
        columns = Tuple(*(F(name) for name in names))
        row = (*typed, int(key))[: len(names)]
        return TupleLessThan(columns, row) if ordering[0].startswith("-") else TupleGreaterThan(columns, row)

    def _field(self, name):
        return self._model._meta.pk if name == "pk" else self._model._meta.get_field(name)

    def _sort_names(self) -> list[str]:
        """The sort fields a cursor holds values of: all but a trailing id, which it holds as ``k``."""
        names = [term.lstrip("-") for term in self.ordering]
        return names[:-1] if names[-1] == "pk" else names

    def _position_of(self, row) -> tuple[tuple[str, ...], str]:
        return tuple(str(getattr(row, name)) for name in self._sort_names()), str(row.pk)

    def get_next_link(self):
        if not self.has_next:
            return None
        position = self._position_of(self.page[-1]) if self.page else self.cursor.position
        return self.encode_cursor(pagination.Cursor(offset=0, reverse=False, position=position))

    def get_previous_link(self):
        if not self.has_previous:
            return None
        # An empty page after the last row: the previous page is the list's last one.
        position = self._position_of(self.page[0]) if self.page else None
        return self.encode_cursor(pagination.Cursor(offset=0, reverse=True, position=position))

    def encode_cursor(self, cursor):
        tokens = [("r", "1")] if cursor.reverse else []
        if cursor.position is not None:
            values, key = cursor.position
            tokens += [*(("p", value) for value in values), ("k", key)]
        encoded = b64encode(parse.urlencode(tokens).encode("ascii")).decode("ascii")
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

    def decode_cursor(self, request):
        """A cursor this API gave out, else 404: a tampered ``p=abc``, ``p=nan``, ``p=1e308`` on an
        id, a NUL, an id out of range, or values that do not match the sort fields would reach the
        database as an error (a 500) or a wrong page."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            tokens = parse.parse_qs(b64decode(encoded.encode("ascii")).decode("ascii"), keep_blank_values=True)
            reverse = tokens.get("r", ["0"]) == ["1"]
            values, keys = tokens.get("p", []), tokens.get("k", [])
        except (TypeError, ValueError, UnicodeError, binascii.Error):
            raise NotFound(self.invalid_cursor_message) from None
        if not values and not keys:  # the first page, or (reverse) the last
            return pagination.Cursor(offset=0, reverse=True, position=None) if reverse else None
        names = self._sort_names()
        if (
            len(keys) != 1
            or not _is_id(keys[0])
            or len(values) != len(names)
            or not all(self._value_is_valid(name, value) for name, value in zip(names, values, strict=True))
        ):
            raise NotFound(self.invalid_cursor_message)
        return pagination.Cursor(offset=0, reverse=reverse, position=(tuple(values), keys[0]))

    def _value_is_valid(self, name: str, text: str) -> bool:
        if "\x00" in text:
            return False
        field = self._field(name)
        try:
            value = field.to_python(text)
        except (ValidationError, ValueError, TypeError, OverflowError):
            return False
        if isinstance(field, (models.IntegerField, models.AutoField)) and value is not None:
            return -_BIGINT - 1 <= value <= _BIGINT
        if isinstance(value, float):
            return math.isfinite(value)
        if hasattr(value, "is_finite"):  # Decimal
            return value.is_finite()
        if isinstance(value, datetime):  # the API writes the offset; a time without one is not its
            return timezone.is_aware(value)
        return value is not None

    def get_ordering(self, request, queryset, view):
        ordering = getattr(view, "cursor_ordering", None)
        if ordering:
            return (ordering,) if isinstance(ordering, str) else tuple(ordering)
        return super().get_ordering(request, queryset, view)


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) <= _BIGINT
