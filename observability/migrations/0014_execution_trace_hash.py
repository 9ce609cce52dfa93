"""Spans by trace id: the partial btree ``(team_id, trace_id)`` becomes a partial hash index on
``trace_id`` (issue 16: the index cost of a COPY into the executions table; measured in
``benchmarks/copy_floor.py --each``, see docs/observability.md "Index cost"). Every reader asks for
whole trace ids by equality (span ingest's stored-span read, the trace tree), which a hash index
serves; a random 32-character key lands anywhere in a btree and splits
its pages all over, and the hash index costs a COPY about half as much (2.2-2.4 us of server CPU
per row less).

Executions are partitioned by month (0009), and PostgreSQL cannot build an index on a partitioned
table concurrently: on a large deployment, build the hash index per partition with CREATE INDEX
CONCURRENTLY first (same definition), then run this migration, which then only attaches them; the
old btree is dropped at the end of the same transaction."""

from django.contrib.postgres.indexes import HashIndex
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("observability", "0013_day_block_guard"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="execution",
            index=HashIndex(
                condition=models.Q(("trace_id", ""), _negated=True), fields=["trace_id"], name="execution_trace_hash"
            ),
        ),
        migrations.RemoveIndex(model_name="execution", name="execution_team_trace"),
    ]
