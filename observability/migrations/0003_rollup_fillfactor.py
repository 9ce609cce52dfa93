"""Rollup rows are updated in place on every ingest batch: leave room on each page so PostgreSQL
can write the new row version next to the old one (HOT update, no index writes)."""

from django.db import migrations

TABLES = ["observability_hourlyrollup", "observability_dailyrollup", "observability_errorrollup"]


class Migration(migrations.Migration):
    dependencies = [("observability", "0002_sql_functions_and_prices")]

    operations = [
        migrations.RunSQL(
            [f"ALTER TABLE {table} SET (fillfactor = 50)" for table in TABLES],
            [f"ALTER TABLE {table} RESET (fillfactor)" for table in TABLES],
        )
    ]
