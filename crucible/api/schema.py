"""OpenAPI schema additions shared by every operation (a drf-spectacular postprocessing hook).

Every operation documents the error answers it can give, in the one error shape
(``crucible.api.exceptions``), so a client generated from the schema knows them and schema
conformance checks (schemathesis) hold: 400 when it takes input, 401/403 for credentials and
roles, 404 for objects, pages and cursors that are not there (another team's objects answer 404
too), 413/415 when it
takes a body, 429 for the shared throttles and 503 while the database is unreachable.
"""

from __future__ import annotations

from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema

from crucible.api.serializers import StrictFieldsMixin

ERROR_SCHEMA = {
    "type": "object",
    "description": "The one error shape: a code, a message, and the messages of each offending field.",
    "properties": {
        "code": {"type": "string", "example": "invalid"},
        "message": {"type": "string"},
        "fields": {
            "type": "object",
            "description": "Dotted field name -> messages; empty when no field is to blame.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["code", "message", "fields"],
}

DESCRIPTIONS = {
    "400": "Invalid input: every bad field is named in `fields`.",
    "401": "No credentials, or an invalid or revoked API key.",
    "403": "The caller's role does not allow this.",
    "404": (
        "No such object among the caller's teams' objects (another team's answers 404 too), a page or "
        "cursor past the list, or no team to act for."
    ),
    "413": "The request body is larger than the limit.",
    "415": "The request body's content type is not JSON (or a form, where accepted).",
    "429": "Over a rate limit; `Retry-After` says when to retry.",
    "503": "The database is unavailable or the request ran past its time limit; retry later.",
}
WRITE_METHODS = {"post", "put", "patch"}
METHODS = WRITE_METHODS | {"get", "delete"}


def _codes(method: str, operation: dict) -> list[str]:
    codes = ["401", "403", "404", "429", "503"]
    if operation.get("parameters") or method in WRITE_METHODS:
        codes.append("400")
    if method in WRITE_METHODS:
        codes += ["413", "415"]
    return codes


def add_error_responses(result, generator, request, public):
    """Add the error responses (and the ``Error`` component) that an operation can give and does
    not document yet; an operation's own description of a code is kept, given the error schema."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code in _codes(method, operation):
                documented = responses.setdefault(code, {"description": DESCRIPTIONS[code]})
                documented.setdefault("content", content)
    return result


class StrictAutoSchema(AutoSchema):
    """The schema says what the serializers enforce: a request body of a serializer that refuses
    unknown fields (``StrictFieldsMixin``) allows no other properties (``additionalProperties:
    false``), so a client, or a fuzzer, is not told extra fields are fine and then gets a 400."""

    def _process_override_parameters(self, direction="request"):
        """Query parameters exploded from a serializer: a text field refuses NUL characters (DRF's
        CharField validator), so the schema says so, as it does for filters (schemathesis: a
        ``?query=%00`` answered 400 where the schema promised any text)."""
        from drf_spectacular.plumbing import force_instance, is_basic_serializer
        from rest_framework import serializers

        result = super()._process_override_parameters(direction)
        for parameter in self.get_override_parameters():
            if not is_basic_serializer(parameter):
                continue
            for name, field in force_instance(parameter).fields.items():
                built = result.get((name, "query"))
                schema = built.get("schema") if built else None
                if isinstance(field, serializers.CharField) and schema and schema.get("type") == "string":
                    if "enum" not in schema and "format" not in schema:
                        schema.setdefault("pattern", NO_NUL)
        return result

    def _insert_field_validators(self, field, schema):
        """Every limit a field declares is in the schema, also where ``ShapeOnlyMixin`` leaves
        checking it to the service and so removed the validators drf-spectacular reads limits
        from: ``name`` said any length (a 400 past 100 characters), ``variants`` any count."""
        super()._insert_field_validators(field, schema)
        kind = schema.get("type")
        if kind == "string" and "enum" not in schema and "format" not in schema:
            bounds = (("maxLength", "max_length"), ("minLength", "min_length"))
        elif kind == "array":
            bounds = (("maxItems", "max_length"), ("minItems", "min_length"))
        elif kind in ("integer", "number"):
            bounds = (("maximum", "max_value"), ("minimum", "min_value"))
        else:
            return
        for key, attr in bounds:
            value = getattr(field, attr, None)
            if value is not None and not callable(value):
                schema.setdefault(key, _plain_number(value) if kind in ("integer", "number") else value)

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictFieldsMixin):
            schema["additionalProperties"] = False
        return schema


NO_NUL = "^[^\x00]*$"


class BoundedFilterExtension(DjangoFilterExtension):
    """django-filter parameters with the bounds their form fields enforce (``min_value``,
    ``max_value``, and django-filter's implicit 1e50 for numbers: ``?min_rating=-1`` is a 400, so
    the schema says ``minimum: 0``), text filters without NUL characters (a 400), and id filters
    (``crucible.filters.IdFilter``) as integers."""

    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        from django_filters import rest_framework as filters

        from crucible.filters import IdFilter

        parameters = super().resolve_filter_field(auto_schema, model, filterset_class, field_name, filter_field)
        for parameter in parameters:
            schema = parameter["schema"]
            if isinstance(filter_field, IdFilter):
                schema["type"] = "integer"
                schema.pop("format", None)
            for bound, key in (("minimum", "min_value"), ("maximum", "max_value")):
                if filter_field.extra.get(key) is not None and schema.get("type") in {"integer", "number"}:
                    schema.setdefault(bound, filter_field.extra[key])
            if isinstance(filter_field, filters.NumberFilter) and schema.get("type") in {"integer", "number"}:
                implicit = filter_field.get_max_validator()  # django-filter's own 1e50
                if implicit is not None:
                    # the float's exact value: 10**50 + 1 is below the float 1e50, so it is accepted
                    schema.setdefault("maximum", int(implicit.limit_value))
            if isinstance(filter_field, filters.CharFilter) and schema.get("type") == "string":
                schema.setdefault("pattern", NO_NUL)  # Django's form fields refuse NUL characters
        return parameters


def _plain_number(value):
    return int(value) if value == int(value) else float(value)


class MoneyInputFieldExtension(OpenApiSerializerFieldExtension):
    """``crucible.api.fields.MoneyInputField`` as it reads input: a JSON number within its bounds,
    or (``allow_text``) also its decimal text. DRF's DecimalField schema said "a string" only, so a
    JSON number looked invalid and was accepted (schemathesis: ``{"cost": 0}`` on a build report)."""

    target_class = "crucible.api.fields.MoneyInputField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        number = {"type": "number"}
        for bound, key in (("minimum", "min_value"), ("maximum", "max_value")):
            if getattr(field, key, None) is not None:
                number[bound] = _plain_number(getattr(field, key))
        if not field.allow_text:
            return number
        return {"oneOf": [number, {"type": "string", "format": "decimal", "maxLength": 100}]}
