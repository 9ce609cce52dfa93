"""Rollups gain the quality of the executions that report one (sum and count), for alert rules on
average quality; minute rollups become per (minute, agent, model, version, status), for the edges
of alert windows.

Existing rows: the minutes still kept are rebuilt from the raw executions (at most
``CRUCIBLE_OBS_MINUTE_RETENTION_HOURS``), and the quality of the hourly and daily rows of the last
two UTC days (the longest alert window is one) is filled from them. Older rows keep a quality count
of 0 until ``manage.py observability_rollups --days N`` rebuilds them.
"""

import datetime as dt

from django.db import migrations, models
from django.utils import timezone

BACKFILL_SQL = """
UPDATE {table} r SET quality_sum = q.total, quality_count = q.n
FROM (
    SELECT team_id, date_trunc('{unit}', started_at, 'UTC') AS bucket, agent_name, model, version, status,
           sum(quality) AS total, count(*) AS n
    FROM observability_execution
    WHERE started_at >= %(start)s AND quality IS NOT NULL AND counts_execution
    GROUP BY 1, 2, 3, 4, 5, 6
) q
WHERE r.team_id = q.team_id AND r.bucket = q.bucket AND r.agent_name = q.agent_name AND r.model = q.model
  AND r.version = q.version AND r.status = q.status
"""


def backfill(apps, schema_editor):
    from observability.minutes import minute_rollups_rebuild

    now = timezone.now()
    minute_rollups_rebuild(start=now - dt.timedelta(days=30), end=now + dt.timedelta(days=1))
    start = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=2)
    with schema_editor.connection.cursor() as cursor:
        for table, unit in (("observability_hourlyrollup", "hour"), ("observability_dailyrollup", "day")):
            cursor.execute(BACKFILL_SQL.format(table=table, unit=unit), {"start": start})


def _quality_fields(model_name):
    return [
        migrations.AddField(
            model_name=model_name,
            name="quality_sum",
            field=models.FloatField(db_default=0, default=0, help_text="Sum of the qualities reported."),
        ),
        migrations.AddField(
            model_name=model_name,
            name="quality_count",
            field=models.BigIntegerField(db_default=0, default=0, help_text="Executions that report a quality."),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("observability", "0011_execution_team_tagged"),
    ]

    operations = [
        *_quality_fields("hourlyrollup"),
        *_quality_fields("dailyrollup"),
        *_quality_fields("minuterollup"),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
