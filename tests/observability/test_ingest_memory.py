"""Memory (issue 15, item 14): a request's parsed batch and its results are freed when the request
ends, by reference counting, not at the next full garbage collection. DRF kept them in reference
cycles (view <-> Request <-> Response), and a busy worker rarely runs a full collection: workers
grew from 86 MB to 287-366 MB under repeated 1,000-event ingests.

The request goes the way the server sends it: crucible.asgi's thread-side call of the WSGI
application (the response is collected, then closed), with the garbage collector switched off."""

from __future__ import annotations

import gc
import io
import json
import sys
import uuid
from contextlib import contextmanager

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from crucible import services as core
from crucible.asgi import BufferedWSGI
from crucible.wsgi import application
from observability.ingest import gc_paused

pytestmark = pytest.mark.django_db

SERVER = BufferedWSGI(application, threads=1, max_body_bytes=10**7, body_timeout=30)


@contextmanager
def same_connection():
    # As Django's test client does: the request runs inside the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def post(path: str, body: dict, key: str):
    raw = json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(raw),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status, _, content = SERVER._call_app(environ)
    return status, json.loads(content)


def lists_holding(prefix: str) -> int:
    """Live lists whose first item is an event or a result with an id starting with ``prefix``."""
    found = 0
    for obj in gc.get_objects():
        if type(obj) is list and obj and type(obj[0]) is dict:
            ident = obj[0].get("id")
            if isinstance(ident, str) and ident.startswith(prefix):
                found += 1
    return found


def events(prefix: str, n: int) -> list[dict]:
    return [
        {
            "id": f"{prefix}{i}",
            "agent": "bot",
            "started_at": "2026-11-20T10:00:00Z",
            "duration_ms": 12.5,
            "status": "success",
            "model": "gpt-4o",
            "input_tokens": 10,
            "output_tokens": 5,
        }
        for i in range(n)
    ]


def test_an_ingest_batch_and_its_results_are_freed_when_the_request_ends(team):
    _, key = core.api_key_create(team=team, name="ingest")
    with same_connection():
        post("/api/v1/observability/ingest/", {"events": events("warm-", 2)}, key)  # imports, caches
        prefix = f"m-{uuid.uuid4().hex}-"
        gc.collect()
        with gc_paused():
            status, body = post("/api/v1/observability/ingest/", {"events": events(prefix, 1000)}, key)
            assert status == 200 and body["stored"] == 1000
            del body
            alive = lists_holding(prefix)
    assert alive == 0, f"{alive} lists of the batch or its results outlived the request"


def test_repeated_ingests_leave_no_garbage_behind(team):
    """Ten 1,000-event batches with the collector off: what a full collection then finds is a
    few small objects per request (Django's request and its messages), not the batches."""
    _, key = core.api_key_create(team=team, name="ingest")
    with same_connection():
        post("/api/v1/observability/ingest/", {"events": events("warm-", 2)}, key)
        gc.collect()
        with gc_paused():
            for round_ in range(10):
                prefix = f"r{round_}-{uuid.uuid4().hex}-"
                status, _ = post("/api/v1/observability/ingest/", {"events": events(prefix, 1000)}, key)
                assert status == 200
            gc.set_debug(gc.DEBUG_SAVEALL)
            try:
                gc.collect()
                garbage = len(gc.garbage)
                big = [o for o in gc.garbage if type(o) in (list, dict) and len(o) >= 1000]
            finally:
                gc.set_debug(0)
                gc.garbage.clear()
    assert big == []
    assert garbage < 150 * 10, garbage
