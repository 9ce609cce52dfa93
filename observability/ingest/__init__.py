"""Ingest of execution events (batch API, OTLP, build reports): ``executions_ingest``.

``parse.batch_events`` takes the events out of a request body. Per batch:
1. ``validate``: every event checked in Python (no query per event); every bad field of an event
   is named in its result;
   ``payloads``: inputs, outputs and attributes checked, redacted and capped (no query but the
   team's redaction rules, once per batch);
2. ``resolve``: the few distinct agent references, improvement's rules for the results of events
   that name a prompt variant (a result improvement would refuse is an error of that event only),
   the price of each event from one in-memory price book;
   ``spans``: the batch's traces locked, duplicates and tree errors settled, counting once;
3. ``insert``: ``COPY`` of the new rows (or ``INSERT ... ON CONFLICT DO NOTHING`` when a
   concurrent batch raced us to an id), then of their payloads;
4. ``observability.rollups.rollups_apply`` adds the rows really inserted to the rollups (and takes
   away usage that stopped counting), ``observability.evidence_feed`` those naming an agent version
   to the marketplace's version evidence (the same counting), ``spans.traces_upsert`` to the trace
   summaries, and the results of those naming a variant go to ``improvement.services.results_record_bulk``,
   those naming an agent version to the team's guarded rollouts (``rollout_executions_record``).
Steps 2-4 run in one transaction: a failure stores nothing. Bad events never fail the others.
The cyclic garbage collector is paused for the batch (``gc_paused``): a batch makes some hundred
thousand short-lived objects, which start full collections over the whole process (a tenth of a
request's CPU); they are freed by reference counting (tests/observability/test_ingest_memory.py).
"""

from __future__ import annotations

import datetime as dt
import gc
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crucible import validation as v
from improvement import services as improvement_services
from observability import conf
from observability.covariates import covariates_attach
from observability.evidence_feed import evidence_feed
from observability.ingest import resolve, spans
from observability.ingest.insert import executions_insert, payloads_insert
from observability.ingest.parse import batch_events
from observability.ingest.payloads import content_hash, payloads_prepare
from observability.ingest.validate import EVENT_FIELDS, TOKEN_FIELDS, event_validate
from observability.models import ExecutionSource
from observability.redaction import Redactor
from observability.rollups import rollups_apply

__all__ = ["EVENT_FIELDS", "TOKEN_FIELDS", "batch_events", "executions_ingest"]


def _result(index: int, event, *, errors, in_batch_duplicates, rows, stored_ids, late_refusals) -> dict:
    client_id = event.get("id") if isinstance(event, dict) else None
    result = {"index": index, "id": client_id if isinstance(client_id, str) else None}
    if index in errors:
        fields = errors[index].as_dict()
        field, message = errors[index].first()
        result.update(status="error", field=field, message=message, fields=fields)
    elif index in in_batch_duplicates:
        message = in_batch_duplicates[index]
        if isinstance(message, int):
            message = f"Same id as event {message} of this batch."
        result.update(status="duplicate", message=message)
    elif rows[index]["client_id"] in stored_ids:
        result.update(status="stored")
        if index in late_refusals:
            field, message = late_refusals[index].first()
            result.update(field=field, message=f"Stored, but its experiment result was not counted: {message}")
    else:
        result.update(status="duplicate", message="An event with this id was stored before.")
    return result


@contextmanager
def gc_paused():
    """No cyclic garbage collection inside the block (restored after it, also on error)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def executions_ingest(*, team, events, build=None, api_key=None, source: str | None = None) -> list[dict]:
    """Store a batch of execution events; return one result per event, in order:
    ``{"index", "id", "status": "stored"|"duplicate"|"error", "field", "message", "fields"}``
    (``fields``: every bad field of the event with its messages; ``field``/``message``: the first).

    Invalid events are reported and skipped; valid ones are stored (a retried ``id`` is a
    duplicate). Raises ``ValidationError`` only when ``events`` itself is unusable."""
    with gc_paused():
        return _ingest(team=team, events=events, build=build, api_key=api_key, source=source)


def _ingest(*, team, events, build, api_key, source) -> list[dict]:
    if not isinstance(events, list):
        raise ValidationError({"events": "Must be a list of events."})
    if len(events) > conf.MAX_BATCH_EVENTS:
        raise ValidationError({"events": f"At most {conf.MAX_BATCH_EVENTS} events per batch."})
    source = source or (ExecutionSource.BUILD if build is not None else ExecutionSource.API)
    now = timezone.now()
    oldest = now - dt.timedelta(days=conf.RETENTION_DAYS)
    newest = now + dt.timedelta(seconds=conf.MAX_FUTURE_SECONDS)

    errors: dict[int, v.Errors] = {}
    rows: dict[int, dict] = {}
    first_index: dict[str, int] = {}
    in_batch_duplicates: dict[int, int | str] = {}
    redactor = Redactor.for_team(team.pk)
    for index, event in enumerate(events):
        problems = v.Errors()
        row = event_validate(event, oldest=oldest, newest=newest, errors=problems)
        if row is not None:
            for field, message in payloads_prepare(row, redactor).items():
                problems.add(field, message)
        if problems:
            errors[index] = problems
            continue
        if row["client_id"] in first_index:
            in_batch_duplicates[index] = first_index[row["client_id"]]
            continue
        first_index[row["client_id"]] = index
        row["agent_id"] = None
        row["agent_version_id"] = None
        # Only a span sent with its own span id is checked for "same id, other content".
        row["content_hash"] = content_hash(event) if row["span_named"] else ""
        rows[index] = row

    stored_ids: set[str] = set()
    late_refusals: dict[int, v.Errors] = {}
    with transaction.atomic():
        resolve.agents_resolve(team, rows, errors)
        resolve.price(rows)
        stored_by_trace = (
            spans.spans_check(team_id=team.pk, rows=rows, errors=errors, duplicates=in_batch_duplicates) if rows else {}
        )
        resolve.variants_check(team, rows, errors)
        if rows:
            ordered = sorted(rows.values(), key=lambda r: r["client_id"])
            uncounted = spans.counting_once(team_id=team.pk, rows=ordered, stored_by_trace=stored_by_trace)
            stored_ids = executions_insert(
                ordered,
                team_id=team.pk,
                build_id=build.pk if build is not None else None,
                api_key_id=api_key.pk if api_key is not None else None,
                source=str(source),
                existing=set(),  # spans_check took the stored ones out
            )
            stored_rows = [row for row in ordered if row["client_id"] in stored_ids]
            payloads_insert(stored_rows, team_id=team.pk)
            rollups_apply(team_id=team.pk, rows=stored_rows, uncounted_usage=uncounted)
            evidence_feed(team_id=team.pk, rows=stored_rows, uncounted_usage=uncounted)
            spans.traces_upsert(team_id=team.pk, rows=stored_rows, uncounted=uncounted, known=set(stored_by_trace))
            late_refusals = _feed_variants(team, rows, stored_ids)
            _feed_rollouts(team, stored_rows)

    return [
        _result(
            index,
            event,
            errors=errors,
            in_batch_duplicates=in_batch_duplicates,
            rows=rows,
            stored_ids=stored_ids,
            late_refusals=late_refusals,
        )
        for index, event in enumerate(events)
    ]


def _feed_rollouts(team, stored_rows: list[dict]) -> None:
    """Executions that ran an agent version (agent spans and roots) go to the team's guarded
    rollouts of that version, as runs of stable or candidate (improvement ignores the others)."""
    runs = [
        {"version_id": row["agent_version_id"], "success": row["status"] == "success"}
        | {"duration_ms": row["duration_ms"], "cost": row["cost"]}
        for row in stored_rows
        if row["agent_version_id"] is not None and row["counts_execution"]
    ]
    if runs:
        improvement_services.rollout_executions_record(team=team, runs=runs)


def _feed_variants(team, rows: dict[int, dict], stored_ids: set[str]) -> dict[int, v.Errors]:
    """Hand the results of stored executions that name a variant to improvement. They were
    checked before the insert; one refused now (its experiment concluded in between) is not
    counted and is reported on its event, the others are recorded."""
    indexes = [i for i, row in rows.items() if row["variant_id"] is not None and row["client_id"] in stored_ids]
    if not indexes:
        return {}
    results = [resolve.variant_result(rows[i]) for i in indexes]
    covariates_attach(team=team, rows=[rows[i] for i in indexes], results=results)
    outcome = improvement_services.results_record_bulk(team=team, results=results, skip_refused=True)
    return {
        indexes[position]: resolve.event_errors_of_result(problem)
        for position, problem in outcome.get("refused", {}).items()
    }
