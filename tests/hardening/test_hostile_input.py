"""Payloads a hostile client sends, tried on every write operation of the schema: huge bodies,
deeply nested JSON, invalid UTF-8, SQL/template metacharacters and markup in every text field,
path traversal in path parameters. Never a 5xx, never a partial write; text is stored as sent and
pages show it as text."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.hardening import discovery
from tests.hardening.htmlcheck import inspect
from tests.hardening.registry import snapshot, values_for_operation

pytestmark = pytest.mark.django_db

OPS = discovery.operations()
BODY_OPS = [op for op in OPS if op.is_write]
JSON_BODY_OPS = [op for op in OPS if op.is_write and op.has_body]

SCRIPT = '<script>alert("xss")</script>'
HOSTILE_TEXTS = [
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(document.cookie)",
    "'; DROP TABLE crucible_team; --",
    "1' OR '1'='1",
    "{{ settings.SECRET_KEY }}{% debug %}${7*7}%(name)s%s",
    "../../../../etc/passwd",
    "\u202eevil\u0000",  # right-to-left override and a NUL byte (PostgreSQL refuses NUL in text)
]
# Endpoints that ignore unknown fields on purpose.
UNKNOWN_FIELDS_IGNORED = {
    "/api/v1/observability/otlp/v1/traces": "OTLP/JSON: receivers must ignore unknown fields (protobuf JSON mapping)",
}
TRAVERSALS = [
    "..",
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e",
    "a/../../b",
    "%00",
    "\x00",
    "~root",
    "-1",
    "1e9999",
    "\u00b2",
]


def _values(world, op):
    return values_for_operation(world, op)


def _post_raw(client, op, path, body: bytes, **extra):
    return client.generic(op.method.upper(), path, body, content_type="application/json", **extra)


def op_param(op):
    return pytest.param(op, id=op.id)


@pytest.fixture
def member(world, caller):
    return caller("owner_key")


@pytest.mark.parametrize("op", [op_param(op) for op in BODY_OPS])
def test_huge_body_is_413_and_writes_nothing(world, member, op, settings):
    settings.API_MAX_BODY_BYTES = 64 * 1024
    values = _values(world, op)
    assert values is not None
    before = snapshot(world.team_a)
    body = b'{"name": "' + b"x" * (settings.API_MAX_BODY_BYTES + 10) + b'"}'
    response = _post_raw(member, op, discovery.fill(op.path, values), body)
    assert response.status_code == 413, response.content[:200]
    assert response.json()["code"] == "payload_too_large"
    assert snapshot(world.team_a) == before


MALFORMED = {
    "nested-100000": b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}",
    "nested-40-objects": b'{"a": ' + b'{"b": ' * 40 + b"1" + b"}" * 40 + b"}",
    "invalid-utf8": b'{"name": "\xff\xfe\xc3\x28"}',
    "utf8-surrogate": b'{"name": "\xed\xa0\x80"}',
    "bom": b"\xef\xbb\xbf{}",
    "huge-number": b'{"name": 1e999999}',
    "many-keys": b'{"name": "a", "name": "b", ' + b'"x": 1, ' * 2000 + b'"y": 2}',
}
NOT_OBJECTS = [b"[]", b"null", b'"x"', b"[[[]]]"]


@pytest.mark.parametrize("op", [op_param(op) for op in JSON_BODY_OPS])
def test_malformed_json_is_a_clean_400(world, member, op):
    path = discovery.fill(op.path, _values(world, op))
    before = snapshot(world.team_a)
    for name, body in MALFORMED.items():
        if name in ("many-keys", "huge-number") and op.path in UNKNOWN_FIELDS_IGNORED:
            continue  # the offending key is an unknown field there (see UNKNOWN_FIELDS_IGNORED)
        response = _post_raw(member, op, path, body)
        assert 400 <= response.status_code < 500, (name, response.status_code, response.content[:300])
        assert set(response.json()) == {"code", "message", "fields"}, name
    # JSON that is valid but not an object: a 4xx, or accepted as "no options"; never a 5xx.
    for body in NOT_OBJECTS:
        response = _post_raw(member, op, path, body)
        assert response.status_code < 500, (body, response.content[:300])
        if response.status_code >= 400:
            assert set(response.json()) == {"code", "message", "fields"}
        else:
            before = snapshot(world.team_a)  # an accepted body may legitimately write
    assert snapshot(world.team_a) == before


def test_numbers_that_overflow_to_infinity_are_a_parse_error(world, caller):
    client = caller("owner_user")
    response = client.generic(
        "POST", "/api/v1/api-keys/", b'{"name": "k", "role": 1e999999}', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "out of range" in response.json()["message"]


# --- text fields -------------------------------------------------------------------------------


def _deref(schema, components):
    while isinstance(schema, dict) and "$ref" in schema:
        schema = components[schema["$ref"].split("/")[-1]]
    if isinstance(schema, dict):
        for key in ("allOf", "oneOf", "anyOf"):
            if key in schema and schema[key]:
                merged = {k: v for k, v in schema.items() if k != key}
                first = _deref(schema[key][0], components)
                return {**first, **merged}
    return schema


def example_body(schema, components, text: str, depth: int = 0):
    """A body that satisfies the schema's types, with ``text`` in every free-text string."""
    schema = _deref(schema, components) or {}
    if "enum" in schema:
        options = [v for v in schema["enum"] if v is not None]
        return options[0] if options else None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        out = {}
        required = set(schema.get("required", []))
        for name, sub in schema.get("properties", {}).items():
            sub_d = _deref(sub, components) or {}
            if sub_d.get("readOnly"):
                continue
            if name in required or sub_d.get("type") == "string" and "format" not in sub_d and "enum" not in sub_d:
                out[name] = example_body(sub_d, components, text, depth + 1)
        return out
    if kind == "array":
        return [example_body(schema.get("items", {}), components, text, depth + 1)] * max(1, schema.get("minItems", 1))
    if kind == "string":
        fmt = schema.get("format")
        fixed = {
            "date-time": "2026-01-01T00:00:00Z",
            "date": "2026-01-01",
            "uri": "https://example.com/x",
            "email": "a@example.com",
            "uuid": "00000000-0000-4000-8000-000000000000",
            "decimal": "1.00",
            "ipv4": "127.0.0.1",
        }
        if fmt in fixed:
            return fixed[fmt]
        if schema.get("pattern"):
            return "a1"
        limit = schema.get("maxLength", 10000)
        return text[:limit]
    if kind == "integer":
        return (
            max(int(schema.get("minimum", 1)), 1)
            if "maximum" not in schema
            else int(schema.get("minimum", schema["maximum"]))
        )
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    return text


def _request_schema(op):
    spec = discovery.openapi_schema()["paths"][op.path][op.method]
    content = spec.get("requestBody", {}).get("content", {})
    return content.get("application/json", {}).get("schema")


@pytest.mark.parametrize("op", [op_param(op) for op in JSON_BODY_OPS])
def test_hostile_text_in_every_field_never_breaks_the_server(world, member, op):
    schema = _request_schema(op)
    if schema is None:
        pytest.skip("no JSON body")
    components = discovery.openapi_schema()["components"]["schemas"]
    values = _values(world, op)
    path = discovery.fill(op.path, values)
    for text in HOSTILE_TEXTS:
        body = example_body(schema, components, text)
        response = member.generic(op.method.upper(), path, json.dumps(body), content_type="application/json")
        assert response.status_code < 500, (text, body, response.content[:500])
        if response.status_code >= 400:
            assert set(response.json()) == {"code", "message", "fields"}
        elif "\u0000" not in text and isinstance(body, dict):
            # Stored as sent: a text field the response echoes comes back unchanged.
            data = response.json() if response.content else {}
            for key, sent in body.items():
                if isinstance(sent, str) and isinstance(data, dict) and isinstance(data.get(key), str):
                    assert data[key] == sent, (op.id, key, sent, data[key])


@pytest.mark.parametrize("op", [op_param(op) for op in OPS if op.params])
def test_path_traversal_in_parameters_is_a_clean_4xx(world, member, op):
    values = _values(world, op)
    for bad in TRAVERSALS:
        path = discovery.fill(op.path, {k: bad for k in values})
        response = getattr(member, op.method)(path, {} if op.has_body else None, format="json")
        assert response.status_code < 500, (path, response.content[:300])


def test_hostile_names_render_as_text_on_every_page(hostile_world, client):
    """Team A's objects are named with markup and scripts; every page shows them escaped."""
    client.force_login(hostile_world.owner_a)
    from tests.hardening.test_security import page_urls

    seen = 0
    for name, url in page_urls(hostile_world):
        response = discovery.read(client.get(url))
        if response.status_code == 405:
            continue
        assert response.status_code == 200, (name, response.status_code)
        if not response["Content-Type"].startswith("text/html"):
            # A file (the executions export) holds names as they are; it is never shown as a page.
            assert response["Content-Disposition"].startswith("attachment;"), name
            assert response["X-Content-Type-Options"] == "nosniff", name
            continue
        html = response.content.decode()
        facts = inspect(html)
        assert facts.inline_scripts == [], (name, facts.inline_scripts)
        assert facts.event_handlers == [], (name, facts.event_handlers)
        assert facts.javascript_urls == [], (name, facts.javascript_urls)
        assert SCRIPT not in html, name
        seen += 1
    assert seen >= 6
    # The escaped text is there (the pages do show the names).
    home = client.get(reverse("home")).content.decode()
    assert "&lt;script&gt;" in home or "&lt;script&gt;" in client.get(reverse("api-keys")).content.decode()
