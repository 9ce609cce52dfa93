"""The floor for the HTTP benchmarks: a minimal Django + DRF application in one file.

One DRF ``APIView`` answers ``GET /ping/`` with a small JSON object: no database, no middleware,
no authentication, no throttling, JSON renderer only. It is served exactly as Crucible is (granian,
the same workers and threads, the same buffering front ``crucible.asgi``), so the ratio of an
endpoint of ours to it is what our own code costs on top of the framework and the server.

Three more views add only the database work an endpoint of ours cannot avoid, as plain SQL through
Django's connection (the same settings: persistent connection, server-side binding):
``GET /ping/read/`` reads the first 20 rows of a two-column table (what a small list must at least
do); ``GET /ping/counted-read/`` first counts the call in a one-row counter table with an
asynchronously committed upsert (as our throttle does), then reads the same rows (the least a
rate-limited small list does); ``POST /ping/write/`` inserts one row into a table with only its
key and answers its id, committed durably (the least a ``select`` does: record the assignment).
``ensure_tables()`` creates their tables.

Run by ``benchmarks/_server.py`` (``start_server(..., reference=True)``): the server imports
``crucible.asgi`` with ``DJANGO_SETTINGS_MODULE=benchmarks.reference_app``, so the front wraps this
application instead of Crucible's. This module is its own settings and URLconf.
"""

from __future__ import annotations

from django.db import connection
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = __name__
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
MIDDLEWARE: list[str] = []
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
# What crucible.asgi reads from the settings (the same values Crucible runs with by default).
SERVER_THREADS = 4
API_MAX_BODY_BYTES = 2 * 1024 * 1024
SERVER_BODY_TIMEOUT_SECONDS = 30
# The development key: crucible.wsgi's guard against published demo passwords (which needs a
# database) only runs for a production configuration.
from crucible.settings import _DEV_SECRET as SECRET_KEY  # noqa: E402,F401
from crucible.settings import DATABASES as _CRUCIBLE_DATABASES  # noqa: E402

# The benchmark's database, connected as Crucible connects (no replica, no test settings).
# No health check: a floor pays no more round trips than it must.
DATABASES = {"default": {k: v for k, v in _CRUCIBLE_DATABASES["default"].items() if k != "TEST"}}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
READ_TABLE, WRITE_TABLE = "bench_reference_read", "bench_reference_write"
COUNTER_TABLE = "bench_reference_counter"
_TABLES = (
    f"CREATE TABLE IF NOT EXISTS {READ_TABLE} (id bigint PRIMARY KEY, name text NOT NULL)",
    f"INSERT INTO {READ_TABLE} SELECT i, 'row ' || i FROM generate_series(1, 20) i ON CONFLICT DO NOTHING",
    f"CREATE TABLE IF NOT EXISTS {WRITE_TABLE} (id bigserial PRIMARY KEY)",
    f"CREATE TABLE IF NOT EXISTS {COUNTER_TABLE} (key text PRIMARY KEY, count bigint NOT NULL)",
)
_COUNT = f"""
    INSERT INTO {COUNTER_TABLE} (key, count) VALUES ('calls', 1)
    ON CONFLICT (key) DO UPDATE SET count = {COUNTER_TABLE}.count + 1
    RETURNING count, set_config('synchronous_commit', 'off', true)
"""


class Ping(APIView):
    def get(self, request):
        return Response({"id": 1, "name": "reference", "ok": True})


def _read_rows() -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, name FROM {READ_TABLE} ORDER BY id LIMIT 20")
        return [{"id": row[0], "name": row[1]} for row in cursor.fetchall()]


class PingRead(APIView):
    def get(self, request):
        rows = _read_rows()
        return Response({"count": len(rows), "results": rows})


class PingCountedRead(APIView):
    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute(_COUNT)
            cursor.fetchone()
        rows = _read_rows()
        return Response({"count": len(rows), "results": rows})


class PingWrite(APIView):
    def post(self, request):
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {WRITE_TABLE} DEFAULT VALUES RETURNING id")
            (row_id,) = cursor.fetchone()
        return Response({"id": row_id}, status=201)


def ensure_tables(cursor) -> None:
    """Create the tables of the database floors (in the benchmark's database), once."""
    for statement in _TABLES:
        cursor.execute(statement)


urlpatterns = [
    path("ping/", Ping.as_view()),
    path("ping/read/", PingRead.as_view()),
    path("ping/counted-read/", PingCountedRead.as_view()),
    path("ping/write/", PingWrite.as_view()),
]
