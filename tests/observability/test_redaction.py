"""Redaction at ingest (built-ins and team rules, before storage), rules over API, page and admin,
and payload retention."""

import datetime as dt

import pytest
from django.core.management import call_command

from crucible import sql
from observability.models import Execution, RedactionRule, SpanPayload
from observability.redaction import Redactor, luhn_valid

pytestmark = pytest.mark.django_db

SPANS_URL = "/api/v1/observability/spans/"
RULES_URL = "/api/v1/observability/redaction-rules/"


def event(now, **extra):
    return {
        "trace_id": "ab" * 16,
        "span_id": "cd" * 8,
        "agent": "support-bot",
        "kind": "llm",
        "started_at": (now - dt.timedelta(minutes=1)).isoformat(),
        "duration_ms": 10,
        **extra,
    }


def stored_text(team) -> str:
    """Everything stored about the team's spans, as PostgreSQL holds it."""
    rows = sql.fetch_rows(
        "SELECT e.attributes::text || e.error_message || coalesce(p.input::text, '') || coalesce(p.output::text, '')"
        " AS text FROM observability_execution e LEFT JOIN observability_spanpayload p ON p.execution_id = e.id"
        " WHERE e.team_id = %(team)s",
        {"team": team.pk},
    )
    return " ".join(row["text"] for row in rows)


def test_built_in_rules_redact_before_anything_is_stored(team_key_client, team, now):
    secret = "sk-proj-" + "A1b2C3d4" * 4
    messages = [
        {"role": "user", "content": f"I am jane.doe@example.com, card 4111 1111 1111 1111, key {secret}"},
        {"role": "user", "content": "order 4111 1111 1111 1112 is not a card (Luhn)"},
    ]
    response = team_key_client.post(
        SPANS_URL,
        {
            "events": [
                event(
                    now,
                    input=messages,
                    output="Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345",
                    attributes={"user.email": "jane.doe@example.com"},
                    status="error",
                    error_message="Traceback: mail to jane.doe@example.com failed",
                )
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    text = stored_text(team)
    for leaked in ("jane.doe@example.com", "4111 1111 1111 1111", secret, "abcdefghijklmnopqrstuvwxyz012345"):
        assert leaked not in text
    assert "[REDACTED:email]" in text and "[REDACTED:card]" in text and "[REDACTED:api_key]" in text
    assert "4111 1111 1111 1112" in text  # fails the Luhn check: not a card number
    assert SpanPayload.objects.get(team=team).redacted


def test_team_rules_apply_to_their_team_only(team_key_client, team, other_team, now):
    RedactionRule.objects.create(team=team, name="customer", pattern=r"CUST-\d{6}", replacement="[CUSTOMER]")
    RedactionRule.objects.create(team=team, name="off", pattern=r"ORDER-\d+", enabled=False)
    RedactionRule.objects.create(team=other_team, name="theirs", pattern=r"hello")
    team_key_client.post(SPANS_URL, {"events": [event(now, input="hello CUST-123456 ORDER-9")]}, format="json")
    assert SpanPayload.objects.get(team=team).input == "hello [CUSTOMER] ORDER-9"


def test_luhn():
    assert luhn_valid("4111111111111111") and luhn_valid("5555555555554444")
    assert not luhn_valid("4111111111111112")
    assert Redactor([]).redact("call 555-123-4567") == ("call 555-123-4567", False)  # a phone number stays


def test_rules_api_admins_change_members_read(client_for, team_admin, member, team):
    admin = client_for(team_admin)
    created = admin.post(RULES_URL, {"name": "ids", "pattern": r"ID-\d+"}, format="json")
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    bad = admin.post(RULES_URL, {"name": "broken", "pattern": "(unclosed"}, format="json")
    assert bad.status_code == 400 and "pattern" in bad.json()["fields"]
    assert admin.post(RULES_URL, {"name": "ids", "pattern": "x+"}, format="json").status_code == 400
    changed = admin.patch(f"{RULES_URL}{rule_id}/", {"enabled": False}, format="json")
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    reader = client_for(member)
    assert reader.get(RULES_URL).json()["results"][0]["name"] == "ids"
    assert reader.post(RULES_URL, {"name": "x", "pattern": "x+"}, format="json").status_code == 403
    assert reader.delete(f"{RULES_URL}{rule_id}/").status_code == 403
    assert admin.delete(f"{RULES_URL}{rule_id}/").status_code == 204
    assert not RedactionRule.objects.exists()


def test_rules_of_another_team_answer_404(client_for, team_admin, other_team):
    rule = RedactionRule.objects.create(team=other_team, name="theirs", pattern="x+")
    assert client_for(team_admin).get(f"{RULES_URL}{rule.pk}/").status_code == 404


def test_rules_page(client, team_admin, member, team):
    client.force_login(team_admin)
    page = client.get("/observability/redaction/")
    assert page.status_code == 200 and b"Add rule" in page.content
    client.post("/observability/redaction/", {"name": "ids", "pattern": r"ID-\d+"})
    rule = RedactionRule.objects.get(team=team)
    client.post(f"/observability/redaction/{rule.pk}/", {"action": "toggle"})
    rule.refresh_from_db()
    assert not rule.enabled
    client.force_login(member)
    assert b"Add rule" not in client.get("/observability/redaction/").content
    assert client.post("/observability/redaction/", {"name": "x", "pattern": "x+"}).status_code == 403
    assert client.post(f"/observability/redaction/{rule.pk}/", {"action": "delete"}).status_code == 403


def test_payloads_are_purged_before_their_spans(team_key_client, team, now):
    team_key_client.post(SPANS_URL, {"events": [event(now, input="hi")]}, format="json")
    execution = Execution.objects.get(team=team)
    # A payload is keyed with its span's start (one foreign key, one partition month): move both.
    Execution.objects.filter(pk=execution.pk).update(started_at=now - dt.timedelta(days=40))
    SpanPayload.objects.filter(execution=execution).update(started_at=now - dt.timedelta(days=40))
    call_command("observability_retention", "--payload-days", "30")
    assert Execution.objects.filter(pk=execution.pk).exists()
    assert not SpanPayload.objects.exists()
