"""Helpers shared by the topic modules of ``improvement.services``."""

from __future__ import annotations

from crucible import limits
from crucible import validation as v

# Decimal places of a result's cost as summed (Variant.cost_sum) and of the cost reference.
RESULT_COST_PLACES = 6


def _prompt(value) -> str:
    prompt = v.text(value, max_length=limits.PROMPT_CHARS, strip=False)
    if not prompt.strip():
        raise v.Invalid("The prompt cannot be empty.")
    return prompt


def _hour(moment):
    return moment.replace(minute=0, second=0, microsecond=0)
