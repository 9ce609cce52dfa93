"""Checks shared by the marketplace services: version numbers, JSON Schemas, tags, model hints
and named text fields. Each raises ``ValidationError`` naming its field."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from jsonschema import Draft202012Validator
from jsonschema import exceptions as jsonschema_exceptions
from jsonschema.validators import validator_for

from crucible import limits
from crucible import validation as v
from marketplace import conf
from marketplace.versioning import InvalidVersion, SemVer

MAX_TAG_CHARS = 40


def parse_version(text, field: str = "version") -> SemVer:
    try:
        return SemVer.parse(text)
    except InvalidVersion as exc:
        raise ValidationError({field: str(exc)}) from None


def validate_json_schema(schema, field: str):
    """``None`` (no schema) or a JSON Schema document that passes its metaschema
    (Draft 2020-12 unless ``$schema`` names another draft)."""
    if schema is None:
        return None
    if not isinstance(schema, (dict, bool)):
        raise ValidationError({field: "A JSON Schema is an object (or true/false)."})
    size = len(json.dumps(schema))
    if size > conf.MAX_SCHEMA_BYTES:
        raise ValidationError({field: f"The schema is {size} bytes; at most {conf.MAX_SCHEMA_BYTES} are allowed."})
    validator_cls = Draft202012Validator
    if isinstance(schema, dict) and "$schema" in schema:
        if not isinstance(schema["$schema"], str):
            raise ValidationError({field: "'$schema' must be a string naming a JSON Schema draft."})
        validator_cls = validator_for(schema, default=None)
        if validator_cls is None:
            raise ValidationError({field: f"Unknown JSON Schema draft '{schema['$schema']}'."})
    try:
        validator_cls.check_schema(schema)
    except jsonschema_exceptions.SchemaError as exc:
        where = "/".join(str(part) for part in exc.absolute_path)
        raise ValidationError(
            {field: f"Not a valid JSON Schema{' at ' + where if where else ''}: {exc.message}"}
        ) from None
    return schema


def clean_tags(tags) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [tag for tag in tags.split(",") if tag.strip()]
    if not isinstance(tags, (list, tuple)):
        raise ValidationError({"tags": "Tags are a list of short words."})
    if len(tags) > conf.MAX_TAGS:
        raise ValidationError({"tags": f"At most {conf.MAX_TAGS} tags."})
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise ValidationError({"tags": "Each tag is a string."})
        if len(tag.strip()) > MAX_TAG_CHARS:
            raise ValidationError({"tags": f"A tag has at most {MAX_TAG_CHARS} characters."})
        cleaned = slugify(tag.strip())[:MAX_TAG_CHARS]
        if tag.strip() and not cleaned:
            raise ValidationError({"tags": f"'{tag}' has no letters or digits."})
        if cleaned and cleaned not in out:
            out.append(cleaned)
    return out


def _clean_model_hints(hints):
    if hints is None:
        return {}
    if not isinstance(hints, dict):
        raise ValidationError(
            {"model_hints": 'Model hints are an object, e.g. {"model": "gpt-4o", "temperature": 0.2}.'}
        )
    if len(json.dumps(hints)) > conf.MAX_SCHEMA_BYTES:
        raise ValidationError({"model_hints": "Model hints are too large."})
    return hints


def _clean_text(value, field: str, max_length: int, required: bool = False) -> str:
    """``crucible.validation.text`` for one named field (short texts are stripped, long ones such
    as prompts and Markdown kept as written)."""
    try:
        return v.text(value, max_length=max_length, required=required, strip=max_length <= limits.SHORT_TEXT_CHARS)
    except v.Invalid as exc:
        raise ValidationError({field: exc.message}) from None
