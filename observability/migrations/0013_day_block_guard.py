"""The day blocks' trigger is made by the shared kit (``crucible.merge_guard``, guard
``observability.blocks.DAY_BLOCKS``): same lock key, same deletions, set-based instead of a loop
per (team, day), and nothing but one advisory-lock probe when a statement changes no closed day."""

import importlib

from django.db import migrations

from crucible import merge_guard
from observability.blocks import DAY_BLOCKS

FORWARD, REVERSE = merge_guard.trigger_sql(DAY_BLOCKS)
EARLIER = importlib.import_module("observability.migrations.0010_day_blocks_and_minute_rollups")
OLD_TRIGGERS = "".join(
    f"DROP TRIGGER IF EXISTS dailyrollup_dayblock_{e} ON observability_dailyrollup;\n"
    for e in ("insert", "update", "delete")
)


class Migration(migrations.Migration):
    dependencies = [("observability", "0012_rollup_quality")]

    operations = [
        migrations.RunSQL(
            OLD_TRIGGERS + FORWARD,
            REVERSE + EARLIER.INVALIDATE_FUNCTION + EARLIER.TRIGGERS,
        )
    ]
