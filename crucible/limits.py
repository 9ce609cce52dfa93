"""Limits shared by every app: the one place that says how large a value may be.

Per-item limits are chosen to be generous for real use and small enough that the database sums
built from them cannot overflow (see ``SUM_*`` below): an attacker who sends the largest values
as often as the throttles allow still cannot fill a counter. Apps import these names; they do
not keep a copy. Text lengths match the database columns they end in.
"""

from __future__ import annotations

from decimal import Decimal

# The largest PostgreSQL bigint: every id column, and the largest OFFSET a page can ask for.
BIGINT_MAX = 2**63 - 1

# --- One execution, one experiment result, one build report -------------------------------------

# USD. The most expensive single model call today costs a few dollars; a whole build a few
# hundred. Ten thousand dollars per item refuses typos and abuse without refusing real data.
MAX_COST = Decimal("10000")
# Tokens of one item (input + output of an execution or result, or a whole build). The largest
# context windows are a few million tokens; a billion is far past any real call or build.
MAX_TOKENS = 10**9
# Wall-clock duration of one item.
MAX_DURATION_MS = 7 * 24 * 3600 * 1000  # a week
# Quality scores are 0..100 everywhere.
MIN_QUALITY = 0
MAX_QUALITY = 100

# Sums of the above are stored in columns of these sizes: bigint for tokens (9.2e18 = 9.2 billion
# items at MAX_TOKENS) and numeric with 32 integer digits for money. No sum can overflow before
# its bigint item counter does.
SUM_MONEY_DIGITS = 38

# --- Money -----------------------------------------------------------------------------------

# Decimal places kept for a cost as sent by a client (executions keep 8, sums of results 6).
COST_PLACES = 8

# --- Time ------------------------------------------------------------------------------------

# Timestamps outside these years are refused (as 400) before any arithmetic on them can overflow.
MIN_YEAR = 1970
MAX_YEAR = 9999

# --- Text (characters) -------------------------------------------------------------------------

NAME_CHARS = 100  # names of agents, experiments, variants
SHORT_TEXT_CHARS = 300  # summaries, reasons, notes
LABEL_CHARS = 200  # agent names in events, models, error types, client ids, project names
ERROR_MESSAGE_CHARS = 10_000  # an error message of an execution or a build
PROMPT_CHARS = 100_000  # prompts and system prompts
LONG_TEXT_CHARS = 50_000  # descriptions (Markdown)
REVIEW_CHARS = 5_000  # reviews and report texts
CHANGELOG_CHARS = 20_000
VERSION_CHARS = 64  # a version label such as 1.2.0-rc.1
