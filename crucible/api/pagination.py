import math

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.core.paginator import Paginator as DjangoPaginator
from django.db import models
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError

from crucible.limits import BIGINT_MAX

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
    """Cursor pagination for large, append-mostly lists (executions, builds): stable under inserts
    and constant cost per page, however deep. Ordering comes from ``?ordering=`` when the view
    allows it, else the view's ``cursor_ordering``."""

    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
    ordering = "-created_at"

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        """DRF decodes the cursor but hands its position to the database unchecked: a tampered
        ``p=abc``, ``p=nan``, ``p=1e308`` or a NUL became a 500. A position that the ordering
        field cannot hold is an invalid cursor (404, like any other bad cursor)."""
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None and not self._position_is_valid(cursor.position):
            raise NotFound(self.invalid_cursor_message)
        return cursor

    def _position_is_valid(self, position: str) -> bool:
        if "\x00" in position:
            return False
        try:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        except (AttributeError, FieldDoesNotExist):
            return True
        try:
            value = field.to_python(position)
        except (ValidationError, ValueError, TypeError, OverflowError):
            return False
        if isinstance(field, (models.IntegerField, models.AutoField)) and value is not None:
            return -_BIGINT - 1 <= value <= _BIGINT
        if isinstance(value, float):
            return math.isfinite(value)
        if hasattr(value, "is_finite"):  # Decimal
            return value.is_finite()
        return True

    def get_ordering(self, request, queryset, view):
        ordering = getattr(view, "cursor_ordering", None)
        if ordering:
            return (ordering,) if isinstance(ordering, str) else tuple(ordering)
        return super().get_ordering(request, queryset, view)
