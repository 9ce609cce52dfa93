"""Running one big statement with server-side parameter binding (ingest and rollups)."""

from __future__ import annotations

from django.db import connection


def execute(sql: str, params, fetch: bool = False):
    """Run ``sql`` with psycopg's server-side binding: the arrays travel as parameters (Django's
    default client-side binding would quote every element into the SQL text in Python, which
    costs more than the statement itself). Same connection and transaction as the ORM."""
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if fetch else None
