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

# One pass over each string: the built-ins are alternatives of one pattern, each a named group.
BUILTIN_PATTERNS = {
    "api_key": r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}|\bcrk_[0-9a-f]{12}_[A-Za-z0-9_\-]{20,}",
    "bearer": r"(?i:\bbearer\s+)[A-Za-z0-9._~+/\-]{16,}=*",
    "aws_key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "github_token": r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
    "slack_token": r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    "jwt": r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    "email": r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    "card": r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])",
}
BUILTIN = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in BUILTIN_PATTERNS.items()))
REPLACEMENTS = {
    "api_key": "[REDACTED:api_key]",
    "bearer": "Bearer [REDACTED:token]",
    "aws_key": "[REDACTED:api_key]",
    "github_token": "[REDACTED:token]",
    "slack_token": "[REDACTED:token]",
    "jwt": "[REDACTED:token]",
    "email": "[REDACTED:email]",
    "card": "[REDACTED:card]",
}
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


def _builtin_replacement(match: re.Match) -> str:
    kind = match.lastgroup
    if kind == "card":
        digits = re.sub(r"[ -]", "", match.group())
        if not luhn_valid(digits):
            return match.group()
    return REPLACEMENTS[kind]


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
        out = BUILTIN.sub(_builtin_replacement, text)
        for pattern, replacement in self.rules:
            out = pattern.sub(lambda _match, r=replacement: r, out)
        return out, out != text
