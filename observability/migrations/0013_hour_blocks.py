"""Hour blocks (``HourBlockRollup``, ``observability.blocks.HOURS``): closed UTC hours compacted
like the days, kept exact by statement triggers on the hourly rollups (``invalidate_sql``)."""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models

from observability.blocks import HOURS, invalidate_sql

TRIGGERS, DROP_TRIGGERS = invalidate_sql(HOURS)


class Migration(migrations.Migration):
    dependencies = [
        ("crucible", "0003_notifications"),
        ("observability", "0012_rollup_quality"),
    ]

    operations = [
        migrations.CreateModel(
            name="HourBlockRollup",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("agent_name", models.CharField(blank=True, max_length=200)),
                ("model", models.CharField(blank=True, max_length=200)),
                ("executions", models.BigIntegerField(default=0)),
                ("successes", models.BigIntegerField(default=0)),
                ("duration_sum_ms", models.FloatField(default=0)),
                ("duration_max_ms", models.FloatField(default=0)),
                ("input_tokens", models.BigIntegerField(default=0)),
                ("output_tokens", models.BigIntegerField(default=0)),
                ("cached_input_tokens", models.BigIntegerField(default=0)),
                ("reasoning_tokens", models.BigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=8, default=0, max_digits=38)),
                ("unpriced", models.BigIntegerField(default=0)),
                ("hist", django.contrib.postgres.fields.ArrayField(base_field=models.BigIntegerField(), size=134)),
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
