"""Outgoing HTTP to addresses users typed (webhooks), guarded against SSRF.

A URL's host is resolved once; every address must be public unless
``CRUCIBLE_WEBHOOKS_ALLOW_PRIVATE`` is set, and the connection goes to the address that was
checked (so a DNS answer that changes between the check and the connect cannot reach inside).
Connect and read timeouts apply; at most ``max_bytes`` of the response body are read.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class BlockedAddress(Exception):
    """The URL is not allowed: its scheme, or an address its host resolves to."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    duration_ms: int


def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return not (ip.is_multicast or ip.is_unspecified)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def resolve(url: str) -> Target:
    """The URL's parts and one checked address; ``BlockedAddress`` when any address is refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedAddress("Use an http:// or https:// URL with a host name.")
    if parts.username or parts.password:
        raise BlockedAddress("Put no user name or password in the URL; the signature authenticates requests.")
    try:
        port = parts.port
    except ValueError as exc:
        raise BlockedAddress("The port is not a number from 1 to 65535.") from exc
    if port == 0:  # not the default port: nothing listens on port 0
        raise BlockedAddress("The port is not a number from 1 to 65535.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BlockedAddress(f"The host {parts.hostname} does not resolve.") from exc
    addresses = [info[4][0] for info in infos]
    refused = [a for a in addresses if not _address_allowed(a)]
    if refused or not addresses:
        raise BlockedAddress(
            f"The host {parts.hostname} resolves to {refused[0] if refused else 'nothing'}, a private, loopback or "
            "link-local address: webhooks only reach public addresses."
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme, host=parts.hostname, port=port, path=path, address=addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, connect_timeout: float):
        super().__init__(target.host, target.port, timeout=connect_timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, connect_timeout: float):
        super().__init__(target.host, target.port, timeout=connect_timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Response:
    """POST ``body`` to ``url`` (checked again now, on the address it resolves to)."""
    target = resolve(url)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, settings.WEBHOOKS_CONNECT_TIMEOUT)
    started = time.monotonic()
    try:
        connection.connect()
        connection.sock.settimeout(settings.WEBHOOKS_READ_TIMEOUT)
        all_headers = {"Content-Type": "application/json", "User-Agent": "Crucible-Webhooks/1"} | headers
        connection.request("POST", target.path, body=body, headers=all_headers)
        response = connection.getresponse()
        content = _read_capped(response, started)
        return Response(status=response.status, body=content, duration_ms=_ms_since(started))
    finally:
        connection.close()


def _read_capped(response, started: float) -> bytes:
    cap = settings.WEBHOOKS_MAX_RESPONSE_BYTES
    deadline = started + settings.WEBHOOKS_CONNECT_TIMEOUT + settings.WEBHOOKS_READ_TIMEOUT
    chunks, size = [], 0
    while size < cap and time.monotonic() < deadline:
        chunk = response.read1(min(65536, cap - size)) if hasattr(response, "read1") else response.read(cap - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
