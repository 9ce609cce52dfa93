"""One agent's runs sorted by duration or cost (issue 16): the per-agent index ``(team_id,
agent_name, started_at)`` also holds ``duration_ms``, ``cost`` and the id (``INCLUDE``), so the
page of an agent's slowest or costliest runs reads its 50 ids from the index alone and then those
50 rows (``crucible.querysets.DeferredRowsQuerySet``); and ``agent_id`` (null for most spans), so
the agent page finds the marketplace agent of its recent runs in the index too. Before, it fetched every run of the agent
from the table to sort them: 49,000 rows scattered over a month's partition, 0.4-1.5 s at 10
million executions.

Executions are partitioned by month (0009), and PostgreSQL cannot build an index on a partitioned
table concurrently: on a large deployment, build the new definition per partition with CREATE
INDEX CONCURRENTLY under another name first, drop the old index and rename, then fake this
migration."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("observability", "0020_execution_error_type_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="execution",
            name="execution_team_agent_started",
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                fields=["team", "agent_name", "started_at"],
                include=("duration_ms", "cost", "id", "agent"),
                name="execution_team_agent_started",
            ),
        ),
    ]
