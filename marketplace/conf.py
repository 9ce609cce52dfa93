"""Marketplace settings, read from the environment (documented in docs/marketplace.md)."""

from crucible import limits
from crucible.env import env_float, env_int

# Bayesian (weighted) rating: an agent's score is (PRIOR_COUNT * PRIOR_MEAN + sum of stars) /
# (PRIOR_COUNT + number of ratings), so a handful of ratings cannot outrank many good ones.
RATING_PRIOR_COUNT = env_int("CRUCIBLE_MARKETPLACE_RATING_PRIOR_COUNT", 10)
RATING_PRIOR_MEAN = env_float("CRUCIBLE_MARKETPLACE_RATING_PRIOR_MEAN", 3.5)

# Trending: installs of each past day weigh 0.5 ** (age in days / half-life).
TRENDING_HALF_LIFE_DAYS = env_float("CRUCIBLE_MARKETPLACE_TRENDING_HALF_LIFE_DAYS", 3.0)

# Search: longest query text taken into account (longer input is cut).
SEARCH_MAX_QUERY_LENGTH = env_int("CRUCIBLE_MARKETPLACE_SEARCH_MAX_QUERY_LENGTH", 200)
# Search: how many of the best matches a text search gathers and ranks (per kind of match), so its
# cost does not grow with the number of matches. Lists of agents count up to LIST_COUNT_CAP ("10,000+").
SEARCH_MAX_RESULTS = max(20, env_int("CRUCIBLE_MARKETPLACE_SEARCH_MAX_RESULTS", 100))
LIST_COUNT_CAP = max(20, env_int("CRUCIBLE_MARKETPLACE_LIST_COUNT_CAP", 10_000))

# Size limits for what publishers send.
MAX_SYSTEM_PROMPT_CHARS = env_int("CRUCIBLE_MARKETPLACE_MAX_SYSTEM_PROMPT_CHARS", limits.PROMPT_CHARS)
MAX_DESCRIPTION_CHARS = env_int("CRUCIBLE_MARKETPLACE_MAX_DESCRIPTION_CHARS", limits.LONG_TEXT_CHARS)
MAX_TAGS = env_int("CRUCIBLE_MARKETPLACE_MAX_TAGS", 12)
MAX_SCHEMA_BYTES = env_int("CRUCIBLE_MARKETPLACE_MAX_SCHEMA_BYTES", 200_000)
# Bounds of a rendered description (marketplace.markdown): cells of all its tables, and the size
# of its HTML. A text past them is refused with a message naming the description.
MAX_DESCRIPTION_TABLE_CELLS = env_int("CRUCIBLE_MARKETPLACE_MAX_DESCRIPTION_TABLE_CELLS", 20_000)
MAX_DESCRIPTION_HTML_CHARS = env_int("CRUCIBLE_MARKETPLACE_MAX_DESCRIPTION_HTML_CHARS", 1_000_000)

# Measured evidence (marketplace.evidence): other teams' figures are shown only when at least this
# many opted-in teams contributed to a figure, and only as a spread across them.
EVIDENCE_MIN_TEAMS = max(1, env_int("CRUCIBLE_EVIDENCE_MIN_TEAMS", 3))
# Period (days) of the figures denormalised onto the agent row for search and the warning.
EVIDENCE_SEARCH_DAYS = env_int("CRUCIBLE_EVIDENCE_SEARCH_DAYS", 30)
