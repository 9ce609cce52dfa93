"""The notifications API and pages: the inbox, webhooks (secret once), deliveries, subscriptions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crucible.notifications import notification_publish, services
from crucible.notifications.models import Notification, Subscription, Webhook, WebhookDelivery


def publish(team, key, kind="alert.firing"):
    return notification_publish(team=team, kind=kind, title=f"Title {key}", url="/alerts/1/", dedupe_key=key)


@pytest.fixture
def admin_client(client_for, team_admin):
    return client_for(team_admin)


def test_inbox_lists_only_the_callers_rows_and_marks_them_read(member_client, member, team, outsider, other_team):
    publish(team, "a")
    publish(team, "b")
    publish(other_team, "c")
    body = member_client.get("/api/v1/notifications/").json()
    assert body["count"] == 2 and {r["event"]["title"] for r in body["results"]} == {"Title a", "Title b"}
    assert member_client.get("/api/v1/notifications/unread/").json() == {"unread": 2}
    first = body["results"][0]["id"]
    other = Notification.objects.get(user=outsider).pk
    answer = member_client.post("/api/v1/notifications/read/", {"ids": [first, other]}).json()
    assert answer == {"marked": 1, "unread": 1}
    assert Notification.objects.get(pk=other).read_at is None  # not the caller's: untouched
    assert member_client.post("/api/v1/notifications/read-all/").json() == {"marked": 1, "unread": 0}
    assert member_client.get("/api/v1/notifications/?unread=true").json()["count"] == 0


def test_mark_read_refuses_bad_ids_naming_the_field(member_client):
    response = member_client.post("/api/v1/notifications/read/", {"ids": ["x"]})
    assert response.status_code == 400 and "ids.0" in response.json()["fields"]


def test_webhook_secret_is_shown_once_and_admins_only_manage(admin_client, member_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    body = {"name": "ops", "url": "http://127.0.0.1:9/in", "kinds": ["alert.firing"], "body_format": "slack"}
    assert member_client.post("/api/v1/webhooks/", body).status_code == 403
    created = admin_client.post("/api/v1/webhooks/", body)
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    hook_id = created.json()["id"]
    shown = admin_client.get(f"/api/v1/webhooks/{hook_id}/").json()
    assert "secret" not in shown and shown["kinds"] == ["alert.firing"]
    assert member_client.get("/api/v1/webhooks/").json()["count"] == 1
    patched = admin_client.patch(f"/api/v1/webhooks/{hook_id}/", {"is_active": False})
    assert patched.json()["is_active"] is False


def test_webhook_input_errors_name_every_field(admin_client):
    response = admin_client.post(
        "/api/v1/webhooks/", {"name": "", "url": "http://169.254.169.254/", "kinds": ["nope"], "body_format": "xml"}
    )
    assert response.status_code == 400
    assert {"name", "url", "kinds", "body_format"} <= set(response.json()["fields"])
    assert not Webhook.objects.exists()


def test_delivery_log_and_redelivery(admin_client, team, settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    deferred = []
    monkeypatch.setattr(
        "crucible.notifications.tasks.webhook_delivery_defer", lambda **kw: deferred.append(kw), raising=False
    )
    services.webhook_create(team=team, name="ops", url="http://127.0.0.1:9/")
    with django_capture_on_commit_callbacks(execute=True):
        publish(team, "a")
    row = WebhookDelivery.objects.get()
    assert deferred == [{"delivery_id": row.pk, "manual": False}]
    listed = admin_client.get("/api/v1/webhook-deliveries/?status=pending").json()
    assert listed["results"][0]["webhook_id"] == f"msg_{row.uid.hex}"
    detail = admin_client.get(f"/api/v1/webhook-deliveries/{row.pk}/").json()
    assert '"type":"alert.firing"' in detail["request_body"] and detail["log"] == []
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(f"/api/v1/webhook-deliveries/{row.pk}/redeliver/").status_code == 202
    assert deferred[-1] == {"delivery_id": row.pk, "manual": True}


def test_the_delivery_log_filters_by_any_webhook_id(admin_client, team, settings):
    # positive_data_acceptance: ?webhook=<an id the team does not have> was a 400 "Select a valid
    # choice"; an id filter finds nothing instead, and refuses what is not an id, naming it.
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    hook, _ = services.webhook_create(team=team, name="ops", url="http://127.0.0.1:9/")
    assert admin_client.get(f"/api/v1/webhook-deliveries/?webhook={hook.pk}").status_code == 200
    unknown = admin_client.get(f"/api/v1/webhook-deliveries/?webhook={hook.pk + 1000}")
    assert unknown.status_code == 200 and unknown.json()["count"] == 0
    for value in ("0", "x", str(2**63)):
        response = admin_client.get(f"/api/v1/webhook-deliveries/?webhook={value}")
        assert response.status_code == 400 and list(response.json()["fields"]) == ["webhook"], value


def test_subscriptions_own_and_team_default(member_client, admin_client, team, member):
    mine = member_client.post("/api/v1/notification-subscriptions/", {"kinds": ["alert.firing"], "channels": ["email"]})
    assert mine.status_code == 200 and mine.json()["scope"] == "user"
    assert member_client.post("/api/v1/notification-subscriptions/", {"scope": "team"}).status_code == 403
    assert admin_client.post("/api/v1/notification-subscriptions/", {"scope": "team", "kinds": []}).status_code == 200
    assert Subscription.objects.filter(team=team).count() == 2
    bad = member_client.post("/api/v1/notification-subscriptions/", {"kinds": ["nope"], "channels": ["pigeon"]})
    assert bad.status_code == 400 and {"kinds", "channels"} <= set(bad.json()["fields"])


def test_the_bell_shows_the_unread_count_and_the_inbox_page_marks_read(client, member, team):
    client.force_login(member)
    publish(team, "a")
    publish(team, "b")
    home = client.get(reverse("notifications:index")).content.decode()
    assert 'id="notification-bell"' in home and '<span class="bell-count">2</span>' in home
    # The icon is drawn (SVG), not a font's emoji: headless Chromium's fonts drew a missing-glyph box.
    assert '<svg class="bell-icon"' in home and "\N{BELL}" not in home
    assert "Title a" in home
    client.post(reverse("notifications:read"), {"id": [Notification.objects.filter(user=member).first().pk]})
    assert Notification.objects.filter(user=member, read_at__isnull=True).count() == 1
    client.post(reverse("notifications:read-all"))
    page = client.get(reverse("notifications:index")).content.decode()
    assert '<span class="bell-count">0</span>' in page


def test_webhook_pages_show_the_secret_once(client, team_admin, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    client.force_login(team_admin)
    response = client.post(reverse("notifications:webhooks"), {"name": "ops", "url": "http://127.0.0.1:9/"})
    assert response.status_code == 302
    first = client.get(reverse("notifications:webhooks")).content.decode()
    assert 'id="new-secret">whsec_' in first
    assert "whsec_" not in client.get(reverse("notifications:webhooks")).content.decode()
    hook = Webhook.objects.get()
    detail = client.get(reverse("notifications:webhook", kwargs={"pk": hook.pk}))
    assert detail.status_code == 200 and "No deliveries yet" in detail.content.decode()


def test_webhook_page_reports_a_private_url(client, team_admin):
    client.force_login(team_admin)
    client.post(reverse("notifications:webhooks"), {"name": "ops", "url": "http://10.0.0.1/"})
    page = client.get(reverse("notifications:webhooks")).content.decode()
    assert "private, loopback or link-local" in page and not Webhook.objects.exists()
