"""The tagged executions of a team by time: what an alert rule scoped by a tag reads (rollups have
no tag dimension). A partial index (only tagged spans). Executions are partitioned by month
(0009), and PostgreSQL cannot build an index on a partitioned table concurrently; on a large
deployment, build it per partition with CREATE INDEX CONCURRENTLY first, then run this migration,
which then only attaches them (docs/observability.md, "Partitions and retention")."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("observability", "0010_day_blocks_and_minute_rollups"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                condition=models.Q(("tags", []), _negated=True),
                fields=["team", "started_at"],
                name="execution_team_tagged",
            ),
        ),
    ]
