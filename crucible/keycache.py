"""Verified API keys, remembered by each process for a few seconds (issue 16).

Looking a key up costs a query on every API request (a third of a small list's time). A process
keeps each key it verified, by the SHA-256 hash of the raw key (never the key itself), for
``CRUCIBLE_API_KEY_CACHE_SECONDS`` (default 10; 0 turns the cache off). The bound this gives:

- a key revoked in this process (``api_key_revoke``) stops working here at once;
- a key revoked, deleted or whose team was deleted elsewhere (another worker, another host, the
  admin) stops working everywhere within ``CRUCIBLE_API_KEY_CACHE_SECONDS``; so does a change of
  the key's team or creator (a deactivated creator: the key then acts as a stand-in user).

Each request gets its own copies of the key, its team and its creator, so nothing a request sets
on them leaks into another.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from crucible.models import ApiKey


@dataclass(frozen=True)
class _Entry:
    key: ApiKey  # with .team and .created_by loaded
    fresh_until: float  # time.monotonic()


_entries: dict[str, _Entry] = {}
_lock = threading.Lock()
# A process never holds more keys than this; past it, the whole map is dropped (keys are few).
_MAX_ENTRIES = 10_000


def _instance_copy(obj):
    """A shallow copy of a model instance, as ``copy.copy`` makes it (through pickling's
    ``__reduce__``, several times slower: a copy per request of the key, its team and its creator
    was a twentieth of a small API call). Its own state and cache of related objects."""
    fresh = obj.__class__.__new__(obj.__class__)
    fresh.__dict__ = obj.__dict__.copy()
    fresh._state = copy.copy(obj._state)
    fresh._state.fields_cache = obj._state.fields_cache.copy()
    return fresh


def _copy(key: ApiKey) -> ApiKey:
    fresh = _instance_copy(key)
    fresh.team = _instance_copy(key.team)
    if key.created_by is not None:
        fresh.created_by = _instance_copy(key.created_by)
    return fresh


def remembered(*, key_hash: str) -> ApiKey | None:
    """A copy of the key verified with this hash less than the cache's seconds ago, or None."""
    entry = _entries.get(key_hash)
    if entry is None or entry.fresh_until <= time.monotonic():
        return None
    return _copy(entry.key)


def remember(*, key_hash: str, key: ApiKey) -> None:
    seconds = settings.API_KEY_CACHE_SECONDS
    if seconds <= 0:
        return
    with _lock:
        if len(_entries) >= _MAX_ENTRIES:
            _entries.clear()
        _entries[key_hash] = _Entry(key=_copy(key), fresh_until=time.monotonic() + seconds)


def forget(*, key_id: int | None = None) -> None:
    """Drop the key ``key_id`` (every key when None) from this process's memory."""
    with _lock:
        if key_id is None:
            _entries.clear()
            return
        for key_hash in [h for h, entry in _entries.items() if entry.key.pk == key_id]:
            del _entries[key_hash]
