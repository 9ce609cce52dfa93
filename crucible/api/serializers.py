from django.core import validators as django_validators
from rest_framework import serializers

# Validators of limits (sizes and bounds). Services check limits (crucible.limits, with every bad
# field named at once); an input serializer only shapes input.
LIMIT_VALIDATORS = (
    django_validators.MaxLengthValidator,
    django_validators.MinLengthValidator,
    django_validators.MaxValueValidator,
    django_validators.MinValueValidator,
)


def _blank_form_value_for_text(data, field, value) -> bool:
    return (
        hasattr(data, "getlist")  # a form body (QueryDict), not JSON
        and isinstance(field, serializers.CharField)
        and not field.read_only
        and not field.allow_blank
        and value == ""
    )


def _not_a_boolean(field, value) -> bool:
    if not isinstance(field, serializers.BooleanField) or field.read_only or value is None:
        return False
    # true or false; in a form body or a query string, the words for them
    return not (isinstance(value, bool) or (isinstance(value, str) and value.lower() in {"true", "false"}))


def _not_a_number(data, field, value) -> bool:
    # A JSON body's number is a number: DRF reads "5" as 5, where the schema says integer. Form
    # bodies and query strings only have text.
    if not isinstance(field, (serializers.IntegerField, serializers.FloatField)) or field.read_only:
        return False
    if hasattr(data, "getlist") or value is None:
        return False
    return isinstance(value, bool) or not isinstance(value, (int, float))


class StrictFieldsMixin:
    """Reject fields the serializer does not know (a typo such as ``qualty`` must not be
    silently ignored), and numbers or booleans where text belongs (DRF's CharField would turn
    ``{"name": 0.0}`` into ``"0.0"``), text or booleans where numbers belong, and anything but
    true or false for a boolean. Read-only fields sent by the client are ignored, as DRF does.
    A serializer of a query string handed over as a plain dict sets ``reads_query_string``."""

    reads_query_string = False

    def to_internal_value(self, data):
        if isinstance(data, dict):
            known = set(self.fields)
            errors = {str(key): ["Unknown field."] for key in data if key not in known}
            for name, value in data.items():
                field = self.fields.get(name)
                if (
                    isinstance(field, serializers.CharField)
                    and not field.read_only
                    and value is not None
                    and not isinstance(value, str)
                ):
                    errors[name] = ["Not a valid string."]
                elif not self.reads_query_string and _not_a_number(data, field, value):
                    errors[name] = ["A valid number is required."]
                elif _not_a_boolean(field, value):
                    # DRF reads 0, 1, "yes", "on"... as booleans; the schema says true or false.
                    errors[name] = ["Must be a valid boolean."]
                elif _blank_form_value_for_text(data, field, value):
                    # A form body sends an empty box as ""; DRF would quietly use the default
                    # (or null) instead, where a JSON body gets "may not be blank": one rule for
                    # both (null is sent by leaving the field out, or in JSON).
                    errors[name] = ["This field may not be blank."]
            if errors:
                # Report these together with every other field's problem, in one answer.
                try:
                    super().to_internal_value({k: v for k, v in data.items() if k not in errors})
                except serializers.ValidationError as exc:
                    if isinstance(exc.detail, dict):
                        for key, value in exc.detail.items():
                            errors.setdefault(key, value)
                raise serializers.ValidationError(dict(sorted(errors.items())))
        return super().to_internal_value(data)


class ShapeOnlyMixin:
    """For input serializers in front of a service that checks the values: the limits given to
    the fields (``max_length``, ``min_value``, ``max_value``) are documented in the OpenAPI schema
    but not enforced here, so the service (one place, ``crucible.limits``) reports every bad field
    at once with one message per rule. Types are still shaped here."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            for part in (field, getattr(field, "child", None)):
                if part is not None and not isinstance(part, serializers.BaseSerializer):
                    part.validators = [x for x in part.validators if not isinstance(x, LIMIT_VALIDATORS)]
        return fields
