"""Running one big statement with server-side parameter binding (ingest, rollups, deletion).

The same contract as ``crucible.sql`` (named parameters in, named rows out), but the statement is
bound server-side by psycopg: the arrays travel as parameters (Django's default client-side binding
would quote every element into the SQL text in Python, which costs more than the statement itself).
Same connection and transaction as the ORM."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db import connection

T = TypeVar("T")


def _named(params: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(params, Mapping):
        raise TypeError("Raw SQL takes named parameters: pass a mapping for %(name)s placeholders.")
    return params


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
