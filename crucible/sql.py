"""Raw SQL with names: named parameters in, named rows out.

Raw SQL stays where the ORM cannot say it as fast (rollup upserts, GROUPING SETS, window
functions), but nothing in it is read by position: parameters are ``%(name)s`` and passed as a
mapping, and each row comes back as a ``row_type`` built from the column names (a ``NamedTuple``
or dataclass whose fields are the SELECT's column aliases; ``dict`` by default).

    class Point(NamedTuple):
        t: datetime
        variant_id: int
        results: int

    points = fetch_rows(
        "SELECT date_trunc('hour', bucket) AS t, variant_id, sum(results) AS results "
        "FROM improvement_variantbucket WHERE experiment_id = %(experiment)s GROUP BY 1, 2",
        {"experiment": experiment.pk},
        Point,
    )

A literal ``%`` in such SQL is written ``%%``.

``fetch_rows`` and ``fetch_one`` read where the router reads (``crucible.db_router.read_alias``:
the replica in the GET requests of list and dashboard views, else the primary) when the statement
is a plain read; a statement that writes (``INSERT ... RETURNING``, ``SELECT ... FOR UPDATE``) always
runs on the primary, as does ``execute``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from psycopg import pq
from psycopg import sql as psycopg_sql

from crucible.db_router import read_alias

T = TypeVar("T")


def _named(params: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError("Raw SQL takes named parameters: pass a mapping for %(name)s placeholders.")
    return params


_READ = re.compile(r"\s*(select|with)\b", re.IGNORECASE)
# A statement that may write: sent to the primary even from a view that reads the replica.
_MAY_WRITE = re.compile(
    r"\b(insert|update|delete|merge|nextval|setval|pg_(?:try_)?advisory\w*|pg_notify)\b", re.IGNORECASE
)


def is_plain_read(sql: str) -> bool:
    """A statement a read replica can run: a SELECT or WITH that names nothing that writes."""
    return bool(_READ.match(sql)) and not _MAY_WRITE.search(sql)


def _read_connection(sql: str):
    alias = read_alias()
    if alias == DEFAULT_DB_ALIAS or not is_plain_read(sql):
        return connection
    return connections[alias]


def _column_names(cursor) -> list[str]:
    # Read from psycopg's result: ``cursor.description`` builds a Column object (with its type
    # looked up) per column, a tenth of a small select's Python time (issue 16).
    result = getattr(cursor.cursor, "pgresult", None)
    if result is None:
        return [col.name for col in cursor.description]
    return [result.fname(i).decode() for i in range(result.nfields)]


def fetch_rows(
    sql: str, params: Mapping[str, Any] | None = None, row_type: Callable[..., T] = dict, *, binary: bool = False
) -> list[T]:
    """Every row of ``sql`` as ``row_type(**{column: value})``. ``binary``: the rows in
    PostgreSQL's binary format, for large reads of numbers, texts, timestamps and arrays (a
    dashboard's hundreds of 134-bucket histograms parse in a third of the time of their text). Not
    for other types: a type psycopg has no binary loader for (an enum, say) would come back as
    bytes."""
    with _read_connection(sql).cursor() as cursor:
        if binary:
            cursor.cursor.format = pq.Format.BINARY  # psycopg's documented switch, on Django's cursor
        cursor.execute(sql, _named(params))
        names = _column_names(cursor)
        records = cursor.fetchall()
    if row_type is dict:  # the dict of each row is the row (not copied into a second one)
        return [dict(zip(names, record, strict=True)) for record in records]
    return [row_type(**dict(zip(names, record, strict=True))) for record in records]


def fetch_one(sql: str, params: Mapping[str, Any] | None = None, row_type: Callable[..., T] = dict) -> T | None:
    """The first row of ``sql`` (see ``fetch_rows``), or None."""
    with _read_connection(sql).cursor() as cursor:
        cursor.execute(sql, _named(params))
        names = _column_names(cursor)
        record = cursor.fetchone()
    return None if record is None else row_type(**dict(zip(names, record, strict=True)))


def execute(sql: str, params: Mapping[str, Any] | None = None) -> int:
    """Run a statement with named parameters; the number of rows it touched."""
    with connection.cursor() as cursor:
        cursor.execute(sql, _named(params))
        return cursor.rowcount


def literal(value: str) -> str:
    """``value`` as SQL text: a string literal quoted by psycopg (``'o''brien'``), its ``%``
    doubled for a statement with parameters. For a value the plan depends on, where a bound
    parameter would let a prepared statement's generic plan, made once for any value, read the
    wrong index for this one (``observability.models.trace_tagged``). The statement is then
    prepared per value, like any other text (psycopg keeps the last ``prepared_max`` of a
    connection). Not for values that vary per row: a statement's text would never repeat."""
    return psycopg_sql.Literal(value).as_string(None).replace("%", "%%")
