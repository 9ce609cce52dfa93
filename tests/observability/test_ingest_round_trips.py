"""Round trips of a batch (issue 16): the statements an ingest sends to PostgreSQL do not grow
with the number of events, and stay within a small pinned number. Counted at psycopg's cursor
(Django's cursors are psycopg's): the ingest's array statements and COPYs bypass Django's query
log, which ``django_assert_max_num_queries`` reads."""

from __future__ import annotations

import random

import psycopg
import pytest

pytestmark = pytest.mark.django_db


def statements(monkeypatch, run) -> int:
    sent = []
    execute, copy = psycopg.Cursor.execute, psycopg.Cursor.copy

    def counted_execute(self, query, *args, **kwargs):
        sent.append(query)
        return execute(self, query, *args, **kwargs)

    def counted_copy(self, statement, *args, **kwargs):
        sent.append(statement)
        return copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counted_execute)
    monkeypatch.setattr(psycopg.Cursor, "copy", counted_copy)
    run()
    monkeypatch.undo()
    return len(sent)


def batch(event_factory, n: int, tag: str) -> list[dict]:
    rng = random.Random(n)
    return [
        event_factory(
            id=f"{tag}-{i}",
            agent=f"agent-{i % 40}",
            status="error" if i % 7 == 0 else "success",
            duration_ms=rng.lognormvariate(7, 1),
            trace_id=f"{rng.getrandbits(128):032x}",
            span_id=f"{rng.getrandbits(64):016x}",
        )
        for i in range(n)
    ]


def test_a_batch_costs_the_same_few_statements_whatever_its_size(team, ingest, event_factory, monkeypatch):
    ingest(team, batch(event_factory, 5, "warm"))  # prices and rules loaded, rollup rows exist
    small = statements(monkeypatch, lambda: ingest(team, batch(event_factory, 10, "small")))
    large = statements(monkeypatch, lambda: ingest(team, batch(event_factory, 1000, "large")))
    assert large == small
    assert large <= 14  # savepoints included (the test runs in a transaction)
