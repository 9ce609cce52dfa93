"""crucible.asgi: the buffering front the server runs (the live behaviour under slow clients is in
tests/hardening/test_slow_clients.py)."""

from __future__ import annotations

import asyncio
import json
import threading

from crucible.asgi import BufferedWSGI
from crucible.wsgi import application as django_wsgi


def scope(path=b"/x", method="POST", headers=(), query=b""):
    return {
        "type": "http",
        "method": method,
        "path": path.decode("utf-8", "replace"),
        "raw_path": path,
        "query_string": query,
        "headers": list(headers),
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", "8000"),
        "client": ("127.0.0.2", "5555"),
    }


def run(app, scope, messages, *, delay=0.0):
    """Serve one request; ``messages`` are the body messages the client sends, ``delay`` seconds
    apart. Returns (status, headers, body)."""
    sent = []
    queue = list(messages)

    async def receive():
        if not queue:
            await asyncio.sleep(3600)  # the client never sends the rest
        await asyncio.sleep(delay)
        return queue.pop(0)

    async def send(message):
        sent.append(message)

    # In a thread of its own: a browser test may leave an event loop running in this one.
    worker = threading.Thread(target=asyncio.run, args=(app(scope, receive, send),))
    worker.start()
    worker.join(timeout=30)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


def echo_app(environ, start_response):
    """Answers what the WSGI application saw."""
    seen = {
        "path": environ["PATH_INFO"],
        "query": environ["QUERY_STRING"],
        "length": environ.get("CONTENT_LENGTH"),
        "body": environ["wsgi.input"].read().decode(),
        "remote": environ["REMOTE_ADDR"],
        "headers": sorted(k for k in environ if k.startswith("HTTP_")),
    }
    start_response("201 Created", [("Content-Type", "application/json"), ("X-Seen", "1")])
    return [json.dumps(seen).encode()]


def body(*parts: bytes) -> list[dict]:
    return [{"type": "http.request", "body": part, "more_body": i < len(parts) - 1} for i, part in enumerate(parts)]


def test_the_application_gets_the_whole_body_and_a_gunicorn_like_environ():
    app = BufferedWSGI(echo_app, threads=2, max_body_bytes=1000, body_timeout=5)
    headers = [(b"host", b"h"), (b"x-forwarded-for", b"1.2.3.4"), (b"x_forwarded_for", b"6.6.6.6")]
    status, out_headers, content = run(
        app, scope(path=b"/a%20b/%C3%A9", headers=headers, query=b"q=1"), body(b"ab", b"cd", b"ef")
    )
    seen = json.loads(content)
    assert status == 201 and out_headers[b"x-seen"] == b"1"
    # a chunked body (no Content-Length), buffered: the application can read it, with its length
    assert seen["body"] == "abcdef" and seen["length"] == "6"
    # PATH_INFO as gunicorn gives it: percent-decoded bytes as latin-1 (Django decodes UTF-8)
    assert seen["path"] == "/a b/\xc3\xa9" and seen["query"] == "q=1"
    assert seen["remote"] == "127.0.0.2"
    # a header spelled with underscores cannot pose as X-Forwarded-For (gunicorn and nginx drop it)
    assert seen["headers"] == ["HTTP_HOST", "HTTP_X_FORWARDED_FOR"]


def test_a_body_that_does_not_arrive_in_time_is_408_without_running_the_application():
    calls = []

    def app_(environ, start_response):
        calls.append(1)
        return echo_app(environ, start_response)

    app = BufferedWSGI(app_, threads=1, max_body_bytes=1000, body_timeout=0.3)
    status, _, content = run(app, scope(), body(b"a", b"b", b"c"), delay=0.2)
    assert status == 408 and json.loads(content)["code"] == "request_timeout"
    assert calls == []


def test_a_chunked_body_over_the_limit_is_413_in_the_error_shape():
    app = BufferedWSGI(echo_app, threads=1, max_body_bytes=10, body_timeout=5)
    status, _, content = run(app, scope(), body(b"x" * 6, b"x" * 6, b""))
    assert status == 413
    assert json.loads(content) == {
        "code": "payload_too_large",
        "message": "The request body is larger than 10 bytes.",
        "fields": {},
    }


def test_a_declared_length_over_the_limit_is_not_read_and_django_answers_413():
    app = BufferedWSGI(django_wsgi, threads=1, max_body_bytes=10, body_timeout=5)
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json"), (b"content-length", b"10485760")]
    # the client has sent nothing of its 10 MiB: the answer does not wait for it
    status, _, content = run(app, scope(path=b"/api/v1/teams/", headers=headers), [])
    assert status == 413 and json.loads(content)["code"] == "payload_too_large"
