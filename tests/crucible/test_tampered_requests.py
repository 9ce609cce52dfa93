"""Issue 15, items 8 and 13: requests an attacker shapes by hand answer 400 or 404 in the one error
shape (pages: the filter form's error), never a 500 or Django's HTML "Bad Request" page."""

from __future__ import annotations

import base64
import io
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.django_db

CURSOR_LISTS = ["/api/v1/improvement/assignments/", "/api/v1/observability/executions/?ordering=duration_ms"]
# A cursor holds the sort value (p) and the id (k) of the row it stops at.
TAMPERED_POSITIONS = [
    "p=abc&k=1",
    "p=nan&k=1",
    "p=inf&k=1",
    "p=1e308&k=1",
    "p=\x00&k=1",
    "p=1&k=abc",
    "p=1&k=-1",
    "p=1&k=99999999999999999999",
    "p=1",
    "k=1",
    "p=1&p=2&k=1",
]
# Positions of a start time: the API writes them with their offset; one without is a time in no zone.
TAMPERED_TIMES = ["p=2026-12-01 00:00:00&k=1", "p=2026-12-01&k=1", "p=2026-13-01T00:00:00Z&k=1"]
# 1e308 is a finite float, a valid position for duration_ms; for an id it is out of range.
VALID_ELSEWHERE = {("/api/v1/observability/executions/?ordering=duration_ms", "p=1e308&k=1")}
EXTREME_OFFSETS = [
    ("/teammemory/builds/", "since", "0001-01-01T00:00:00+23:59"),
    ("/teammemory/builds/", "until", "9999-12-31T23:59:59-23:59"),
    ("/observability/executions/", "started_after", "0001-01-01T00:00:00+23:59"),
    ("/improvement/", "created_after", "0001-01-01T00:00:00+23:59"),
]
FIFTEEN = (
    [("cursor", url, position) for url in CURSOR_LISTS for position in TAMPERED_POSITIONS]
    + [("cursor", "/api/v1/observability/executions/", position) for position in TAMPERED_TIMES]
    + [("nul-path", "/observability/agents/%00/", None)]
    + [("offset", f"{page}?{name}={quote(value)}", name) for page, name, value in EXTREME_OFFSETS]
)


def _cursor(raw: str) -> str:
    return quote(base64.b64encode(raw.encode()).decode())


@pytest.fixture
def web(client_for, member):
    return client_for(member)


@pytest.mark.parametrize(("kind", "url", "extra"), FIFTEEN, ids=[f"{k}:{u}:{e}" for k, u, e in FIFTEEN])
def test_the_fifteen_former_500s(kind, url, extra, web, team_key_client):
    if kind == "cursor":
        sep = "&" if "?" in url else "?"
        response = team_key_client.get(f"{url}{sep}cursor={_cursor(extra)}")
        if (url, extra) in VALID_ELSEWHERE:
            assert response.status_code == 200
            return
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "Invalid cursor", "fields": {}}
    elif kind == "nul-path":
        response = web.get(url)
        assert response.status_code == 404
        assert b"Not found" in response.content
    else:
        response = web.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Enter a date and time between the years 1 and 9999 (in UTC)." in html


@pytest.mark.parametrize(
    ("url", "name", "value"),
    [
        ("/api/v1/teammemory/builds/", "since", "0001-01-01T00:00:00+23:59"),
        ("/api/v1/teammemory/builds/", "until", "9999-12-31T23:59:59-23:59"),
        ("/api/v1/observability/executions/", "started_after", "0001-01-01T00:00:00+23:59"),
        ("/api/v1/improvement/experiments/", "created_after", "9999-12-31T23:59:59-23:59"),
        ("/api/v1/improvement/assignments/", "created_before", "0001-01-01T00:00:00+23:59"),
    ],
)
def test_extreme_offsets_on_the_api_name_the_filter(url, name, value, team_key_client):
    response = team_key_client.get(f"{url}?{name}={quote(value)}")
    assert response.status_code == 400
    assert response.json()["fields"] == {name: ["Enter a date and time between the years 1 and 9999 (in UTC)."]}


def test_an_offset_postgresql_cannot_hold_is_converted_not_refused(team_key_client):
    # +20:00 is a real instant (Python and ISO 8601 allow it); PostgreSQL refuses offsets past 15:59.
    response = team_key_client.get("/api/v1/teammemory/builds/?since=" + quote("2026-01-01T00:00:00+20:00"))
    assert response.status_code == 200


def test_nul_in_an_api_path_is_json_404(team_key_client):
    response = team_key_client.get("/api/v1/marketplace/agents/%00/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("who", ["key", "session"])
def test_form_bodies_over_the_limits_get_the_json_error_shape(who, team_key_client, web):
    client = team_key_client if who == "key" else web
    body = "&".join(f"f{i}=x" for i in range(1500))
    response = client.post("/api/v1/marketplace/agents/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_request",
        "message": "The request has more than 1000 form fields.",
        "fields": {},
    }
    files = {f"f{i}": io.BytesIO(b"x") for i in range(120)}
    response = client.post("/api/v1/marketplace/agents/", files, format="multipart")
    assert response.status_code == 400
    assert response.json() == {"code": "bad_request", "message": "The request has more than 100 files.", "fields": {}}


@pytest.mark.parametrize("body", ["\r\nNone--{b}--\r\n", "--{b}\r\nFalse--{b}--\r\n"])
def test_a_multipart_body_that_names_no_field_is_refused(team_key_client, body):
    # Django read it as an empty form, so a create with every field defaulted succeeded (found by
    # the 150-example schemathesis run on POST /api/v1/notification-subscriptions/).
    boundary = "7c5156fb04a2177cf9e322ad31ebde44"
    response = team_key_client.post(
        "/api/v1/notification-subscriptions/",
        body.format(b=boundary),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert team_key_client.get("/api/v1/notification-subscriptions/").json()["count"] == 0


def test_a_well_formed_multipart_body_still_works(team_key_client):
    response = team_key_client.post(
        "/api/v1/marketplace/agents/",
        {"name": "Form agent", "summary": "Sent as a form.", "system_prompt": "Be brief."},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "Form agent"
