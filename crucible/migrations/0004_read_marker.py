from django.db import migrations

# Read-your-writes markers of API keys (crucible.db_router): the primary's WAL position after a
# key's last write. UNLOGGED: no WAL and no fsync for a marker written after every write request;
# it is read on the primary only, and losing it in a crash only sends reads to the replica early.
CREATE = """
CREATE UNLOGGED TABLE crucible_readmarker (
    client varchar(64) PRIMARY KEY,
    lsn bigint NOT NULL,
    written_at timestamptz NOT NULL
)
"""


class Migration(migrations.Migration):
    dependencies = [("crucible", "0003_notifications")]

    operations = [migrations.RunSQL(CREATE, "DROP TABLE crucible_readmarker")]
