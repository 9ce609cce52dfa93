"""The executions COPY has one column list (``observability.ingest.insert.COPY_COLUMNS``), which
demo seeding and the benchmarks import; a row a script gives only the required values of is stored
as the model's defaults would store it."""

import datetime as dt

import pytest
from django.db import connection

from observability.ingest.insert import COPY_COLUMNS, COPY_EMPTY, execution_copy_row
from observability.models import Execution

pytestmark = pytest.mark.django_db

REQUIRED = ("team_id", "client_id", "agent_name", "started_at", "duration_ms", "status", "cost_source", "received_at")


def test_copy_columns_are_every_column_of_the_table_but_its_id():
    columns = {field.column for field in Execution._meta.concrete_fields} - {"id"}
    assert sorted(COPY_COLUMNS) == sorted(columns)
    assert set(COPY_EMPTY) == columns - set(REQUIRED)


def test_a_script_row_is_stored_with_the_model_s_defaults(team):
    now = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
    values = {"team_id": team.pk, "client_id": "s-1", "agent_name": "seeded", "started_at": now}
    values |= {"duration_ms": 12.5, "status": "success", "cost_source": "none", "received_at": now}
    with connection.cursor() as cursor, cursor.connection.cursor() as pg:
        with pg.copy(f"COPY observability_execution ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            copy.write_row(execution_copy_row(values))
    stored = Execution.objects.get(team=team, client_id="s-1")
    created = Execution.objects.create(
        team=team, client_id="s-2", agent_name="seeded", started_at=now, duration_ms=12.5, status="success"
    )
    created.refresh_from_db()  # the database's defaults, as the ORM stores a row
    for field in Execution._meta.concrete_fields:
        if field.name not in ("id", "client_id", "cost_source", "received_at"):
            assert getattr(stored, field.attname) == getattr(created, field.attname), field.name
    with pytest.raises(KeyError):
        execution_copy_row({"team_id": team.pk})
