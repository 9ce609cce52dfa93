"""One click from an observability recommendation or regression to an alert rule: a POST button
beside the "customize" link creates the rule the prefilled form would create."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import pytest
from django.urls import reverse

from alerts.forms import RULE_FIELDS
from alerts.models import AlertRule
from crucible.models import Role

pytestmark = pytest.mark.django_db

ONE_CLICK = reverse("alerts:rule-from-finding")


def _failing_coder(ingest, team):
    now = dt.datetime.now(dt.UTC)
    ingest(team, at=now - dt.timedelta(hours=30), n=40, agent="coder")
    ingest(team, at=now - dt.timedelta(hours=2), n=28, agent="coder")
    ingest(team, at=now - dt.timedelta(hours=2), n=12, agent="coder", status="error")


def _buttons(html: str) -> list[tuple[str, str]]:
    """(signed finding, customize link) of each one-click form on a page."""
    found = re.findall(
        r'<form method="post" action="' + ONE_CLICK + r'" class="inline one-click-alert">.*?'
        r'name="finding" value="([^"]+)".*?</form> <a href="([^"]+)" class="create-alert">',
        html,
    )
    return [(html_lib.unescape(token), html_lib.unescape(url)) for token, url in found]


def _error_rate_button(client, page):
    buttons = _buttons(client.get(page).content.decode())
    return next((token, url) for token, url in buttons if "metric=error_rate" in url)


def _fields(rule) -> dict:
    return {name: getattr(rule, name) for name in RULE_FIELDS}


@pytest.mark.parametrize("page", ["/observability/recommendations/", "/observability/bottlenecks/"])
def test_one_click_creates_the_rule_the_prefilled_form_would_create(client, member, team, other_team, ingest, page):
    _failing_coder(ingest, team)
    client.force_login(member)
    token, customize = _error_rate_button(client, page)

    response = client.post(ONE_CLICK, {"finding": token})
    rule = AlertRule.objects.get(team=team)
    assert response.status_code == 302 and response.url == reverse("alerts:rule-detail", args=[rule.pk])
    page_after = client.get(response.url).content.decode()
    assert f"Alert rule &#x27;{rule.name}&#x27; created." in page_after
    assert rule.created_by == member and rule.agent_name == "coder" and rule.metric == "error_rate"

    # The second click of the old way: the customize form, saved as it opens, in another team.
    from crucible import services as core

    core.membership_set(team=other_team, user=member)
    form = client.get(customize).context["form"]
    posted = {name: form[name].value() for name in RULE_FIELDS}
    posted = {name: value for name, value in posted.items() if value not in (None, False)}
    client.post(reverse("team-switch"), {"team": other_team.pk, "next": "/"})
    assert client.post(reverse("alerts:rule-create"), posted).status_code == 302
    assert _fields(AlertRule.objects.get(team=other_team)) == _fields(rule)


def test_a_double_click_leads_to_the_same_rule(client, member, team, ingest):
    _failing_coder(ingest, team)
    client.force_login(member)
    token, _ = _error_rate_button(client, "/observability/recommendations/")
    first = client.post(ONE_CLICK, {"finding": token})
    second = client.post(ONE_CLICK, {"finding": token})
    assert AlertRule.objects.filter(team=team).count() == 1
    assert first.url == second.url
    assert "Your team already has this rule" in client.get(second.url).content.decode()


def test_a_rule_of_that_name_with_other_values_is_not_overwritten(client, member, team, ingest, make_rule):
    _failing_coder(ingest, team)
    existing = make_rule(team, name="coder error_rate", warning_threshold=0.5)
    client.force_login(member)
    token, customize = _error_rate_button(client, "/observability/recommendations/")
    response = client.post(ONE_CLICK, {"finding": token}, follow=True)
    assert response.redirect_chain[-1][0] == customize
    assert "Your team has a rule with this name." in response.content.decode()
    assert list(AlertRule.objects.filter(team=team)) == [existing]
    existing.refresh_from_db()
    assert existing.warning_threshold == 0.5


def test_a_read_only_member_is_refused(client, make_user, team, ingest):
    _failing_coder(ingest, team)
    viewer = make_user("reader", team=team, role=Role.VIEWER)
    client.force_login(viewer)
    token, customize = _error_rate_button(client, "/observability/recommendations/")
    assert client.post(ONE_CLICK, {"finding": token}).status_code == 403
    # the same refusal as saving the prefilled form
    assert client.post(reverse("alerts:rule-create"), {"name": "x", "metric": "error_rate"}).status_code == 403
    assert not AlertRule.objects.exists()


def test_another_teams_finding_cannot_be_used(client, member, outsider, team, other_team, ingest):
    _failing_coder(ingest, team)
    client.force_login(member)
    token, _ = _error_rate_button(client, "/observability/recommendations/")

    client.force_login(outsider)  # active team: other_team
    assert client.post(ONE_CLICK, {"finding": token}).status_code == 404

    # A member of both teams, acting for the other one, cannot bring this team's finding there.
    from crucible import services as core

    core.membership_set(team=other_team, user=member)
    client.force_login(member)
    client.post(reverse("team-switch"), {"team": other_team.pk, "next": "/"})
    assert client.post(ONE_CLICK, {"finding": token}).status_code == 404

    # Values that were not signed by the server (forged or edited) are refused too.
    assert client.post(ONE_CLICK, {"finding": token[:-2] + "xx"}).status_code == 404
    assert client.post(ONE_CLICK, {"finding": ""}).status_code == 404
    assert not AlertRule.objects.exists()
