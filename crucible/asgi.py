"""What the server runs: a buffering front for the sync Django (WSGI) application.

granian (Rust, async I/O) parses each request; this adapter then reads the whole body on the
event loop, and only then hands the request to a fixed pool of threads that run Django's WSGI
handler. The response is collected in that thread and written back by the event loop. So a client
that trickles its headers or its body, idles on a keep-alive connection or reads its answer
slowly holds a socket and a little memory, never an application thread (nor the database
connection that thread keeps). This is what a buffering proxy (nginx) in front of gunicorn does,
in-process. A streaming response (``StreamingHttpResponse``: the executions export) is the one
exception: its chunks go out as the pool thread produces them, at most ``STREAM_QUEUE_CHUNKS``
ahead of the client, so a large file never sits whole in memory (it holds its thread while it
streams, as nginx with ``proxy_buffering off`` would). Settings: ``CRUCIBLE_THREADS`` (threads
per worker), ``CRUCIBLE_API_MAX_BODY_BYTES`` (largest body buffered) and
``CRUCIBLE_BODY_TIMEOUT_SECONDS`` (time allowed to send a body).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from urllib.parse import unquote_to_bytes

from django.conf import settings

from crucible.heap import freeze_loaded_heap
from crucible.threads import WarmestThreadExecutor
from crucible.wsgi import application as wsgi_application

logger = logging.getLogger(__name__)
STREAM_QUEUE_CHUNKS = 8  # chunks of a streaming response waiting for the client, at most


def _error(status: int, code: str, message: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    # The API's one error shape (crucible.api.exceptions.error_body), without importing DRF here.
    body = json.dumps({"code": code, "message": message, "fields": {}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return status, headers + [(b"connection", b"close")], body


class BufferedWSGI:
    """An ASGI application that serves ``wsgi_app`` with whole-request buffering."""

    def __init__(self, wsgi_app, *, threads: int, max_body_bytes: int, body_timeout: float):
        self.wsgi_app = wsgi_app
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        # A fixed pool: each thread keeps its own database connection (CONN_MAX_AGE), as a
        # gunicorn thread does, so the number of connections is workers x threads. The thread
        # that became idle last takes the next request: its connection has the warmest plans
        # and caches (crucible/threads.py).
        self.executor = WarmestThreadExecutor(max_workers=threads, thread_name_prefix="crucible-app")

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        # websockets: not served (the connection is refused by returning)

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                frozen = freeze_loaded_heap()  # crucible/heap.py: full collections skip the application
                logger.info("Froze %d objects of the loaded application (gc.freeze).", frozen)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.executor.shutdown(wait=True, cancel_futures=False)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope, receive, send):
        declared = _content_length(scope["headers"])
        if declared is not None and declared > self.max_body_bytes:
            # Not read: the application refuses it from the declared length (413 on the API).
            body = b""
        else:
            try:
                async with asyncio.timeout(self.body_timeout):
                    body = await self._read_body(receive)
            except TimeoutError:
                await self._send(send, *_error(408, "request_timeout", "The request body did not arrive in time."))
                return
            except _Disconnected:
                return
            except _TooLarge:
                message = f"The request body is larger than {self.max_body_bytes} bytes."
                await self._send(send, *_error(413, "payload_too_large", message))
                return
        environ = _environ(scope, body, declared)
        loop = asyncio.get_running_loop()
        pipe = _Pipe(loop)
        work = loop.run_in_executor(self.executor, self._call_app, environ, pipe)
        first = asyncio.ensure_future(pipe.queue.get())
        await asyncio.wait({work, first}, return_when=asyncio.FIRST_COMPLETED)
        if not first.done() and work.result() is not None:  # a whole response, buffered
            first.cancel()
            status, headers, content = work.result()
            await self._send(send, status, headers, content)
            return
        # A streaming response: its start, then chunks until the end mark (the producer may even
        # have finished already: a short stream fits in the queue).
        _, status, headers = await first
        await self._stream(send, status, headers, pipe)
        await work

    async def _stream(self, send, status, headers, pipe: _Pipe):
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            while (chunk := await pipe.queue.get()) is not _END:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except Exception:  # the client went away: stop the producer, let it finish its chunk
            pipe.cancelled = True
            while await pipe.queue.get() is not _END:
                pass

    async def _read_body(self, receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _call_app(self, environ, pipe: _Pipe | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """Run Django in this pool thread and collect the whole response (closing it here fires
        request_finished, which returns the thread's database connection to a clean state). A
        streaming response is handed to ``pipe`` chunk by chunk instead, from this same thread (its
        database cursor belongs to this thread's connection); then this returns None."""
        started: dict = {}
        chunks: list[bytes] = []

        def start_response(status, headers, exc_info=None):
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started["status"], started["headers"] = status, headers
            return chunks.append

        try:
            iterable = self.wsgi_app(environ, start_response)
            try:
                if pipe is not None and getattr(iterable, "streaming", False):
                    self._pump(iterable, started, pipe)
                    return None
                for chunk in iterable:
                    if chunk:
                        chunks.append(chunk)
            finally:
                close = getattr(iterable, "close", None)
                if close is not None:
                    close()
        except Exception:  # Django turns view errors into 500s itself; this is the last resort
            logger.exception("Unhandled error serving %s", environ.get("PATH_INFO"))
            return _error(500, "server_error", "Internal server error.")
        finally:
            # Django's request object lives in reference cycles (messages, CSP nonce) until a
            # garbage collection; the body it read need not live that long.
            environ["wsgi.input"].close()
        return _status(started), _headers(started), b"".join(chunks)

    @staticmethod
    def _pump(iterable, started: dict, pipe: _Pipe) -> None:
        pipe.put(("start", _status(started), _headers(started)))
        try:
            for chunk in iterable:
                if pipe.cancelled:
                    break
                if chunk:
                    pipe.put(bytes(chunk))
        except Exception:  # the headers are gone: the body ends early, and the log says why
            logger.exception("Error while streaming %s", started.get("status"))
        finally:
            pipe.put(_END)

    @staticmethod
    async def _send(send, status, headers, body):
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _status(started: dict) -> int:
    return int(started["status"].split(" ", 1)[0])


def _headers(started: dict) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in started["headers"]]


_END = object()  # the end of a streamed body


class _Pipe:
    """From a pool thread to the event loop: a streaming response's start and chunks. ``put``
    waits while ``STREAM_QUEUE_CHUNKS`` chunks are queued (the client reads slowly: the producer
    waits, memory does not grow); ``cancelled`` tells the producer the client went away."""

    def __init__(self, loop):
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=STREAM_QUEUE_CHUNKS)
        self.cancelled = False

    def put(self, item) -> None:
        asyncio.run_coroutine_threadsafe(self.queue.put(item), self.loop).result()


class _Disconnected(Exception):
    pass


class _TooLarge(Exception):
    pass


def _content_length(headers) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _environ(scope, body: bytes, declared: int | None) -> dict:
    """A WSGI environ as gunicorn builds it (PATH_INFO: the percent-decoded raw path as latin-1)."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    server = scope.get("server") or ("127.0.0.1", "80")
    client = scope.get("client") or ("", "0")
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw_path.split(b"?", 1)[0]).decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope["headers"]:
        key = name.decode("latin-1").upper()
        if "_" in key:  # as gunicorn and nginx do: X_Forwarded_For must not pose as X-Forwarded-For
            continue
        key = key.replace("-", "_")
        key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"
        value = value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    if declared is None and body:
        environ["CONTENT_LENGTH"] = str(len(body))  # a chunked body, buffered: its length is known now
    return environ


application = BufferedWSGI(
    wsgi_application,
    threads=settings.SERVER_THREADS,
    max_body_bytes=settings.API_MAX_BODY_BYTES,
    body_timeout=settings.SERVER_BODY_TIMEOUT_SECONDS,
)
