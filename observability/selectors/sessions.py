"""Sessions and end users: trace summaries grouped by ``session_id`` or ``end_user_id`` (the
partial indexes ``trace_team_session`` and ``trace_team_user`` serve both), and a session's turns
as a conversation built from its root spans' payloads."""

from __future__ import annotations

from django.db.models import Count, Max, Min, Q, QuerySet, Sum

from observability.models import ExecutionStatus, SpanPayload, Trace

# Figures of a group of traces (a session, an end user).
GROUP_FIGURES = {
    "traces": Count("id"),
    "errors": Count("id", filter=Q(status=ExecutionStatus.ERROR)),
    "spans": Sum("span_count"),
    "input_tokens": Sum("input_tokens"),
    "output_tokens": Sum("output_tokens"),
    "cost": Sum("cost"),
    "first_seen": Min("started_at"),
    "last_seen": Max("ended_at"),
}
# The most turns a session page reads (the latest are kept when a session is longer).
SESSION_MAX_TURNS = 500


def sessions_group(traces: QuerySet[Trace]) -> QuerySet:
    """One row per session of ``traces``: ``session_id``, ``end_user_id`` (the latest seen), the
    ``GROUP_FIGURES``. Filter the traces first (time, agent, user), then group."""
    return (
        traces.exclude(session_id="")
        .order_by()
        .values("team_id", "session_id")
        .annotate(**GROUP_FIGURES, end_user_id=Max("end_user_id"), agents=Count("agent_name", distinct=True))
    )


def end_users_group(traces: QuerySet[Trace]) -> QuerySet:
    """One row per end user of ``traces``: ``end_user_id``, ``sessions`` and the ``GROUP_FIGURES``."""
    return (
        traces.exclude(end_user_id="")
        .order_by()
        .values("team_id", "end_user_id")
        .annotate(**GROUP_FIGURES, sessions=Count("session_id", distinct=True, filter=~Q(session_id="")))
    )


def session_get(*, team_ids, session_id: str) -> dict | None:
    """A session's figures, or None when no trace of these teams has this session id."""
    return (
        sessions_group(Trace.objects.filter(team_id__in=list(team_ids), session_id=session_id))
        .order_by("team_id")
        .first()
    )


def session_traces(*, team_id: int, session_id: str) -> list[Trace]:
    """The session's traces in the order they started (the latest ``SESSION_MAX_TURNS``)."""
    latest = list(
        Trace.objects.filter(team_id=team_id, session_id=session_id).order_by("-started_at", "-id")[:SESSION_MAX_TURNS]
    )
    return latest[::-1]


def _messages(value, default_role: str) -> list[dict]:
    """Chat messages in a payload value: a list of {role, content}, {"messages": [...]}, or a text."""
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return [{"role": str(m.get("role")), "content": m.get("content", m.get("parts"))} for m in value]
    if isinstance(value, str):
        return [{"role": default_role, "content": value}]
    if value is None:
        return []
    return [{"role": default_role, "content": value}]


def chat_messages(value, default_role: str) -> list[dict] | None:
    """The messages of a payload value when it reads as a conversation, else None (shown as JSON)."""
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return _messages(value, default_role)
    if isinstance(value, str):
        return _messages(value, default_role)
    return None


def session_conversation(*, traces: list[Trace]) -> list[dict]:
    """Each trace as a turn: the messages its root span received that the previous turns did not
    already show (a chat input usually repeats the history), then its output. One query."""
    if not traces:
        return []
    roots = {
        row["execution__trace_id"]: row
        for row in SpanPayload.objects.filter(
            team_id=traces[0].team_id,
            execution__team_id=traces[0].team_id,
            execution__trace_id__in=[t.trace_id for t in traces],
            execution__parent_span_id="",
        ).values("execution__trace_id", "execution_id", "input", "output")
    }
    turns, shown = [], []
    for trace in traces:
        root = roots.get(trace.trace_id) or {}
        received = _messages(root.get("input"), "user")
        answered = _messages(root.get("output"), "assistant")
        new = received[len(shown) :] if received[: len(shown)] == shown and shown else received
        if shown and new is received:  # a fresh prompt, not the history again: drop a repeated system message
            new = [m for m in received if m["role"] != "system"] or received
        shown = received + answered
        turns.append({"trace": trace, "span_id": root.get("execution_id"), "messages": new + answered})
    return turns
