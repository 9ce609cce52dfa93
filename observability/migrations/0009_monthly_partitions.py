"""Executions, span payloads and the hourly, daily and error rollups become tables partitioned by
month (PARTITION BY RANGE on started_at / bucket), with the data kept; every key includes team_id
(Citus-ready, see docs/architecture.md "Partitions and Citus-ready keys").

Per table, in this migration's one transaction: the table is renamed, a partitioned table like it
is created, its monthly partitions (and a default partition for outliers) are created, the rows
are copied, the old table is dropped, then keys and indexes are built once over the loaded data.

Keys: a unique constraint on a partitioned table must include the partition key, so the database
primary keys are composite, ``(id, team_id, started_at)`` (the ORM still reads ``id`` as the pk:
``id`` leads so lookups by id alone, the admin's and deletion cascades', use it), and the idempotency
key of spans is ``(team_id, client_id, started_at)`` (a retry carries the same start; ingest reads
the stored ids before inserting, see observability/ingest/insert.py). SpanPayload is keyed
``(execution_id, team_id, started_at)``, the key of its span (no foreign-key constraint: see below).

Index cost: the foreign-key columns of executions (agent, agent version, variant, build, API key)
are mostly null: their full btrees become partial ones (``WHERE col IS NOT NULL``), which a COPY of
rows without them never touches and which still serve ON DELETE SET NULL. The single-column team_id
indexes Django adds to foreign keys are dropped: an index leading with team_id covers each. The
executions table keeps no foreign-key constraint (each cost a lookup and a lock on the team row per
inserted span); Django still applies on_delete (CASCADE, SET NULL) to them.

``observability_month_partition(parent, month)`` creates one month's partition (moving the rows the
default partition caught for that month); the worker calls it ahead of time
(``observability.partitions``).
"""

from django.db import migrations, models
from django.db.models import Q

PARTITION_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION observability_month_partition(parent regclass, month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    base text := (SELECT relname FROM pg_class WHERE oid = parent);
    -- Bounds are UTC month starts, whatever the session's time zone.
    first_day timestamptz := date_trunc('month', month)::timestamp AT TIME ZONE 'UTC';
    next_first timestamptz := (date_trunc('month', month) + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    part text := base || '_p' || to_char(date_trunc('month', month), 'YYYY_MM');
    fallback text := base || '_default';
    key text;
    options text;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    SELECT a.attname INTO key FROM pg_partitioned_table p
    JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
    WHERE p.partrelid = parent;
    -- New partitions take their storage options (rollups: fillfactor) from the default partition.
    SELECT array_to_string(reloptions, ', ') INTO options FROM pg_class WHERE oid = to_regclass(fallback);
    -- Rows of that month the default partition caught move into the new partition (same transaction).
    IF to_regclass(fallback) IS NOT NULL THEN
        EXECUTE format(
            'CREATE TEMP TABLE observability_partition_moved ON COMMIT DROP AS '
            'WITH moved AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *) SELECT * FROM moved',
            fallback, key, first_day, key, next_first);
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L) %s',
                   part, base, first_day, next_first,
                   CASE WHEN options IS NULL OR options = '' THEN '' ELSE 'WITH (' || options || ')' END);
    IF to_regclass(fallback) IS NOT NULL THEN
        EXECUTE format('INSERT INTO %I SELECT * FROM observability_partition_moved', part);
        DROP TABLE observability_partition_moved;
    END IF;
    RETURN true;
END $$;
"""

# Months created by the migration: those of the stored rows (at most 24 months back, older rows go
# to the default partition) through three months ahead; the worker keeps creating them after.
MONTHS_SQL = """
DO $$
DECLARE
    oldest timestamptz;
    month date;
BEGIN
    EXECUTE format('SELECT min(%I) FROM %I', '{key}', '{old}') INTO oldest;
    oldest := greatest(least(coalesce(oldest, now()), now() - interval '4 months'), now() - interval '24 months');
    month := date_trunc('month', oldest)::date;
    WHILE month <= (now() + interval '3 months')::date LOOP
        PERFORM observability_month_partition('{table}'::regclass, month);
        month := (month + interval '1 month')::date;
    END LOOP;
END $$;
"""

# The identity sequence of the new table continues where the old one stopped.
SEQUENCE_SQL = """
DO $$
DECLARE
    old_seq text := pg_get_serial_sequence('{old}', 'id');
    new_seq text := pg_get_serial_sequence('{table}', 'id');
    last bigint;
    called boolean;
BEGIN
    EXECUTE format('SELECT last_value, is_called FROM %s', old_seq) INTO last, called;
    PERFORM setval(new_seq, last, called);
END $$;
"""


def _convert(table: str, key: str, *, identity: bool, storage: str = "") -> list[str]:
    old = f"{table}_unpartitioned"
    like = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMPRESSION INCLUDING STORAGE"
    if identity:
        like += " INCLUDING IDENTITY"
    statements = [
        f"ALTER TABLE {table} RENAME TO {old}",
        f"CREATE TABLE {table} (LIKE {old} {like}) PARTITION BY RANGE ({key})",
        f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT {storage}",
        MONTHS_SQL.format(table=table, key=key, old=old),
        f"INSERT INTO {table} {'OVERRIDING SYSTEM VALUE ' if identity else ''}SELECT * FROM {old}",
    ]
    if identity:
        statements.append(SEQUENCE_SQL.format(table=table, old=old))
    return statements


def _team_fk(table: str) -> str:
    return (
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_team_fk FOREIGN KEY (team_id) "
        "REFERENCES crucible_team (id) DEFERRABLE INITIALLY DEFERRED"
    )


SEARCH_DOCUMENT = (
    "(jsonb_to_tsvector('simple'::regconfig, COALESCE(input, 'null'::jsonb), '[\"string\"]'::jsonb)"
    " || jsonb_to_tsvector('simple'::regconfig, COALESCE(output, 'null'::jsonb), '[\"string\"]'::jsonb))"
)
# Executions keep no foreign-key constraint: each costs a lookup (and a row lock on the team) per
# inserted span. The ORM still emulates on_delete (CASCADE, SET NULL) for these columns.
EXECUTION_FKS = ("agent_id", "agent_version_id", "variant_id", "build_id", "api_key_id")

EXECUTION_SQL = [
    *_convert("observability_execution", "started_at", identity=True),
    *_convert("observability_spanpayload", "started_at", identity=False),
    "DROP TABLE observability_spanpayload_unpartitioned",
    "DROP TABLE observability_execution_unpartitioned",
    # The identity sequence gets its usual name back (the old one is gone with its table).
    "DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s RENAME TO observability_execution_id_seq', "
    "pg_get_serial_sequence('observability_execution', 'id')); END $$",
    "ALTER TABLE observability_execution ADD CONSTRAINT observability_execution_pkey "
    "PRIMARY KEY (id, team_id, started_at)",
    "ALTER TABLE observability_execution ADD CONSTRAINT execution_unique_team_client_started "
    "UNIQUE (team_id, client_id, started_at)",
    "CREATE INDEX execution_team_started ON observability_execution (team_id, started_at)",
    "CREATE INDEX execution_team_agent_started ON observability_execution (team_id, agent_name, started_at)",
    "CREATE INDEX execution_started_brin ON observability_execution USING brin (started_at)",
    "CREATE INDEX execution_team_trace ON observability_execution (team_id, trace_id) WHERE NOT trace_id = ''",
    *[
        f"CREATE INDEX execution_{column.removesuffix('_id')} ON observability_execution ({column}) "
        f"WHERE {column} IS NOT NULL"
        for column in EXECUTION_FKS
    ],
    "ALTER TABLE observability_spanpayload ADD CONSTRAINT observability_spanpayload_pkey "
    "PRIMARY KEY (execution_id, team_id, started_at)",
    "CREATE INDEX spanpayload_team_started ON observability_spanpayload (team_id, started_at)",
    f"CREATE INDEX spanpayload_text_search ON observability_spanpayload USING gin ({SEARCH_DOCUMENT})",
    _team_fk("observability_spanpayload"),
    # No foreign key from a payload to its span: detaching a span partition would check every
    # payload against it (seconds per million spans), and a payload is written only by ingest, in
    # its span's transaction, with its span's key; the ORM deletes it with its span.
]

ROLLUP_KEYS = {
    "observability_hourlyrollup": ("hourlyrollup", "team_id, bucket, agent_name, model, version, status"),
    "observability_dailyrollup": ("dailyrollup", "team_id, bucket, agent_name, model, version, status"),
    "observability_errorrollup": ("errorrollup", "team_id, bucket, agent_name, error_type"),
}
ROLLUP_SQL = []
for _table, (_short, _unique) in ROLLUP_KEYS.items():
    ROLLUP_SQL += [
        *_convert(_table, "bucket", identity=True, storage="WITH (fillfactor = 50)"),
        f"DROP TABLE {_table}_unpartitioned",
        f"DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s RENAME TO {_table}_id_seq', "
        f"pg_get_serial_sequence('{_table}', 'id')); END $$",
        f"ALTER TABLE {_table} ADD CONSTRAINT {_table}_pkey PRIMARY KEY (id, team_id, bucket)",
        f"ALTER TABLE {_table} ADD CONSTRAINT {_short}_unique_key UNIQUE ({_unique})",
        f"CREATE INDEX {_short}_team_agent ON {_table} (team_id, agent_name, bucket)",
        _team_fk(_table),
    ]

# Traces stay one table (a trace's start moves as its spans arrive); the key gains team_id.
TRACE_SQL = [
    "ALTER TABLE observability_trace DROP CONSTRAINT observability_trace_pkey",
    "ALTER TABLE observability_trace ADD CONSTRAINT observability_trace_pkey PRIMARY KEY (id, team_id)",
    "DROP INDEX IF EXISTS observability_trace_team_id_a9d951b1",
]

TEAM_NO_INDEX = models.ForeignKey(
    on_delete=models.CASCADE, related_name="+", to="crucible.team", db_index=False
)


def _fk_field(to: str, related_name: str = "executions") -> models.ForeignKey:
    return models.ForeignKey(
        blank=True,
        null=True,
        on_delete=models.SET_NULL,
        related_name=related_name,
        to=to,
        db_index=False,
        db_constraint=False,
    )


STATE_OPERATIONS = [
    migrations.RemoveConstraint(model_name="execution", name="execution_unique_team_client_id"),
    migrations.AddConstraint(
        model_name="execution",
        constraint=models.UniqueConstraint(
            fields=("team", "client_id", "started_at"), name="execution_unique_team_client_started"
        ),
    ),
    migrations.AlterField(
        model_name="execution",
        name="team",
        field=models.ForeignKey(
            on_delete=models.CASCADE, related_name="executions", to="crucible.team", db_index=False, db_constraint=False
        ),
    ),
    migrations.AlterField(model_name="execution", name="agent", field=_fk_field("marketplace.agent")),
    migrations.AlterField(model_name="execution", name="agent_version", field=_fk_field("marketplace.agentversion")),
    migrations.AlterField(model_name="execution", name="variant", field=_fk_field("improvement.variant")),
    migrations.AlterField(model_name="execution", name="build", field=_fk_field("teammemory.build")),
    migrations.AlterField(model_name="execution", name="api_key", field=_fk_field("crucible.apikey", "+")),
    *[
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(fields=[name], name=f"execution_{name}", condition=Q(**{f"{name}__isnull": False})),
        )
        for name in ("agent", "agent_version", "variant", "build", "api_key")
    ],
    migrations.AlterField(model_name="spanpayload", name="team", field=TEAM_NO_INDEX),
    migrations.AlterField(
        model_name="spanpayload",
        name="execution",
        field=models.OneToOneField(
            on_delete=models.CASCADE,
            primary_key=True,
            related_name="payload",
            serialize=False,
            to="observability.execution",
            db_constraint=False,
        ),
    ),
    migrations.AlterField(model_name="trace", name="team", field=TEAM_NO_INDEX),
    migrations.AlterField(model_name="hourlyrollup", name="team", field=TEAM_NO_INDEX),
    migrations.AlterField(model_name="dailyrollup", name="team", field=TEAM_NO_INDEX),
    migrations.AlterField(model_name="errorrollup", name="team", field=TEAM_NO_INDEX),
]


class Migration(migrations.Migration):
    dependencies = [("observability", "0008_spanpayload_text_search")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(PARTITION_FUNCTION_SQL),
                migrations.RunSQL(EXECUTION_SQL),
                migrations.RunSQL(ROLLUP_SQL),
                migrations.RunSQL(TRACE_SQL),
            ],
            state_operations=STATE_OPERATIONS,
        )
    ]
