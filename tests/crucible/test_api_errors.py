"""One error shape for bad input; nothing is written."""

import pytest
from django.test import override_settings

from crucible.models import ApiKey

pytestmark = pytest.mark.django_db

KEYS = "/api/v1/api-keys/"


@pytest.fixture
def admin_client(client_for, team_admin):
    return client_for(team_admin)


def post_raw(client, body: bytes, content_type="application/json"):
    return client.generic("POST", KEYS, body, content_type=content_type)


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"name": }', b"[1, 2", b"\xff\xfe{}", b'{"name": NaN}'],
    ids=["truncated", "syntax", "array", "invalid-utf8", "nan"],
)
def test_malformed_json_is_400_parse_error(admin_client, body):
    response = post_raw(admin_client, body)
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "parse_error"
    assert data["message"]
    assert not ApiKey.objects.exists()


def test_empty_body_names_the_required_field(admin_client):
    response = post_raw(admin_client, b"")
    assert response.status_code == 400
    assert response.json()["fields"] == {"name": ["This field is required."]}


def test_deeply_nested_json_is_400(admin_client):
    body = b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = post_raw(admin_client, body)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@override_settings(API_MAX_BODY_BYTES=1000)
def test_oversized_body_is_413(admin_client):
    response = post_raw(admin_client, b'{"name": "' + b"x" * 2000 + b'"}')
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert not ApiKey.objects.exists()


def test_wrong_type_names_the_field(admin_client):
    response = admin_client.post(KEYS, {"name": ["not", "a", "string"], "role": "owner"}, format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "invalid"
    assert set(data["fields"]) == {"name", "role"}
    assert not ApiKey.objects.exists()


def test_unknown_field_is_named(admin_client):
    response = admin_client.post(KEYS, {"name": "ok", "rolee": "viewer"}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"rolee": ["Unknown field."]}


def test_unsupported_media_type(admin_client):
    response = post_raw(admin_client, b"name=x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_unknown_api_path_is_json_404(admin_client):
    response = admin_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_method_not_allowed(admin_client):
    response = admin_client.delete("/api/v1/teams/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_throttling_per_api_key(key_client, team, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    rates = dict(api_settings.DEFAULT_THROTTLE_RATES, api_key="3/min")
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        client = key_client(team)
        codes = [client.get("/api/v1/teams/").status_code for _ in range(4)]
        other = key_client(team)
        assert other.get("/api/v1/teams/").status_code == 200  # a different key has its own budget
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
    assert codes == [200, 200, 200, 429]


def test_a_number_where_text_belongs_is_refused(admin_client):
    response = admin_client.post(KEYS, {"name": 0.0}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"name": ["Not a valid string."]}
    assert not ApiKey.objects.exists()


def test_an_empty_form_box_for_text_with_a_default_is_refused_as_in_json(team_key_client):
    """Found by schemathesis: ``version=`` in a form body created the agent with the default
    version, while the schema (and a JSON body) say an empty version is invalid."""
    from marketplace.models import Agent

    url = "/api/v1/marketplace/agents/"
    body = "name=Form+agent&system_prompt=Help.&version="
    form = team_key_client.post(url, body, content_type="application/x-www-form-urlencoded")
    assert form.status_code == 400, form.content[:300]
    assert form.json()["fields"] == {"version": ["This field may not be blank."]}
    as_json = team_key_client.post(url, {"name": "Form agent", "system_prompt": "Help.", "version": ""}, format="json")
    assert as_json.status_code == 400
    assert "version" in as_json.json()["fields"]
    assert not Agent.objects.filter(name="Form agent").exists()
