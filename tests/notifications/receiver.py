"""A real local HTTP receiver for webhook tests: checks every request's Standard Webhooks
signature with the reference library (standardwebhooks) and answers from a script of status codes."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    body: bytes
    valid: bool
    status: int
    at: float = field(default_factory=time.monotonic)


class Receiver:
    def __init__(self, secret: str | None = None, statuses: list[int] | None = None, delay: float = 0.0, port: int = 0):
        self.secret = secret
        self.statuses = list(statuses or [])  # answered in order, then 200
        self.delay = delay
        self.received: list[Received] = []
        self.arrivals: list[str] = []  # webhook-ids of requests as they arrive (before any delay)
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.on_request(self, body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def on_request(self, handler, body: bytes):
        self.arrivals.append(handler.headers.get("webhook-id", ""))
        valid = False
        if self.secret:
            try:
                Webhook(self.secret).verify(body, dict(handler.headers.items()), json_parse=False)
                valid = True
            except WebhookVerificationError:
                valid = False
        if self.delay:
            time.sleep(self.delay)
        with self.arrived:
            status = self.statuses.pop(0) if self.statuses else 200
            self.received.append(Received(handler.headers.get("webhook-id", ""), body, valid, status))
            self.arrived.notify_all()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "text/plain")
            handler.end_headers()
            handler.wfile.write(b"ok" if status < 300 else b"not now")
        except OSError:
            pass  # the sender went away (a killed worker)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            return list(self.received)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
