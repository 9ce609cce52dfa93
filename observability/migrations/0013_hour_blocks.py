"""Hour blocks (``HourBlockRollup``, ``observability.blocks.HOURS``): closed UTC hours compacted
like the days, kept exact by statement triggers on the hourly rollups (``invalidate_sql``)."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

from observability.blocks import HOURS, invalidate_sql

TRIGGERS, DROP_TRIGGERS = invalidate_sql(HOURS)
# The columns hour blocks share with day blocks (``BlockRollupBase``), as migration 0010 made them.
DAY_BLOCKS = importlib.import_module("observability.migrations.0010_day_blocks_and_minute_rollups")
SHARED = [
    (name, field.clone())
    for operation in DAY_BLOCKS.Migration.operations
    if getattr(operation, "name", None) == "DayBlockRollup"
    for name, field in operation.fields
    if name not in ("day", "days", "total", "team")
]


class Migration(migrations.Migration):
    dependencies = [
        ("crucible", "0003_notifications"),
        ("observability", "0012_rollup_quality"),
    ]

    operations = [
        migrations.CreateModel(
            name="HourBlockRollup",
            fields=[
                *SHARED,
                ("hour", models.DateTimeField(help_text="First hour of the block (UTC).")),
                (
                    "hours",
                    models.PositiveSmallIntegerField(
                        default=1, help_text="Length of the block in hours (1, 2, 4, 8 or 16)."
                    ),
                ),
                (
                    "total",
                    models.BooleanField(
                        default=False, help_text="The team's whole hour(s): agent, model and version empty."
                    ),
                ),
                ("version", models.CharField(blank=True, max_length=64)),
                ("first_seen", models.DateTimeField(help_text="First hour of the block with executions.")),
                ("last_seen", models.DateTimeField(help_text="Last hour of the block with executions.")),
                (
                    "team",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="crucible.team"
                    ),
                ),
            ],
            options={
                "ordering": ["-hour"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("team", "hour", "hours", "total", "agent_name", "model", "version"),
                        name="hourblockrollup_unique_key",
                    )
                ],
            },
        ),
        migrations.RunSQL(TRIGGERS, DROP_TRIGGERS),
        # Citus-ready keys (crucible.distribution), as the day blocks: the primary key includes team_id.
        migrations.RunSQL(
            "ALTER TABLE observability_hourblockrollup DROP CONSTRAINT observability_hourblockrollup_pkey, "
            "ADD CONSTRAINT observability_hourblockrollup_pkey PRIMARY KEY (id, team_id);",
            "ALTER TABLE observability_hourblockrollup DROP CONSTRAINT observability_hourblockrollup_pkey, "
            "ADD CONSTRAINT observability_hourblockrollup_pkey PRIMARY KEY (id);",
        ),
    ]
