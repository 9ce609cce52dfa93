"""The tables every ``select`` writes carry no index that another index already covers: each index
is one more btree insert per select (issue 16, select path)."""

import pytest
from django.db import connection

from improvement.models import Assignment, UnitAssignment, VariantBucket

pytestmark = pytest.mark.django_db

# Plain btree indexes whose columns are the leading columns of another plain btree index of the
# same table: any lookup the first serves, the second serves too.
_COVERED = """
WITH idx AS (
    SELECT i.indrelid::regclass::text AS tbl, c.relname AS name, string_to_array(i.indkey::text, ' ')::int[] AS cols,
           i.indisunique AS uniq, am.amname AS method, i.indpred IS NULL AND i.indexprs IS NULL AS plain
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
    WHERE i.indrelid::regclass::text = ANY(%s)
)
SELECT a.tbl, a.name, b.name FROM idx a JOIN idx b ON a.tbl = b.tbl AND a.name <> b.name
WHERE a.method = 'btree' AND b.method = 'btree' AND a.plain AND b.plain AND NOT a.uniq
  AND cardinality(a.cols) < cardinality(b.cols) AND b.cols[1:cardinality(a.cols)] = a.cols
ORDER BY 1, 2
"""


def test_no_index_of_the_select_tables_is_covered_by_another():
    tables = [m._meta.db_table for m in (Assignment, UnitAssignment, VariantBucket)]
    with connection.cursor() as cursor:
        cursor.execute(_COVERED, [tables])
        covered = cursor.fetchall()
    assert covered == []
