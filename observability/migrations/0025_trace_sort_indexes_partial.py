"""The traces list narrowed by an agent, a session or an end user and sorted by duration, cost,
span count or error count (issue 16): the planner walked the team-wide sort index (0019) and
checked each trace, past every other one: 0.29-0.59 s at 229,000 traces on ``bench_h4`` for an
agent with no trace, on every request. The four sort indexes become partial on ``id > 0``, true of
every trace, and only a list not narrowed by those columns states it
(``observability.models.TRACE_SORT_INDEXED_SQL``): a narrowed list reads its own index and sorts
what it gives. Each index is dropped and built again concurrently, one after the other (the
traces table is upserted by every span ingest); while one is rebuilt, its sort reads the team's
traces."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

SORTS = (("duration_ms", "duration"), ("cost", "cost"), ("span_count", "spans"), ("error_count", "errors"))


def _rebuilt(field: str, name: str) -> list:
    return [
        RemoveIndexConcurrently(model_name="trace", name=f"trace_team_{name}"),
        AddIndexConcurrently(
            model_name="trace",
            index=models.Index(
                condition=models.Q(("id__gt", 0)), fields=["team", field, "id"], name=f"trace_team_{name}"
            ),
        ),
    ]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("crucible", "0005_drop_covered_key_indexes"),
        ("observability", "0024_trace_tag_index"),
    ]

    operations = [operation for field, name in SORTS for operation in _rebuilt(field, name)]
