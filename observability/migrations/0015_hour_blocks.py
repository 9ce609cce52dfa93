"""Hour blocks (``HourBlockRollup``, ``observability.blocks.HOURS``): closed UTC hours compacted
like the days, kept exact by the shared kit (``crucible.merge_guard``, guard
``observability.blocks.HOUR_BLOCKS``: statement triggers on the hourly rollups). Day and hour
blocks keep the version, and the first and last day or hour seen, so the comparisons of
versions read them too; the day blocks built before are deleted (the job builds them again)."""

import datetime
import importlib

import django.db.models.deletion
from django.db import migrations, models

from crucible import merge_guard
from observability.blocks import HOUR_BLOCKS

TRIGGERS, DROP_TRIGGERS = merge_guard.trigger_sql(HOUR_BLOCKS)
# The columns hour blocks share with day blocks (``BlockRollupBase``), as migration 0010 made them.
EARLIER = importlib.import_module("observability.migrations.0010_day_blocks_and_minute_rollups")
SHARED = [
    (name, field.clone())
    for operation in EARLIER.Migration.operations
    if getattr(operation, "name", None) == "DayBlockRollup"
    for name, field in operation.fields
    if name not in ("day", "days", "total")
]
TOTAL = models.BooleanField(default=False, help_text="The team's whole days or hours: agent, model and version empty.")

# The columns both kinds of blocks gain over migration 0010's (``BlockRollupBase``).
VERSIONED = [
    ("version", models.CharField(blank=True, max_length=64)),
    ("first_seen", models.DateTimeField(help_text="First day or hour of the block with executions.")),
    ("last_seen", models.DateTimeField(help_text="Last day or hour of the block with executions.")),
]
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)  # for no row: the day blocks are deleted first


class Migration(migrations.Migration):
    dependencies = [
        ("crucible", "0003_notifications"),
        ("observability", "0014_execution_trace_hash"),
    ]

    operations = [
        migrations.RunSQL("DELETE FROM observability_dayblockrollup", migrations.RunSQL.noop),
        migrations.RemoveConstraint(model_name="dayblockrollup", name="dayblockrollup_unique_key"),
        *(
            migrations.AddField(
                model_name="dayblockrollup",
                name=name,
                field=field.clone()
                if name == "version"
                else models.DateTimeField(default=EPOCH, help_text=field.help_text),
                preserve_default=name == "version",
            )
            for name, field in VERSIONED
        ),
        migrations.AlterField(model_name="dayblockrollup", name="total", field=TOTAL),
        migrations.AddConstraint(
            model_name="dayblockrollup",
            constraint=models.UniqueConstraint(
                fields=("team", "day", "days", "total", "agent_name", "model", "version"),
                name="dayblockrollup_unique_key",
            ),
        ),
        migrations.CreateModel(
            name="HourBlockRollup",
            fields=[
                *SHARED,
                *VERSIONED,
                ("hour", models.DateTimeField(help_text="First hour of the block (UTC).")),
                (
                    "hours",
                    models.PositiveSmallIntegerField(
                        default=1, help_text="Length of the block in hours (1, 2, 4, 8 or 16)."
                    ),
                ),
                ("total", TOTAL.clone()),
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
