"""A server process's long-lived heap, kept out of the garbage collector's full passes.

Python's cyclic collector now and then walks every tracked object of the process (a "full"
collection, generation 2). In a Django process most of those objects are the application itself:
modules, models, URL patterns, templates, serializers. On the pages that build many objects a full
collection came about once every 25 requests and took 70-100 ms of that request (seen per
request with ``gc.get_stats()``: the dashboards' p95). ``freeze_loaded_heap()``, called once when
a server process starts (``crucible.asgi``'s lifespan start-up), loads the URLconf (which imports
every view), collects once, and moves every object then alive to the permanent generation
(``gc.freeze()``), so later full collections walk only what was made since. Reference counting
frees objects as before; only a reference cycle made of objects alive at start-up and dropped
later is never collected, which the start-up objects (modules, classes, settings) do not form.
"""

from __future__ import annotations

import gc

from django.urls import get_resolver


def freeze_loaded_heap() -> int:
    """Load the URLconf, collect, freeze; return how many objects are now frozen."""
    get_resolver().url_patterns  # noqa: B018  (imports every URLconf and the views they name)
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
