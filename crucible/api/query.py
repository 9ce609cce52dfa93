"""Query strings are held to the schema like bodies are: a filter or pagination parameter that
the OpenAPI schema calls invalid is refused with a 400 naming it, instead of being quietly
ignored (django-filter skips an empty ``?retired=`` and an unknown boolean such as ``null``; DRF
falls back to the default page size for ``page_size=-3``), so a client learns of its typo."""

from __future__ import annotations

import re

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django_filters import rest_framework as filters
from rest_framework import filters as drf_filters
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from crucible.lists import ordering_terms

BOOLEAN_VALUES = {"true", "false", "1", "0"}
MULTI_VALUED = (filters.MultipleChoiceFilter, filters.ModelMultipleChoiceFilter)


def single_values(query_params, names) -> dict[str, list[str]]:
    """{name: [message]} for each of ``names`` given more than once (the last would silently win)."""
    return {name: ["Give this parameter once."] for name in names if len(query_params.getlist(name)) > 1}


WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def _whole_number_filter(filterset_class, declared) -> bool:
    """A number filter on an integer column that the schema documents as an integer (a filter
    with a schema of its own, ``extend_schema_field``, says otherwise: quality bounds are numbers)."""
    if not isinstance(declared, filters.NumberFilter) or "__" in (declared.field_name or ""):
        return False
    if getattr(declared, "_spectacular_annotation", None):
        return False
    try:
        field = filterset_class._meta.model._meta.get_field(declared.field_name)
    except (AttributeError, FieldDoesNotExist):
        return False
    return isinstance(field, (models.IntegerField, models.AutoField)) and not field.is_relation


def filter_problems(filterset_class, query_params) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, declared in filterset_class.base_filters.items():
        if name not in query_params:
            continue
        values = query_params.getlist(name)
        if not isinstance(declared, MULTI_VALUED) and len(values) > 1:
            errors[name] = ["Give this parameter once."]
            continue
        for value in values:
            if value == "" and not isinstance(declared, filters.CharFilter):
                errors[name] = ["This parameter may not be empty; leave it out to not filter on it."]
            elif isinstance(declared, filters.BooleanFilter) and value.lower() not in BOOLEAN_VALUES:
                errors[name] = ["Must be true or false."]
            elif _whole_number_filter(filterset_class, declared) and not WHOLE_NUMBER.fullmatch(value):
                # django-filter reads ?stars=0.5 as a decimal; the schema says integer.
                errors[name] = ["A whole number."]
    return errors


def _plain_filterset(filterset_class) -> bool:
    """Whether ``filterset_class`` filters only through its filters, each a no-op for an absent
    parameter (django-filter's own rule: an empty value does not filter): no override of the
    filtering or of the form, and no required filter. Cached per class."""
    plain = filterset_class.__dict__.get("_crucible_plain")
    if plain is None:
        base = filters.FilterSet
        plain = (
            all(getattr(filterset_class, name) is getattr(base, name) for name in ("filter_queryset", "qs", "form"))
            and filterset_class.get_form_class is base.get_form_class
            and filterset_class._meta.form is base._meta.form
            and not any(f.extra.get("required") for f in filterset_class.base_filters.values())
        )
        filterset_class._crucible_plain = plain
    return plain


def names_a_filter(filterset_class, query_params) -> bool:
    """Whether the query string may reach one of the filters: a parameter named as a filter, or
    as one of its form's sub-fields (``created_after``, ``price_min``, ``range_0``)."""
    names = filterset_class.base_filters.keys()
    return any(key == name or key.startswith(f"{name}_") for key in query_params for name in names)


class StrictFilterBackend(filters.DjangoFilterBackend):
    """django-filter's backend, refusing empty, repeated and non-boolean values that its forms
    would skip (the form's own errors are a 400 already).

    A request whose query string names none of a plain FilterSet's filters gets the queryset
    unchanged without building the FilterSet (django-filter deep-copies every filter and builds a
    form class per request: most of a small list's filtering cost, for a no-op; issue 16)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        if _plain_filterset(filterset_class) and not names_a_filter(filterset_class, request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)

    def get_filterset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            errors = filter_problems(filterset_class, request.query_params)
            if errors:
                raise ValidationError(errors)
        return super().get_filterset(request, queryset, view)


class StrictOrderingFilter(drf_filters.OrderingFilter):
    """DRF's ``?ordering=``, with the pages' rule for empty values (``crucible.lists.ordering_terms``:
    NULL sorts below every value), refusing what DRF would silently drop: a term naming no field the
    view sorts by (``ordering=bogus``, ``-cost`` where only start and duration sort, an empty term) is a
    400 naming ``ordering`` and the values it takes. The schema lists those values (an enum) where
    the view names its ``ordering_fields``."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            # The terms DRF keeps (its own rule), split as DRF splits them: every other is refused.
            terms = [term.strip() for term in params.split(",")]
            kept = self.remove_invalid_fields(queryset, terms, view, request)
            unknown = [term for term in terms if term not in kept]
            if unknown:
                valid = [name for name, _ in self.get_valid_fields(queryset, view, {"request": request})]
                raise ValidationError(
                    {
                        self.ordering_param: [
                            f"Cannot sort by {', '.join(repr(term) for term in unknown)}; "
                            f"sort by one of: {', '.join(valid)} (a leading '-' reverses)."
                        ]
                    }
                )
        return super().get_ordering(request, queryset, view)

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        return queryset.order_by(*ordering_terms(queryset.model, ordering)) if ordering else queryset

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        fields = getattr(view, "ordering_fields", None)
        if isinstance(fields, (list, tuple)):
            for parameter in parameters:
                if parameter["name"] == self.ordering_param:
                    parameter["schema"] = {"type": "string", "enum": [v for f in fields for v in (f, f"-{f}")]}
        return parameters


class StrictQueryMixin:
    """For a serializer that reads a query string: a parameter that is not text, given empty
    (``?range=``) or more than once, is a 400 naming it. DRF reads a QueryDict as a form and
    quietly treats an empty value as absent, where the schema's enum or format refuses it."""

    def to_internal_value(self, data):
        getlist = getattr(data, "getlist", None)
        if getlist is not None:
            errors = single_values(data, [name for name in self.fields if name in data])
            for name, field in self.fields.items():
                if name in data and name not in errors and not isinstance(field, serializers.CharField):
                    if any(value == "" for value in getlist(name)):
                        errors[name] = ["This parameter may not be empty; leave it out to use the default."]
            if errors:
                raise ValidationError(errors)
        return super().to_internal_value(data)
