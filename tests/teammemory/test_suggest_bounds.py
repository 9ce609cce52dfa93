"""A stack suggestion's cost is bounded by its text (issue 15, item 5): a 20,000-character
requirements text of random words reaches the database as its first distinct words only."""

from __future__ import annotations

import random
import string
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crucible.models import Role
from teammemory import selectors

SUGGEST = "/api/v1/teammemory/suggestions/"


def random_words(n_chars: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    words = []
    while sum(len(w) + 1 for w in words) < n_chars:
        words.append("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10))))
    return " ".join(words)[:n_chars]


@pytest.mark.django_db
def test_a_20000_character_suggestion_reads_a_bounded_query(key_client, team, make_build):
    for i in range(30):
        make_build(requirements=random_words(400, seed=i), project_name=f"p{i}")
    text = random_words(20_000)
    client = key_client(team, role=Role.VIEWER)
    with CaptureQueriesContext(connection) as queries:
        start = time.monotonic()
        response = client.post(SUGGEST, {"requirements": text}, format="json")
        elapsed = time.monotonic() - start
    assert response.status_code == 200, response.content[:300]
    sql = [q["sql"] for q in queries.captured_queries]
    # The text's first 64 distinct words reach the database, not 20,000 characters of them
    # (the text itself, and the phrases of three words read from it, were 100,000 characters).
    words = list(dict.fromkeys(text.split()))
    assert words[0] in sql[-1] or any(words[0] in q for q in sql)
    assert not any(words[-1] in q for q in sql)
    assert max(len(q) for q in sql) < 15_000, max(len(q) for q in sql)
    assert elapsed < 5


def test_requirements_bounded_keeps_the_first_distinct_words_in_order():
    bounded = selectors.requirements_bounded
    assert bounded("Django, REST API; with Postgres!") == "Django REST API with Postgres"
    assert bounded("a b a c d", max_terms=3) == "a b a c"
    assert bounded("x " * 1000, max_terms=64) == " ".join(["x"] * 128)  # repeats are bounded too
    assert bounded("a-b-c-d-e-f-g-h", max_terms=2) == ""  # one word of 8 parts costs 8
    assert len(bounded("y" * 5000)) == 128 * 33 - 1  # a 5000-character "word" is cut into 32s
