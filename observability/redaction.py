"""Redaction of span payloads at ingest, before anything is stored.

Built-in rules always apply: API keys and tokens (OpenAI/Anthropic-style ``sk-...`` keys, bearer
tokens, AWS access key ids, GitHub and Slack tokens, JSON Web Tokens), e-mail addresses and card
numbers (13 to 19 digits that pass the Luhn check). A team adds its own regular expressions
(``RedactionRule``, admin, API and page for team admins). ``Redactor.for_team`` compiles a team's
rules once per batch; ``redact(text)`` returns the text and whether anything was replaced.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from observability.models import RedactionRule

# (name, literal triggers: the rule runs only on text containing one of them (None: always), pattern,
# replacement). Checking a literal with ``in`` is far cheaper than running a regex over the text.
BUILTIN_RULES = [
    (
        "api_key",
        ("sk-", "pk-", "rk-", "crk_", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xox", "eyJ"),
        r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}|\bcrk_[0-9a-f]{12}_[A-Za-z0-9_\-]{20,}|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
        r"|\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bxox[abposr]-[A-Za-z0-9\-]{10,}"
        r"|\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        "[REDACTED:api_key]",
    ),
    ("bearer", ("earer", "EARER"), r"(?i:\bbearer\s+)[A-Za-z0-9._~+/\-]{16,}=*", "Bearer [REDACTED:token]"),
    ("email", ("@",), r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}", "[REDACTED:email]"),
    ("card", None, r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])", "[REDACTED:card]"),
]
BUILTIN_PATTERNS = {name: pattern for name, _, pattern, _ in BUILTIN_RULES}
_DIGIT_RUN = re.compile(r"\d{4}")  # a card number has runs of four digits at least
# Every literal trigger contains one of these: a few substring searches (in C) rule most text out.
_HINTS = ("-", "_", "@", "earer", "EARER", "AKIA", "ASIA", "eyJ")


def _may_match(text: str) -> bool:
    for hint in _HINTS:
        if hint in text:
            return True
    for digit in "0123456789":  # substring search is far faster than the regex engine's \d scan
        if digit in text:
            return _DIGIT_RUN.search(text) is not None
    return False


_MAX_PATTERN_CHARS = 500


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if position % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _card_replacement(match: re.Match) -> str:
    digits = match.group().replace(" ", "").replace("-", "")
    return "[REDACTED:card]" if luhn_valid(digits) else match.group()


_COMPILED = [
    (triggers, re.compile(pattern), _card_replacement if name == "card" else replacement)
    for name, triggers, pattern, replacement in BUILTIN_RULES
]


def pattern_check(pattern: str) -> re.Pattern:
    """A team rule's pattern compiled, or ValidationError naming ``pattern``."""
    if not pattern or len(pattern) > _MAX_PATTERN_CHARS:
        raise ValidationError({"pattern": f"Must be 1 to {_MAX_PATTERN_CHARS} characters."})
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValidationError({"pattern": f"Not a valid regular expression: {exc}."}) from None
    if compiled.match(""):
        raise ValidationError({"pattern": "Must not match the empty text."})
    return compiled


class Redactor:
    def __init__(self, rules: list[tuple[re.Pattern, str]]):
        self.rules = rules

    @classmethod
    def for_team(cls, team_id: int) -> Redactor:
        rules = []
        for pattern, replacement in RedactionRule.objects.filter(team_id=team_id, enabled=True).values_list(
            "pattern", "replacement"
        ):
            try:
                rules.append((re.compile(pattern), replacement))
            except re.error:  # saved before a check existed: skipped rather than failing ingest
                continue
        return cls(rules)

    def redact(self, text: str) -> tuple[str, bool]:
        out = text
        if len(text) >= 6 and _may_match(text):
            for triggers, pattern, replacement in _COMPILED:
                if triggers is None:
                    if _DIGIT_RUN.search(out) is None:
                        continue
                elif not any(trigger in out for trigger in triggers):
                    continue
                out = pattern.sub(replacement, out)
        for pattern, replacement in self.rules:
            out = pattern.sub(lambda _match, r=replacement: r, out)
        return out, out != text
