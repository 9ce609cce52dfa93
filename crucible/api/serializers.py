import re

from django.core import validators as django_validators
from rest_framework import relations, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject
from rest_framework.validators import ProhibitSurrogateCharactersValidator

# Validators of limits (sizes and bounds). Services check limits (crucible.limits, with every bad
# field named at once); an input serializer only shapes input.
LIMIT_VALIDATORS = (
    django_validators.MaxLengthValidator,
    django_validators.MinLengthValidator,
    django_validators.MaxValueValidator,
    django_validators.MinValueValidator,
)


def _blank_form_value(data, field, value) -> bool:
    """An empty form value for a field that takes no empty text: DRF reads it as null when the
    field allows null (``until=``) and as absent when it has a default (``category=``), where the
    schema calls "" invalid (a date-time, an enum)."""
    return (
        hasattr(data, "getlist")  # a form body (QueryDict), not JSON
        and value == ""
        and field is not None
        and not field.read_only
        and not getattr(field, "allow_blank", False)
    )


def _object_part_in_a_form(data, field) -> bool:
    """A form body (QueryDict) with a part named after an object field, or a list of objects:
    DRF reads those from ``name.key`` or ``name[0]key`` parts and would drop the bare part
    silently, storing the default instead (an ``errors`` part of JSON text became ``[]``)."""
    if not hasattr(data, "getlist") or field is None or field.read_only:
        return False
    if isinstance(field, (serializers.DictField, serializers.Serializer, serializers.ListSerializer)):
        return True
    return isinstance(field, serializers.ListField) and isinstance(
        field.child, (serializers.DictField, serializers.Serializer)
    )


def _list_items_of_the_wrong_type(data, field, value) -> dict:
    """{index or key: [message]} for the items of a JSON list (or values of an object) that are not
    of its type (``{"stack": {"db": 0}}`` where the schema says text values): DRF's
    CharField reads ``[0]`` as ``["0"]`` and its IntegerField ``["12"]`` (or ``["١٢"]``) as
    ``[12]``, where the schema says an array of strings, or of integers."""
    if hasattr(data, "getlist") or not isinstance(field, (serializers.ListField, serializers.DictField)):
        return {}
    if field.read_only or not isinstance(value, list if isinstance(field, serializers.ListField) else dict):
        return {}
    child = field.child
    if isinstance(child, serializers.CharField):
        wrong, message = (lambda item: not isinstance(item, str)), "Not a valid string."
    elif isinstance(child, (serializers.IntegerField, serializers.FloatField)):
        wrong, message = (lambda item: _not_a_number(data, child, item)), "A valid number is required."
    elif isinstance(child, serializers.BooleanField):
        wrong, message = (lambda item: not isinstance(item, bool)), "Must be a valid boolean."
    else:
        return {}
    items = value.items() if isinstance(value, dict) else enumerate(value)
    return {key: [message] for key, item in items if item is not None and wrong(item)}


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
                elif items := _list_items_of_the_wrong_type(data, field, value):
                    errors[name] = items
                elif _not_a_boolean(field, value):
                    # DRF reads 0, 1, "yes", "on"... as booleans; the schema says true or false.
                    errors[name] = ["Must be a valid boolean."]
                elif _object_part_in_a_form(data, field):
                    errors[name] = ["A form cannot carry this object: send the body as JSON (application/json)."]
                elif _blank_form_value(data, field, value):
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


# Field classes whose output depends only on the value (and the settings), never on the
# serializer they are bound to or its context: one bound copy may serve every request.
_SHAREABLE_FIELDS = (
    serializers.BooleanField,
    serializers.CharField,  # and its subclasses: email, slug, URL, regex, UUID as text
    serializers.ChoiceField,
    serializers.DateField,
    serializers.DateTimeField,
    serializers.DecimalField,  # and crucible.api.fields.MoneyField
    serializers.FloatField,
    serializers.IntegerField,
    serializers.JSONField,
    serializers.ReadOnlyField,
    serializers.UUIDField,
    # related objects written as their key, slug or text (not as links, which need the request)
    relations.PrimaryKeyRelatedField,
    relations.SlugRelatedField,
    relations.StringRelatedField,
)
_DRF_MODULES = ("rest_framework.fields", "rest_framework.relations")
# Serializer methods that decide the fields per instance (so per request): such a serializer's
# fields are never shared.
_PER_INSTANCE_FIELDS = ("__init__", "get_fields", "fields")


def _drf_output(field) -> bool:
    # A subclass that changes how a value is written (a project field) is not value-only by default.
    return type(field).to_representation.__module__ in _DRF_MODULES


def _fields_per_instance(serializer_class) -> bool:
    for klass in serializer_class.__mro__:
        if klass in (object, StaticFieldsMixin) or klass.__module__.startswith("rest_framework"):
            continue
        if any(name in vars(klass) for name in _PER_INSTANCE_FIELDS):
            return True
    return False


def _shareable(field) -> bool:
    """Whether one bound copy of ``field`` writes every request's value as DRF would: its output
    depends on the value only. A nested serializer (or a list of one) is when all its fields are
    (no ``SerializerMethodField``, which may read the request's context)."""
    if isinstance(field, serializers.ListSerializer):
        return type(field).to_representation is serializers.ListSerializer.to_representation and _shareable(field.child)
    if isinstance(field, serializers.BaseSerializer):
        return (
            type(field).to_representation
            in (serializers.Serializer.to_representation, StaticFieldsMixin.to_representation)
            and not _fields_per_instance(type(field))
            and all(_shareable(f) for f in field.fields.values() if not f.write_only)
        )
    if isinstance(field, relations.ManyRelatedField):
        return _drf_output(field) and _shareable(field.child_relation)
    if isinstance(field, (serializers.ListField, serializers.DictField)):
        return _drf_output(field) and _shareable(field.child)
    return isinstance(field, _SHAREABLE_FIELDS) and _drf_output(field)


class StaticFieldsMixin:
    """For an output serializer whose fields never depend on the request: its fields are built
    once per process, not for every response (DRF builds and deep-copies a serializer's fields
    for each response, most of a small list's serializing cost; issue 16). Every list and detail
    serializer of the API has it, through ``OutputSerializer`` / ``OutputModelSerializer``
    (``tests/crucible/test_static_fields.py`` checks each, and that its answers are DRF's).

    The output is DRF's own loop over the same fields, so it stays what the OpenAPI schema says.
    ``SerializerMethodField`` methods run on the serializer of the request (they may read
    ``self.context``). Shared: the value-only fields of ``_SHAREABLE_FIELDS``, lists and dicts of
    them, and nested serializers made only of them; a serializer with any other field (a link, a
    project field with its own output, a nested serializer with a method field) or that decides
    its fields per instance (``__init__``, ``get_fields``) uses DRF's path unchanged."""

    @classmethod
    def static_fields(cls) -> list | None:
        """[(name, field or None, method name or None)] for the readable fields, or None when a
        field cannot be shared. Built on first use, from a serializer without context."""
        plan = cls.__dict__.get("_crucible_static_fields", False)
        if plan is False:
            plan = None if _fields_per_instance(cls) else []
            for name, field in cls().fields.items() if plan is not None else ():
                if field.write_only:
                    continue
                if isinstance(field, serializers.SerializerMethodField):
                    plan.append((name, None, field.method_name))
                elif _shareable(field):
                    plan.append((name, field, None))
                else:
                    plan = None
                    break
            cls._crucible_static_fields = plan
        return plan

    def to_representation(self, instance):
        plan = self.static_fields()
        if plan is None:
            return super().to_representation(instance)
        row = {}
        for name, field, method in plan:
            if method is not None:
                row[name] = getattr(self, method)(instance)
                continue
            try:
                value = field.get_attribute(instance)
            except SkipField:
                continue
            # as DRF's Serializer.to_representation: a related key stands for its object
            check_for_none = value.pk if isinstance(value, PKOnlyObject) else value
            row[name] = None if check_for_none is None else field.to_representation(value)
        return row


class OutputSerializer(StaticFieldsMixin, serializers.Serializer):
    """The base of every output serializer (list and detail answers): fields built once per
    process (``StaticFieldsMixin``)."""


class OutputModelSerializer(StaticFieldsMixin, serializers.ModelSerializer):
    """``OutputSerializer`` for a model's rows."""


# --- input: small text bodies -------------------------------------------------------------------

# The validators DRF gives a CharField by itself (its max_length / min_length, NUL and surrogates).
_TEXT_VALIDATORS = (
    django_validators.MaxLengthValidator,
    django_validators.MinLengthValidator,
    django_validators.ProhibitNullCharactersValidator,
    ProhibitSurrogateCharactersValidator,
)
_REFUSED_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
# Methods by which an input serializer would do more than its fields: such a class has no plan.
_INPUT_HOOKS = ("to_internal_value", "run_validation", "validate", "get_fields", "fields", "__init__")


def _text_input_plan(serializer_class) -> tuple | None:
    """((name, required, allow_blank, min_length, max_length), ...) when every field of
    ``serializer_class`` is a plain text field (``CharField`` with only its own validators) and
    the class adds no validation of its own beyond ``StrictFieldsMixin``; else None."""
    for klass in serializer_class.__mro__:
        if klass in (object, StrictFieldsMixin) or klass.__module__.startswith("rest_framework"):
            continue
        members = vars(klass)
        if any(hook in members for hook in _INPUT_HOOKS) or any(m.startswith("validate_") for m in members):
            return None
    if hasattr(serializer_class, "Meta"):  # serializer-level validators, model fields
        return None
    plan = []
    for name, field in serializer_class().fields.items():
        if (
            type(field) is not serializers.CharField
            or field.read_only
            or field.source != name
            or field.default is not serializers.empty
            or not field.trim_whitespace
            or not all(isinstance(v, _TEXT_VALIDATORS) for v in field.validators)
        ):
            return None
        plan.append((name, field.required, field.allow_blank, field.min_length or 0, field.max_length))
    return tuple(plan)


def plain_text_input(serializer_class, data) -> dict | None:
    """The validated data of ``data`` for an input serializer made only of text fields
    (``_text_input_plan``), without building the serializer, when DRF would take every value
    exactly as sent: a JSON object with known keys only, each a string with no surrounding white
    space, no NUL or surrogate, within its lengths, and every required field there. None for
    anything else: the caller then runs the serializer itself, which names the bad fields in the
    one error shape (so answers never differ; ``tests/crucible/test_plain_text_input.py``). For
    the hottest small bodies (``select``), where building and running the serializer is a tenth
    of the request's Python."""
    plan = vars(serializer_class).get("_crucible_text_input_plan", False)
    if plan is False:
        plan = _text_input_plan(serializer_class)
        serializer_class._crucible_text_input_plan = plan
    if plan is None or type(data) is not dict:
        return None
    found = 0
    for name, required, allow_blank, min_length, max_length in plan:
        value = data.get(name, _ABSENT)
        if value is _ABSENT:
            if required:
                return None
            continue
        found += 1
        if (
            type(value) is not str
            or (not value and not allow_blank)
            or value != value.strip()
            or len(value) < min_length
            or (max_length is not None and len(value) > max_length)
            or _REFUSED_CHARACTERS.search(value)
        ):
            return None
    return dict(data) if found == len(data) else None  # any other key: an unknown field


_ABSENT = object()
