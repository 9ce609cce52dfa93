"""Closed-loop HTTP load for the benchmarks that go over HTTP, with two clients.

``light`` (the default): asyncio keep-alive connections writing pre-encoded HTTP/1.1 requests and
reading each answer by its ``Content-Length`` (or chunks). It spends a few tens of microseconds of
CPU per request, like ``wrk`` (the tool the performance issue was measured with), so nearly all of
the machine's two cores go to the server under test and the ratio to the floor is the servers'
ratio. ``requests``: the ``requests`` library in one thread per client, as the benchmarks did
before; it spends about 0.8 ms of CPU per request on the same cores, which the floor and the
endpoint under test pay alike, so it flatters the ratio (kept to compare with earlier figures).

    result = closed_loop("http://127.0.0.1:8000/ping/", "GET", headers={}, clients=16, seconds=6)

Each result: ``rps`` (answers of status 200 or 201 per second), ``ok``, ``errors``, ``requests``
and latency percentiles ``p50``, ``p95``, ``p99`` in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

CLIENTS = ("light", "requests")


def closed_loop(
    url: str,
    method: str,
    *,
    headers: dict[str, str],
    body: dict | Callable[[], dict] | None = None,
    clients: int,
    seconds: float,
    client: str = "light",
) -> dict:
    """``clients`` connections, each sending its next request when the last answer is in."""
    run = _light if client == "light" else _requests
    latencies, ok, errors, elapsed = run(url, method, headers, body, clients, seconds)
    latencies.sort()

    def pick(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0

    return {
        "rps": ok / elapsed,
        "ok": ok,
        "errors": errors,
        "requests": ok + errors,
        "p50": pick(0.5),
        "p95": pick(0.95),
        "p99": pick(0.99),
    }


def _encode(method: str, path: str, host: str, headers: dict[str, str], body) -> bytes:
    payload = b"" if body is None else json.dumps(body).encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


async def _answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked = None, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


def _light(url, method, headers, body, clients, seconds):
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    fixed = None if callable(body) else _encode(method, path, parts.netloc, headers, body)
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0}

    async def one(stop_at: float):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while time.perf_counter() < stop_at:
                request = fixed or _encode(method, path, parts.netloc, headers, body())
                t0 = time.perf_counter()
                writer.write(request)
                status = await _answer(reader)
                latencies.append(time.perf_counter() - t0)
                counts["ok" if status in (200, 201) else "errors"] += 1
        finally:
            writer.close()

    async def main():
        stop_at = time.perf_counter() + seconds
        await asyncio.gather(*(one(stop_at) for _ in range(clients)))

    started = time.perf_counter()
    asyncio.run(main())
    return latencies, counts["ok"], counts["errors"], time.perf_counter() - started


def _requests(url, method, headers, body, clients, seconds):
    import requests

    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0}
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def one():
        session = requests.Session()
        session.headers.update(headers)
        mine, ok, bad = [], 0, 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            response = session.request(method, url, json=body() if callable(body) else body, timeout=30)
            mine.append(time.perf_counter() - t0)
            if response.status_code in (200, 201):
                ok += 1
            else:
                bad += 1
        with lock:
            latencies.extend(mine)
            counts["ok"] += ok
            counts["errors"] += bad

    started = time.perf_counter()
    pool = [threading.Thread(target=one) for _ in range(clients)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return latencies, counts["ok"], counts["errors"], time.perf_counter() - started
