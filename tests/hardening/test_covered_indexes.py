"""No table of ours carries an index that another index of the same table already covers: a plain
btree index whose columns are the leading columns of another plain btree index serves no lookup
the other does not, and every insert pays one more btree insert for it (issue 16; Django gives
each foreign key an index of its own unless ``db_index=False``, which a model sets when a
constraint or index leads with that key). Django's own tables (auth, sessions...) are left as
Django makes them."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

_COVERED = """
WITH idx AS (
    SELECT i.indrelid::regclass::text AS tbl, c.relname AS name, string_to_array(i.indkey::text, ' ')::int[] AS cols,
           i.indisunique AS uniq, am.amname AS method, i.indpred IS NULL AND i.indexprs IS NULL AS plain
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_am am ON am.oid = c.relam
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND NOT c.relispartition
)
SELECT a.tbl, a.name, b.name FROM idx a JOIN idx b ON a.tbl = b.tbl AND a.name <> b.name
WHERE a.method = 'btree' AND b.method = 'btree' AND a.plain AND b.plain AND NOT a.uniq
  AND cardinality(a.cols) < cardinality(b.cols) AND b.cols[1:cardinality(a.cols)] = a.cols
  AND a.tbl !~ '^(auth|django)_'
ORDER BY 1, 2, 3
"""


def test_no_index_is_covered_by_another_of_its_table():
    with connection.cursor() as cursor:
        cursor.execute(_COVERED)
        covered = cursor.fetchall()
    assert covered == [], f"set db_index=False on the key these indexes were made for: {covered}"
