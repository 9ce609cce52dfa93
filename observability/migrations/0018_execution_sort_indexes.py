"""The executions list sorted by duration or cost (issue 16): without an index on the sort key, a
sort over all time read every execution of the team and sorted them; on 10 million executions it
passed the statement timeout (the page and the API answered 503). With ``(team_id, duration_ms)``
and ``(team_id, cost NULLS FIRST, id)`` each monthly partition's index is read in order, the
partitions merged and the read stops at the page: about a millisecond on the same data. Both are
partial on ``duration_ms >= 0``, true of every row (the duration check): only a list that states it
reads them, which the executions list does when it is not narrowed by an agent, a model or another
column these indexes cannot check (``ExecutionFilterSet``). Both together cost a COPY about a
quarter more server CPU per row (``benchmarks/copy_floor.py --each --only "0018,all (a copy)"``;
docs/observability.md, "Sorting by duration or cost" and "Index cost").

Executions are partitioned by month (0009), and PostgreSQL cannot build an index on a partitioned
table concurrently: on a large deployment, build both indexes per partition with CREATE INDEX
CONCURRENTLY first (same definitions), then run this migration, which then only attaches them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("observability", "0017_window_blocks"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                condition=models.Q(("duration_ms__gte", 0)),
                fields=["team", "duration_ms"],
                name="execution_team_duration",
            ),
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                models.F("team"),
                models.OrderBy(models.F("cost"), nulls_first=True),
                models.F("id"),
                condition=models.Q(("duration_ms__gte", 0)),
                name="execution_team_cost",
            ),
        ),
    ]
