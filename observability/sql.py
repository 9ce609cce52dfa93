"""Running one big statement with server-side parameter binding (ingest, rollups, deletion).

The same contract as ``crucible.sql`` (named parameters in, named rows out), but the statement is
bound server-side by psycopg: the arrays travel as parameters (Django's default client-side binding
would quote every element into the SQL text in Python, which costs more than the statement itself).
A list parameter travels as one array literal made by ``pg_array`` (psycopg's list dumper quotes
each element with a regular expression: a third of an ingest request's Python time); the SQL casts
it (``%(ids)s::bigint[]``). Same connection and transaction as the ORM."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from django.db import connection

T = TypeVar("T")


def _element(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"No array literal for a {type(value).__name__}.")


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def pg_array(values) -> str:
    """A PostgreSQL array literal of ``values`` (text, numbers, booleans, dates and times, None as
    NULL; text is always quoted), to be cast by the statement: ``%(name)s::text[]``."""
    kinds = {type(value) for value in values}
    if kinds == {str}:
        return "{" + ",".join([_quoted(value) for value in values]) + "}"
    if kinds <= {int, float, Decimal}:
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join([_element(value) for value in values]) + "}"


def _named(params: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(params, Mapping):
        raise TypeError("Raw SQL takes named parameters: pass a mapping for %(name)s placeholders.")
    return {name: pg_array(value) if isinstance(value, (list, tuple)) else value for name, value in params.items()}


def _cursor():
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def fetch_rows(sql: str, params: Mapping[str, Any], row_type: Callable[..., T] = dict) -> list[T]:
    """Every row of ``sql`` as ``row_type(**{column: value})``."""
    with _cursor() as cursor:
        cursor.execute(sql, _named(params))
        names = [col.name for col in cursor.description]
        return [row_type(**dict(zip(names, record, strict=True))) for record in cursor.fetchall()]


def execute(sql: str, params: Mapping[str, Any]) -> int:
    """Run a statement with named parameters; the number of rows it touched."""
    with _cursor() as cursor:
        cursor.execute(sql, _named(params))
        return cursor.rowcount
