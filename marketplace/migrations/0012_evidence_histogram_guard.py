"""Merged evidence histograms are kept exact by the shared kit (``crucible.merge_guard``, guard
``marketplace.services.evidence_histograms.HISTOGRAMS``), as the dashboards' day blocks are: a
statement trigger on the daily rows deletes the merged rows holding a changed closed day. The
snapshot bookkeeping goes (``hist_xid``, ``snapshot``), and so do the rows merged under it (one
may be stale now); the worker merges them again within ten minutes, and reads merge the daily
rows until then."""

from django.db import migrations

from crucible import merge_guard
from marketplace.services.evidence_histograms import HISTOGRAMS

FORWARD, REVERSE = merge_guard.trigger_sql(HISTOGRAMS)
EMPTY = "DELETE FROM marketplace_versionevidencehistogram;"


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0011_evidence_histograms")]

    operations = [
        migrations.RunSQL(FORWARD, REVERSE),
        migrations.RemoveField(model_name="versionevidencedaily", name="hist_xid"),
        migrations.RemoveField(model_name="versionevidencehistogram", name="snapshot"),
        migrations.RunSQL(EMPTY, EMPTY),
    ]
