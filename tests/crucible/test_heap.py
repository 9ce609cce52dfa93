"""The server freezes the application's heap when it starts (crucible/heap.py), so the garbage
collector's full passes walk only what requests made since."""

import asyncio
import gc
import threading

from crucible.asgi import BufferedWSGI
from crucible.views import healthz
from crucible.wsgi import application


def _walked_by_the_collector(obj) -> bool:
    return any(o is obj for o in gc.get_objects())


def test_server_start_up_moves_the_loaded_application_out_of_full_collections():
    server = BufferedWSGI(application, threads=1, max_body_bytes=1024, body_timeout=5)
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message["type"])

    gc.unfreeze()
    assert _walked_by_the_collector(healthz)
    try:
        # In a thread of its own, as the server's event loop (a browser test may have left a loop
        # running in this one).
        worker = threading.Thread(target=asyncio.run, args=(server({"type": "lifespan"}, receive, send),))
        worker.start()
        worker.join(30)
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        assert gc.get_freeze_count() > 10_000
        assert not _walked_by_the_collector(healthz)  # a view, loaded with the URLconf
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
