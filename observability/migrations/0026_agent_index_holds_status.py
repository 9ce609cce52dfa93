"""One agent's failed (or succeeded) runs sorted by duration or cost (issue 16): the per-agent index
also holds the status (``INCLUDE``), so that page reads its ids from the index alone, as the
agent's slowest and costliest do since 0021. Before, it fetched every run of the agent from the
table to check its status and sort: 0.4-0.5 s for an agent with 49,700 runs at 10 million
executions, and a 503 past the statement timeout on a cold cache.

Executions are partitioned by month (0009), and PostgreSQL cannot build an index on a partitioned
table concurrently: on a large deployment, build the new definition per partition with CREATE
INDEX CONCURRENTLY under another name first, drop the old index and rename, then fake this
migration."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("observability", "0025_trace_sort_indexes_partial"),
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
                include=("duration_ms", "cost", "id", "agent", "status"),
                name="execution_team_agent_started",
            ),
        ),
    ]
