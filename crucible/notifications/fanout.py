"""Who gets an event: one statement per channel, resolved in PostgreSQL from the team's members and
their subscriptions (a member's own row, else the team's default row, else: every kind in the app,
nothing by e-mail)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from crucible import sql
from crucible.models import Membership, Role
from crucible.notifications.models import Channel, EmailDelivery, Event, Notification, Subscription

_RECIPIENTS = """
    SELECT m.user_id, u.email,
           COALESCE(us.kinds, ts.kinds, '{{}}'::varchar[]) AS kinds,
           COALESCE(us.channels, ts.channels, ARRAY['in_app']::varchar[]) AS channels
      FROM {membership} m
      JOIN {user} u ON u.id = m.user_id AND u.is_active
      LEFT JOIN {subscription} us ON us.team_id = m.team_id AND us.user_id = m.user_id
      LEFT JOIN {subscription} ts ON ts.team_id = m.team_id AND ts.user_id IS NULL
     WHERE m.team_id = %(team)s
"""
_WANTS = "%(channel)s = ANY(channels) AND (cardinality(kinds) = 0 OR %(kind)s = ANY(kinds))"


def _tables() -> dict[str, str]:
    return {
        "membership": Membership._meta.db_table,
        "user": get_user_model()._meta.db_table,
        "subscription": Subscription._meta.db_table,
        "notification": Notification._meta.db_table,
        "email": EmailDelivery._meta.db_table,
    }


def inbox_fan_out(*, event: Event) -> int:
    """In-app rows for the subscribed members; a member never gets the same event twice."""
    statement = (
        "WITH recipients AS (" + _RECIPIENTS + ") "
        "INSERT INTO {notification} (user_id, team_id, event_id, created_at, read_at) "
        "SELECT user_id, %(team)s, %(event)s, %(now)s, NULL FROM recipients WHERE " + _WANTS + " "
        "ON CONFLICT (user_id, event_id) DO NOTHING"
    ).format(**_tables())
    params = {"team": event.team_id, "event": event.pk, "kind": event.kind, "channel": Channel.IN_APP.value}
    return sql.execute(statement, params | {"now": event.created_at})


def inbox_notify_admins(*, event: Event) -> int:
    """A notice for the team's admins and owners, whatever their subscriptions (a disabled webhook)."""
    statement = (
        "INSERT INTO {notification} (user_id, team_id, event_id, created_at, read_at) "
        "SELECT m.user_id, m.team_id, %(event)s, %(now)s, NULL FROM {membership} m "
        "WHERE m.team_id = %(team)s AND m.role IN (%(admin)s, %(owner)s) "
        "ON CONFLICT (user_id, event_id) DO NOTHING"
    ).format(**_tables())
    params = {"team": event.team_id, "event": event.pk, "now": event.created_at}
    return sql.execute(statement, params | {"admin": Role.ADMIN.value, "owner": Role.OWNER.value})


def email_fan_out(*, event: Event) -> list[int]:
    """E-mail rows for the members subscribed by e-mail who have an address; their ids."""
    statement = (
        "WITH recipients AS (" + _RECIPIENTS + ") "
        "INSERT INTO {email} (event_id, user_id, address, status, attempts, last_error, created_at) "
        "SELECT %(event)s, user_id, email, 'pending', 0, '', %(now)s FROM recipients "
        "WHERE email <> '' AND " + _WANTS + " "
        "ON CONFLICT (event_id, user_id) DO NOTHING RETURNING id"
    ).format(**_tables())
    params = {"team": event.team_id, "event": event.pk, "kind": event.kind, "channel": Channel.EMAIL.value}
    return [row["id"] for row in sql.fetch_rows(statement, params | {"now": event.created_at})]
