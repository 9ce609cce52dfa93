"""The executions list narrowed by an error type (issue 16): with no index on the type, the list
walked the team's newest-first index and checked each run, past every run of other types: on 10
million executions a type held by 5,654 runs answered 503 after the 5 s statement timeout on a cold
cache, and a type no run has read all of them (2 s). ``(team_id, error_type, started_at)`` partial
on ``error_type <> ''`` holds the runs with a type: every failed run (ingest names it "error" when
the client does not), and a successful one only if its client gave a type. A run without one costs
ingest nothing more.

Executions are partitioned by month (0009), and PostgreSQL cannot build an index on a partitioned
table concurrently: on a large deployment, build it per partition with CREATE INDEX CONCURRENTLY
first (same definition), then run this migration, which then only attaches them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("observability", "0019_trace_sort_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                condition=models.Q(("error_type", ""), _negated=True),
                fields=["team", "error_type", "started_at"],
                name="execution_team_error_type",
            ),
        ),
    ]
