"""One shape for every recommendation and verdict: small rule functions returning ``Recommendation``.

A rule reads a context (the figures an app has already computed) and returns the findings it
sees, each a ``Recommendation`` with its evidence as named ``Figure`` s (a label for people and a
kind that says how to show the number). ``run_rules`` runs a list of rules and sorts the findings
with the one ordering of the project: severity, then impact (largest first).

    def failing_agent(ctx) -> Iterable[Recommendation]:
        for name, m in ctx.judged.items():
            if m["error_rate"] >= conf.FAILING_ERROR_RATE:
                yield Recommendation(
                    code="failing_agent", severity=HIGH, subject=name, title=..., message=...,
                    evidence=(Figure("error_rate", "Error rate", m["error_rate"], PERCENT), ...),
                    impact=m["errors"],
                )

    recs = run_rules([slow_agent, failing_agent], ctx)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from crucible import formatting
from crucible.money import money_text

# Severities, most urgent first.
HIGH, MEDIUM, LOW, INFO = "high", "medium", "low", "info"
SEVERITIES = (HIGH, MEDIUM, LOW, INFO)
_RANK = {name: i for i, name in enumerate(SEVERITIES)}

# Kinds of figure: how a value is meant to be read (and formatted by the templates).
COUNT = "count"  # whole number of things: builds, executions, tokens
NUMBER = "number"  # a plain measurement (quality points, tokens per run)
PERCENT = "percent"  # a fraction 0-1 shown as a percentage
DURATION = "duration"  # milliseconds
MONEY = "money"  # US dollars (Decimal or float)
RATIO = "ratio"  # a multiplier: 1.5 reads "1.5×"
TEXT = "text"  # a name, a version, a message
TIME = "time"  # a datetime
ITEMS = "items"  # a list of (label, count) dicts shown as "label (n), …"
KINDS = (COUNT, NUMBER, PERCENT, DURATION, MONEY, RATIO, TEXT, TIME, ITEMS)

EMPTY = formatting.EMPTY


@dataclass(frozen=True)
class Figure:
    """One named number of a finding's evidence. ``key`` is the API's name for it, ``label`` the
    page's, ``value`` is raw (full precision, for the API), ``kind`` says how to show it."""

    key: str
    label: str
    value: Any
    kind: str = NUMBER
    shown: str | None = None  # a ready text for values no kind describes (a list of changes)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Unknown figure kind {self.kind!r}.")

    @property
    def display(self) -> str:
        """The value as people read it (rounded; one rule per kind)."""
        return self.shown if self.shown is not None else format_figure(self.value, self.kind)


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Recommendation:
    """A finding: what (``title``), what to do (``message``), why (``evidence``), how urgent
    (``severity``) and how much it matters (``impact``, compared within one app's findings)."""

    code: str
    severity: str
    title: str
    message: str
    evidence: tuple[Figure, ...] = ()
    subject: str = ""  # what the finding is about: an agent, a stack, a variant
    impact: float = 0.0
    links: tuple[Link, ...] = field(default=())

    def __post_init__(self):
        if self.severity not in _RANK:
            raise ValueError(f"Unknown severity {self.severity!r}.")

    @property
    def evidence_values(self) -> dict[str, Any]:
        """The evidence as the API gives it: ``{key: raw value}``."""
        return {f.key: money_text(f.value) if f.kind == MONEY else f.value for f in self.evidence}

    def as_dict(self, *, subject_key: str | None = None) -> dict:
        """The API shape (``kind``, ``severity``, ``title``, ``action``, ``evidence``) plus the
        labelled ``figures`` and ``links`` for the pages; ``subject_key`` names the subject."""
        out = {
            "kind": self.code,
            "severity": self.severity,
            "title": self.title,
            "action": self.message,
            "evidence": self.evidence_values,
            "figures": list(self.evidence),
            "links": list(self.links),
        }
        if subject_key:
            out[subject_key] = self.subject
        return out


Rule = Callable[[Any], Iterable[Recommendation]]


def sort_key(rec: Recommendation) -> tuple:
    """The one ordering: severity, then impact (largest first), then subject and code."""
    impact = rec.impact if rec.impact is not None and not math.isnan(rec.impact) else 0.0
    return (_RANK[rec.severity], -impact, rec.subject, rec.code)


def run_rules(rules: Iterable[Rule], context) -> list[Recommendation]:
    """Every finding of every rule on ``context``, in the one ordering."""
    found = [rec for rule in rules for rec in (rule(context) or ())]
    return sorted(found, key=sort_key)


# --- Showing a figure --------------------------------------------------------------------------


def _number(value: float) -> str:
    # Two decimals, or three significant digits below 1 (a p-value of 0.0003 stays readable).
    text = f"{value:.3g}" if 0 < abs(value) < 1 else f"{value:,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text and "e" not in text else text


def _items(value) -> str:
    parts = []
    for item in value or ():
        if isinstance(item, dict):
            label = item.get("error_type") or item.get("label") or item.get("metric") or ""
            count = item.get("executions", item.get("count"))
            parts.append(f"{label} ({count:,})" if isinstance(count, int) else str(label))
        else:
            parts.append(str(item))
    return ", ".join(parts) or EMPTY


_FORMATS: dict[str, Callable[[Any], str]] = {
    # Counts, percentages, durations and money follow the project's one rule (crucible.formatting).
    COUNT: formatting.number,
    NUMBER: lambda v: f"{v:,}" if isinstance(v, int) else _number(float(v)),
    PERCENT: formatting.percent,
    DURATION: formatting.duration,
    MONEY: formatting.money,
    RATIO: lambda v: f"{float(v):,.2f}".rstrip("0").rstrip(".") + "×",
    TEXT: str,
    TIME: lambda v: v.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if isinstance(v, dt.datetime) else str(v),
    ITEMS: _items,
}


def format_figure(value, kind: str) -> str:
    """``value`` of ``kind`` as text for a page; None (or an empty text) is the one empty value."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if isinstance(value, Decimal) and kind == NUMBER:
        value = float(value)
    return _FORMATS[kind](value)
