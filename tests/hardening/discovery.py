"""What the project exposes, read from the URL configuration and the OpenAPI schema.

The hardening suites (isolation matrix, CSP/CSRF page walk, fuzzing) iterate over what this
module finds, so an endpoint or page added later is covered without anyone listing it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

API_PREFIX = "api/"
WRITE_METHODS = {"post", "put", "patch", "delete"}
HTTP_METHODS = ["get", "post", "put", "patch", "delete"]


@dataclass(frozen=True)
class Route:
    """One URL pattern of the URL configuration, flattened."""

    route: str  # the concatenated pattern text, e.g. "settings/api-keys/<int:pk>/revoke/"
    name: str | None  # namespaced name, e.g. "marketplace:agent-detail"
    callback: object = field(compare=False, repr=False)

    @property
    def view_class(self):
        cb = self.callback
        return getattr(cb, "cls", None) or getattr(cb, "view_class", None)

    @property
    def is_api(self) -> bool:
        return self.route.startswith(API_PREFIX) or self.route.startswith("^api/")

    @property
    def is_format_suffix(self) -> bool:
        return "(?P<format>" in self.route or "<drf_format_suffix:format>" in self.route

    @property
    def params(self) -> list[str]:
        names = re.findall(r"<(?:[^>:]+:)?([^>]+)>", self.route)
        names += re.findall(r"\(\?P<([^>]+)>", self.route)
        return [n for n in names if n != "format"]


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = pattern.name
            if name and namespace:
                name = f"{namespace}:{name}"
            yield Route(prefix + str(pattern.pattern), name, pattern.callback)


@functools.cache
def all_routes() -> tuple[Route, ...]:
    return tuple(_walk(get_resolver().url_patterns))


def page_routes() -> list[Route]:
    """Server-rendered pages: everything outside /api/ and the Django admin."""
    return [
        r
        for r in all_routes()
        if not r.is_api and not r.route.startswith("admin/") and not r.route.startswith("api-auth/")
    ]


def api_routes() -> list[Route]:
    return [r for r in all_routes() if r.is_api and not r.is_format_suffix]


# --- OpenAPI -------------------------------------------------------------------------------


@functools.cache
def openapi_schema() -> dict:
    """The schema exactly as /api/v1/schema/ serves it (generated in process)."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@dataclass(frozen=True)
class Operation:
    method: str  # lower case
    path: str  # template, e.g. /api/v1/marketplace/agents/{id}/
    operation_id: str
    params: tuple[str, ...]
    has_body: bool

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.path}"


@functools.cache
def operations() -> tuple[Operation, ...]:
    ops = []
    for path, item in sorted(openapi_schema()["paths"].items()):
        for method in HTTP_METHODS:
            spec = item.get(method)
            if spec is None:
                continue
            params = tuple(
                p["name"] for p in (item.get("parameters", []) + spec.get("parameters", [])) if p.get("in") == "path"
            )
            ops.append(Operation(method, path, spec.get("operationId", ""), params, "requestBody" in spec))
    return tuple(ops)


def fill(path_template: str, values: dict[str, object]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: str(values[m.group(1)]), path_template)


def resolve_template(path_template: str):
    """Resolve a schema path with placeholder values, to find its view (None if it does not resolve)."""
    for placeholder in ("1", "x"):
        try:
            return resolve(re.sub(r"\{[^}]+\}", placeholder, path_template))
        except Resolver404:
            continue
    return None


def model_for_view(view_class):
    """The model a (DRF or Django) view works on, or None when it cannot be told."""
    if view_class is None:
        return None
    model = getattr(view_class, "model", None)
    if model is not None:
        return model
    queryset = getattr(view_class, "queryset", None)
    if queryset is not None:
        return queryset.model
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    try:
        view = view_class()
        view.request = request
        view.kwargs = {}
        view.args = ()
        view.format_kwarg = None
        view.action = "retrieve"
        for attr in ("base_queryset", "get_queryset"):
            if hasattr(view, attr):
                try:
                    return getattr(view, attr)().model
                except Exception:  # noqa: BLE001 - a view may need a real request; try the next way
                    continue
    except Exception:  # noqa: BLE001
        return None
    return None


class ReadResponse:
    """A streamed response (an export file) read whole, so the suites check its body like any
    other's: ``content``, ``json()`` and the rest of the response's attributes."""

    def __init__(self, response):
        self._response = response
        self.content = b"".join(response.streaming_content)

    def __getattr__(self, name):
        return getattr(self._response, name)

    def __getitem__(self, header):
        return self._response[header]

    def json(self):
        import json

        return json.loads(self.content)


def read(response):
    """``response``, or a ``ReadResponse`` of it when it streams."""
    return ReadResponse(response) if getattr(response, "streaming", False) else response
