"""Which fields a unique-constraint violation is about, for the 409 of the error shape.

A service checks that a name is free before it writes (and answers 400 naming ``name``); two
concurrent requests can both pass that check, and the second INSERT then breaks the unique
constraint. PostgreSQL names the constraint; the model that declares it names its fields, so the
409 names the field the client chose (``name``), as the 400 would, not ``non_field_errors``.
"""

from __future__ import annotations

from functools import cache

from django.apps import apps
from django.db import IntegrityError
from django.db.models import UniqueConstraint

CONFLICT_MESSAGE = "This conflicts with data that already exists."


@cache
def _unique_keys() -> dict[str, tuple[type, tuple[str, ...]]]:
    """{constraint name: (model, field names)} for every unique constraint and unique field."""
    out: dict[str, tuple[type, tuple[str, ...]]] = {}
    for model in apps.get_models():
        opts = model._meta
        for constraint in opts.constraints:
            if isinstance(constraint, UniqueConstraint) and constraint.fields:
                out[constraint.name] = (model, tuple(constraint.fields))
        for field in opts.concrete_fields:
            if field.unique and not field.primary_key:
                # PostgreSQL's name for a column's UNIQUE (Django declares it inline, unnamed)
                out[f"{opts.db_table}_{field.column}_key"[:63]] = (model, (field.name,))
    return out


def conflict_fields(exc: IntegrityError) -> dict[str, list[str]]:
    """The fields to name for a broken unique constraint: those the client chose (not the scope
    it lives in: the team, or a parent object such as a variant's experiment); ``non_field_errors``
    for any other integrity error."""
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
    model, fields = _unique_keys().get(constraint or "", (None, ()))
    if model is None:
        return {"non_field_errors": [CONFLICT_MESSAGE]}
    opts = model._meta
    chosen = [name for name in fields if not opts.get_field(name).is_relation]
    named = chosen or [name for name in fields if name != "team"] or list(fields)
    return {
        name: [f"Already taken: another {opts.verbose_name} has this {opts.get_field(name).verbose_name}."]
        for name in named
    }
