"""Typo-tolerant search: the vocabulary of agent-name words and the query widened against it.

Words are added when names are written (``name_words_add``), never removed; a query word is widened
to the name words most like it by ``pg_trgm`` word similarity over this vocabulary, not over every
agent (``corrected_query``).
"""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchQuery
from django.db import connection

from marketplace.models import SEARCH_CONFIG

SIMILAR_WORDS = 3  # name words tried for each query word
_WORD_SPLIT = re.compile(r"[\W_]+")
_WEBSEARCH_OPERATORS = re.compile(r'"|(^|\s)-\w|\sor\s', re.IGNORECASE)
SIMILAR_NAME_WORDS_SQL = """
SELECT asked.word AS asked, nearby.word AS nearby
FROM unnest(%(words)s::text[]) AS asked(word)
CROSS JOIN LATERAL (
    SELECT name_word.word FROM marketplace_nameword AS name_word
    WHERE name_word.word %%> asked.word
    ORDER BY name_word.word <->> asked.word, name_word.word
    LIMIT %(per_word)s
) AS nearby
"""
NAME_WORDS_FILL_SQL = """
INSERT INTO marketplace_nameword (word)
SELECT DISTINCT word FROM marketplace_agent, regexp_split_to_table(lower(name), '[^[:alnum:]]+') AS word
WHERE word ~ '[[:alpha:]]' AND length(word) BETWEEN 2 AND 100
ON CONFLICT DO NOTHING
"""


def name_words(text: str) -> list[str]:
    """The words of a name or query as the vocabulary keeps them: lower case, with a letter."""
    words = _WORD_SPLIT.split((text or "").lower())
    return [w for w in dict.fromkeys(words) if 2 <= len(w) <= 100 and any(c.isalpha() for c in w)]


def name_words_add(*, names) -> None:
    """Add the words of these agent names to the vocabulary (one statement; existing words kept)."""
    words = sorted({word for name in names for word in name_words(name)})
    if words:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO marketplace_nameword (word) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", [words]
            )


def name_words_fill() -> None:
    """Every word of every agent name (after a bulk load; the migration runs it once)."""
    with connection.cursor() as cursor:
        cursor.execute(NAME_WORDS_FILL_SQL)


def corrected_query(q: str) -> SearchQuery | None:
    """The query with each word widened to the name words most like it (``pg_trgm`` word
    similarity over the vocabulary, not over every agent): "sumarizer" becomes "sumarizer or
    summarizer", "kube" "kube or kubernetes". None when no word has a similar name word, and for
    queries with websearch operators (a quoted phrase, ``-word``, ``or``)."""
    if _WEBSEARCH_OPERATORS.search(q):
        return None  # a phrase, an exclusion or an "or" asks for exactly that: no guessing
    words = name_words(q)[:10]
    if not words:
        return None
    with connection.cursor() as cursor:
        cursor.execute(SIMILAR_NAME_WORDS_SQL, {"words": words, "per_word": SIMILAR_WORDS})
        rows = cursor.fetchall()
    if not rows:
        return None
    similar: dict[str, list[str]] = {word: [word] for word in words}
    for asked, word in rows:
        if word not in similar[asked]:
            similar[asked].append(word)
    combined = None
    for alternatives in similar.values():
        either = None
        for word in alternatives:
            one = SearchQuery(word, search_type="plain", config=SEARCH_CONFIG)
            either = one if either is None else either | one
        combined = either if combined is None else combined & either
    return combined
