"""Full-text search over span inputs and outputs: a GIN index on the string values of both
(the expression is ``observability.selectors.traces.SEARCH_DOCUMENT``; keep them equal)."""

from django.db import migrations

DOCUMENT = (
    "(jsonb_to_tsvector('simple'::regconfig, COALESCE(input, 'null'::jsonb), '[\"string\"]'::jsonb)"
    " || jsonb_to_tsvector('simple'::regconfig, COALESCE(output, 'null'::jsonb), '[\"string\"]'::jsonb))"
)


class Migration(migrations.Migration):
    dependencies = [("observability", "0007_span_ingest")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS spanpayload_text_search ON observability_spanpayload USING gin ({DOCUMENT})",
            "DROP INDEX IF EXISTS spanpayload_text_search",
        )
    ]
