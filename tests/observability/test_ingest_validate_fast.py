"""Ingest validation (issue 16): valid events take a fast pass (only the fields they sent), any
problem goes to the full pass, so every per-event error message, field name and their order is
what it was. The fast pass gives the very row the full pass gives."""

from __future__ import annotations

import datetime as dt
import gc

import pytest

from crucible import validation as v
from observability.ingest import validate

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
OLDEST, NEWEST = NOW - dt.timedelta(days=90), NOW + dt.timedelta(seconds=300)
BASE = {"id": "e-1", "agent": "a", "started_at": "2026-11-30T11:00:00Z", "duration_ms": 12.5}

# (what is changed in BASE, every bad field with its messages, in the order they are reported)
BAD = [
    ({"foo": 1}, {"foo": ["Unknown field."]}),
    ({"id": None}, {"id": ["This field is required."]}),
    ({"id": 123}, {"id": ["Must be text."]}),
    ({"agent": None}, {"agent": ["This field is required."]}),
    ({"agent": "   "}, {"agent": ["This field may not be blank."]}),
    ({"started_at": None}, {"started_at": ["This field is required."]}),
    ({"started_at": "yesterday"}, {"started_at": ["Not a valid ISO 8601 timestamp."]}),
    (
        {"started_at": "2026-11-30T11:00:00"},
        {"started_at": ["The timestamp needs a time zone (e.g. 'Z' or '+00:00')."]},
    ),
    ({"started_at": "2027-11-30T11:00:00Z"}, {"started_at": ["Is more than 300 seconds in the future."]}),
    ({"started_at": "2020-01-01T00:00:00Z"}, {"started_at": ["Is older than the retention period (90 days)."]}),
    ({"duration_ms": -1}, {"duration_ms": ["Must not be negative."]}),
    ({"duration_ms": None}, {"duration_ms": ["This field is required."]}),
    ({"duration_ms": "5"}, {"duration_ms": ["Must be a number."]}),
    ({"status": "ok"}, {"status": ["Must be 'success' or 'error'."]}),
    ({"input_tokens": -1}, {"input_tokens": ["Must not be negative."]}),
    ({"input_tokens": "5"}, {"input_tokens": ["Must be a whole number."]}),
    ({"input_tokens": 1.5}, {"input_tokens": ["Must be a whole number."]}),
    ({"input_tokens": True}, {"input_tokens": ["Must be a whole number."]}),
    (
        {"input_tokens": 10, "cached_input_tokens": 11},
        {"cached_input_tokens": ["Cannot exceed input_tokens (input tokens include cached ones)."]},
    ),
    (
        {"output_tokens": 10, "reasoning_tokens": 11},
        {"reasoning_tokens": ["Cannot exceed output_tokens (output tokens include reasoning ones)."]},
    ),
    (
        {"input_tokens": 1000000000, "output_tokens": 1000000000},
        {"output_tokens": ["input_tokens + output_tokens is at most 1000000000."]},
    ),
    ({"cost": "abc"}, {"cost": ["Must be a number."]}),
    ({"cost": -1}, {"cost": ["Must not be negative."]}),
    ({"trace_id": "zz"}, {"trace_id": ["Must be hexadecimal."]}),
    ({"trace_id": "a" * 33}, {"trace_id": ["At most 32 characters."]}),
    ({"span_id": "xyz"}, {"span_id": ["Must be hexadecimal."]}),
    ({"parent_span_id": "ab"}, {"parent_span_id": ["A span with a parent needs its trace_id."]}),
    (
        {"trace_id": "ab", "span_id": "cd", "parent_span_id": "cd"},
        {"parent_span_id": ["A span cannot be its own parent (a cycle)."]},
    ),
    (
        {"kind": "bogus"},
        {
            "kind": [
                "Must be one of: agent, llm, tool, retrieval, chain, embedding, guardrail, evaluator, event, other."
            ]
        },
    ),
    ({"tags": "x"}, {"tags": ["Must be a list of at most 50 tags."]}),
    ({"tags": ["t"] * 51}, {"tags": ["Must be a list of at most 50 tags."]}),
    ({"attributes": []}, {"attributes": ["Must be a JSON object."]}),
    ({"ended_at": "2026-11-30T11:00:01Z"}, {"ended_at": ["Send duration_ms or ended_at, not both."]}),
    (
        {"duration_ms": None, "ended_at": "2026-11-30T10:00:00Z"},
        {"ended_at": ["Is before started_at (a span cannot end before it starts)."]},
    ),
    ({"agent": "a\ud800"}, {"agent": ["Is not valid UTF-8 (a lone surrogate)."]}),
    ({"model": "m\x00"}, {"model": ["Text cannot contain NUL characters."]}),
    ({"agent_ref": True}, {"agent_ref": ["Must be an agent id, 'slug' or 'team-slug/slug'."]}),
    ({"variant_id": 0}, {"variant_id": ["Must be a positive whole number."]}),
    ({"quality": 1000}, {"quality": ["Must be at most 100."]}),
    ({"model": "m" * 300}, {"model": ["At most 200 characters."]}),
    (
        {"id": None, "agent": None, "status": "x", "input_tokens": -5, "bar": 2},
        {
            "bar": ["Unknown field."],
            "id": ["This field is required."],
            "agent": ["This field is required."],
            "status": ["Must be 'success' or 'error'."],
            "input_tokens": ["Must not be negative."],
        },
    ),
]

GOOD = [
    {},
    {"status": "error"},
    {"status": "error", "error_type": "Timeout", "error_message": "  took too long  "},
    {"model": "gpt-4o", "agent_version": "1.2.0", "operation": "chat", "input_tokens": 100, "output_tokens": 20},
    {"input_tokens": 100, "cached_input_tokens": 100, "output_tokens": 20, "reasoning_tokens": 5, "cost": 0.25},
    {"input_tokens": 7.0, "quality": 55, "variant_id": 3, "agent_ref": "team/agent"},
    {"agent": None, "agent_ref": 12},
    {"trace_id": "AB" * 16, "span_id": "cd" * 8, "id": None},
    {"trace_id": "ab" * 16, "span_id": "cd" * 8, "parent_span_id": "ef" * 8, "agent": None, "kind": "llm"},
    {"duration_ms": None, "ended_at": "2026-11-30T11:00:02.500Z", "name": "step", "session_id": "s", "user_id": "u"},
    {"tags": ["b", "a", "b"], "attributes": {"k": "v"}, "request_params": {"t": 1}, "input": [1], "output": "x"},
    {"agent": "agent é", "model": "модель", "time_to_first_token_ms": 3, "started_at": "2026-11-30T13:00:00+02:00"},
    {"model": "  " + "m" * 200 + "  ", "trace_id": " " + "Ab" * 16 + " ", "span_id": "0" * 16, "output_tokens": 10**9},
    {"cost": None, "quality": None, "tags": None, "kind": None, "status": None},
]


def full_pass(event, monkeypatch):
    monkeypatch.setattr(validate, "_event_fast", lambda *args: None)
    errors = v.Errors()
    row = validate.event_validate(event, oldest=OLDEST, newest=NEWEST, errors=errors)
    monkeypatch.undo()
    return row, errors


@pytest.mark.parametrize(("change", "expected"), BAD)
def test_every_per_event_message_is_unchanged(change, expected):
    event = {**BASE, **change}
    errors = v.Errors()
    assert validate.event_validate(event, oldest=OLDEST, newest=NEWEST, errors=errors) is None
    assert list(errors.as_dict().items()) == list(expected.items())
    assert validate._event_fast(event, OLDEST, NEWEST) is None  # left to the full pass


def test_an_event_that_is_not_an_object_is_named():
    errors = v.Errors()
    assert validate.event_validate(["x"], oldest=OLDEST, newest=NEWEST, errors=errors) is None
    assert errors.as_dict() == {"non_field_errors": ["Each event must be a JSON object."]}


@pytest.mark.parametrize("change", GOOD)
def test_the_fast_pass_gives_the_full_pass_row(change, monkeypatch):
    event = {**BASE, **change}
    expected, errors = full_pass(event, monkeypatch)
    assert not errors and expected is not None
    assert validate._event_fast(event, OLDEST, NEWEST) == expected


def test_the_garbage_collector_is_paused_for_a_batch_and_restored(monkeypatch):
    from observability import ingest

    seen = []
    monkeypatch.setattr(ingest, "_ingest", lambda **kwargs: seen.append(gc.isenabled()) or [])
    assert gc.isenabled()
    ingest.executions_ingest(team=None, events=[])
    assert seen == [False] and gc.isenabled()

    def fails(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(ingest, "_ingest", fails)
    with pytest.raises(RuntimeError):
        ingest.executions_ingest(team=None, events=[])
    assert gc.isenabled()


@pytest.mark.parametrize(
    "change",
    [
        {"model": "m" * 201},
        {"model": "  m\x00  "},
        {"trace_id": " " + "AB" * 16 + "0"},
        {"span_id": "cd" * 8 + "\x00"},
        {"span_id": "gg" * 8},
        {"input_tokens": 10**9 + 1},
        {"input_tokens": -1, "output_tokens": 3},
        {"model": 5},
        {"input_tokens": "5"},
    ],
)
def test_the_written_out_checks_refuse_what_the_check_functions_refuse(change):
    event = {**BASE, **change}
    assert validate._event_fast(event, OLDEST, NEWEST) is None
    assert validate.event_validate(event, oldest=OLDEST, newest=NEWEST, errors=v.Errors()) is None
