"""Periods: one way, for every app, to read "which time window" from a page or an API query.

A period is a preset (``range=24h``) or explicit bounds (``start``/``end``, named ``since``/``until``
in team memory). Giving a bound always applies it: the period becomes custom, a missing end is
now and a missing start is the preset's (or the default) length before the end. Each preset has
one bucket size for its time series, and a preset ends with the bucket that holds "now", so its
series is a whole number of equal buckets (``Period.bucket_starts``).

``PeriodRules`` are what differs between apps (presets, default, parameter names, bounds, rounding);
``PeriodForm`` (pages) and ``PeriodQuerySerializer`` (API) both call ``period_resolve`` with them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crucible.api.query import StrictQueryMixin
from crucible.widgets import LongSelect, MomentInput

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
CUSTOM = "custom"
# Buckets are counted from a Monday at 00:00 UTC: 6-hour slots start at 00, 06, 12 and 18 UTC,
# weeks on Mondays. SQL uses the same origin (``date_bin(width, t, ORIGIN)``).
ORIGIN = dt.datetime(2000, 1, 3, tzinfo=UTC)
BUCKETS = {"minute": MINUTE, "5min": 5 * MINUTE, "hour": HOUR, "6h": 6 * HOUR, "day": DAY, "week": 7 * DAY}
BUCKET_SQL_INTERVALS = {
    "minute": "1 minute",
    "5min": "5 minutes",
    "hour": "1 hour",
    "6h": "6 hours",
    "day": "1 day",
    "week": "7 days",
}
BUCKET_LABELS = {
    "minute": "one-minute",
    "5min": "5-minute",
    "hour": "hourly",
    "6h": "6-hour",
    "day": "daily",
    "week": "weekly",
}


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    length: dt.timedelta
    bucket: str


# One bucket rule per preset: the series of a preset never mixes granularities. The short presets
# (15m, 1h) are minutes read from raw executions: the last hour is sixty one-minute buckets ending
# with the minute that holds "now", not two clock hours.
PRESETS = {
    p.key: p
    for p in (
        Preset("15m", "Last 15 minutes", 15 * MINUTE, "minute"),
        Preset("1h", "Last hour", HOUR, "minute"),
        Preset("24h", "Last 24 hours", DAY, "hour"),
        Preset("7d", "Last 7 days", 7 * DAY, "6h"),
        Preset("30d", "Last 30 days", 30 * DAY, "day"),
        Preset("90d", "Last 90 days", 90 * DAY, "day"),
        Preset("180d", "Last 180 days", 180 * DAY, "day"),
        Preset("365d", "Last year", 365 * DAY, "day"),
    )
}


def preset(key: str) -> Preset:
    """A preset by key; ``"<n>d"`` keys not in the table are days with daily buckets."""
    if key in PRESETS:
        return PRESETS[key]
    if key.endswith("d") and key[:-1].isdigit() and 0 < int(key[:-1]) <= 3660:
        return Preset(key, f"Last {int(key[:-1])} days", int(key[:-1]) * DAY, "day")
    raise KeyError(key)


def bucket_for(length: dt.timedelta) -> str:
    """The bucket of a custom period, by its length."""
    if length <= 2 * DAY:
        return "hour"
    if length <= 14 * DAY:
        return "6h"
    if length <= 120 * DAY:
        return "day"
    return "week"


def floor(when: dt.datetime, bucket: str) -> dt.datetime:
    width = BUCKETS[bucket]
    return ORIGIN + ((when - ORIGIN) // width) * width


def ceil(when: dt.datetime, bucket: str) -> dt.datetime:
    low = floor(when, bucket)
    return low if low == when else low + BUCKETS[bucket]


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, with the bucket size of its time series."""

    key: str  # a preset key or "custom"
    start: dt.datetime
    end: dt.datetime
    bucket: str
    label: str = ""
    names: tuple[str, str] = field(default=("start", "end"), compare=False)

    @property
    def length(self) -> dt.timedelta:
        return self.end - self.start

    @property
    def bucket_label(self) -> str:
        return BUCKET_LABELS[self.bucket]

    @property
    def is_custom(self) -> bool:
        return self.key == CUSTOM

    def previous(self) -> Period:
        """The period of the same length just before this one (regressions compare with it)."""
        return Period(self.key, self.start - self.length, self.start, self.bucket, self.label, self.names)

    def as_dict(self) -> dict:
        return {"range": self.key, "label": self.label, "start": self.start, "end": self.end, "bucket": self.bucket}

    def bucket_starts(self) -> list[dt.datetime]:
        """The start of every bucket of the series, oldest first (at most 10,000)."""
        width = BUCKETS[self.bucket]
        moment, out = floor(self.start, self.bucket), []
        while moment < self.end and len(out) < 10_000:
            out.append(moment)
            moment += width
        return out

    def fill(self, points: list[dict], empty: dict, key: str = "time") -> list[dict]:
        """``points`` (dicts with a bucket start under ``key``) with one point for each bucket of the
        period: a bucket without data gets ``empty`` (zeros for counts, None for rates, so a
        chart shows a gap instead of a line drawn across it)."""
        by_time = {point[key]: point for point in points}
        return [by_time.get(moment) or {key: moment, **empty} for moment in self.bucket_starts()]

    def query(self) -> dict[str, str]:
        """The bounds as query parameters, to carry this exact period in a link."""
        start_name, end_name = self.names
        return {start_name: _iso(self.start), end_name: _iso(self.end)}


def iso(moment: dt.datetime) -> str:
    """A moment as ISO 8601 text in UTC (``2026-03-01T12:00:00Z``), as links and the API carry it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


_iso = iso


@dataclass(frozen=True)
class PeriodRules:
    """What differs between apps; the parsing and the resolution are shared."""

    presets: tuple[str, ...]
    default: str
    start_name: str = "start"
    end_name: str = "end"
    earliest: dt.datetime = dt.datetime(1970, 1, 1, tzinfo=UTC)
    latest: dt.datetime = dt.datetime(9999, 1, 1, tzinfo=UTC)
    max_length: dt.timedelta | None = 366 * DAY
    # Custom bounds widened to whole units of this size (observability's rollups are hourly).
    custom_unit: str | None = "hour"
    start_help: str = "UTC if no offset is given. Giving a start or an end makes the period custom."
    end_help: str = "Exclusive. Default: now."

    @property
    def choices(self) -> list[tuple[str, str]]:
        return [*((key, preset(key).label) for key in self.presets), (CUSTOM, "Custom")]


def parse_moment(value) -> dt.datetime:
    """A timestamp from ISO 8601 text (``2026-03-01T12:00:00Z``, ``2026-03-01T12:00``, ``2026-03-01``)
    or a datetime, in UTC; no offset means UTC. Raises ``ValidationError`` for anything else,
    including offsets that move it out of the calendar (``0001-01-01T00:00:00+23:59``)."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        text = str(value).strip()
        try:
            moment = parse_datetime(text)
            if moment is None:
                day = parse_date(text)
                moment = dt.datetime.combine(day, dt.time()) if day is not None else None
        except ValueError:
            moment = None
        if moment is None:
            raise ValidationError("Enter a date and time such as 2026-03-01T12:00:00Z.")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValidationError("This moment is outside the supported calendar.") from None


def _before(moment: dt.datetime, length: dt.timedelta, earliest: dt.datetime) -> dt.datetime:
    try:
        return max(moment - length, earliest)
    except OverflowError:
        return earliest


def period_resolve(
    rules: PeriodRules,
    *,
    range: str | None = None,  # noqa: A002 - the public name of the parameter
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Period:
    """The period asked for; every problem at once as ``ValidationError({field: message})``."""
    names = (rules.start_name, rules.end_name)
    key = range or ""
    errors: dict[str, str] = {}
    if key and key != CUSTOM and key not in rules.presets:
        errors["range"] = f"Choose one of {', '.join([*rules.presets, CUSTOM])}."
    bounds = f"Must be between {rules.earliest.date().isoformat()} and {rules.latest.date().isoformat()}."
    if start is not None and not rules.earliest <= start < rules.latest:
        errors[rules.start_name] = bounds
    if end is not None and not rules.earliest < end <= rules.latest:
        errors[rules.end_name] = bounds
    if key == CUSTOM and start is None and end is None:
        errors[rules.start_name] = "A custom period needs a start, an end or both."
    if errors:
        raise ValidationError(errors)
    now = (now or timezone.now()).astimezone(UTC)

    if start is None and end is None:
        chosen = preset(key or rules.default)
        end = floor(now, chosen.bucket) + BUCKETS[chosen.bucket]  # the bucket that holds now is the last one
        return Period(chosen.key, end - chosen.length, end, chosen.bucket, chosen.label, names)

    length = preset(key if key in rules.presets else rules.default).length
    end = end if end is not None else min(now, rules.latest)
    start = start if start is not None else _before(end, length, rules.earliest)
    if rules.custom_unit:
        start = floor(start, rules.custom_unit)
        end = ceil(end, rules.custom_unit)
        if end > rules.latest:
            raise ValidationError({rules.end_name: bounds})
    if end <= start:
        raise ValidationError({rules.end_name: "Must be after the start."})
    if rules.max_length is not None and end - start > rules.max_length:
        raise ValidationError({rules.end_name: f"A period can span at most {rules.max_length.days} days."})
    return Period(CUSTOM, start, end, bucket_for(end - start), "Custom", names)


# --- Pages ---------------------------------------------------------------------------------


class MomentFormField(forms.CharField):
    """A timestamp typed in a page (``datetime-local`` inputs send no offset: UTC)."""

    widget = MomentInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value):
        value = super().to_python(value)
        return parse_moment(value) if value else None

    def prepare_value(self, value):
        if isinstance(value, dt.datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
        return value


class PeriodForm(forms.Form):
    """The period part of a page's filter form. ``self.period`` is the period asked for, or the
    default one while the form has errors (they are shown next to their fields)."""

    rules: PeriodRules  # set by each app's subclass

    def __init__(self, *args, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now
        rules = self.rules
        self.fields["range"] = forms.ChoiceField(
            choices=rules.choices, required=False, label="Period", widget=LongSelect
        )  # (on every page with a period: LongSelect writes it without a template per option)
        self.fields[rules.start_name] = MomentFormField(required=False, label="Start", help_text=rules.start_help)
        self.fields[rules.end_name] = MomentFormField(required=False, label="End", help_text=rules.end_help)
        self.order_fields(["range", rules.start_name, rules.end_name])

    def clean(self):
        data = super().clean()
        rules = self.rules
        if self.errors:
            return data
        try:
            self.cleaned_data["period"] = period_resolve(
                rules,
                range=data.get("range"),
                start=data.get(rules.start_name),
                end=data.get(rules.end_name),
                now=self.now,
            )
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)
            return self.cleaned_data
        # The form shows what is applied: a custom period, or the default preset when none was
        # asked for (the select showed its first option, "Last 15 minutes", over a 24-hour page).
        applied = CUSTOM if self.cleaned_data["period"].is_custom else (data.get("range") or rules.default)
        if data.get("range") != applied:
            self.data = self.data.copy()
            self.data["range"] = applied
        return self.cleaned_data

    @property
    def period(self) -> Period:
        if self.is_bound and self.is_valid():
            return self.cleaned_data["period"]
        return period_resolve(self.rules, now=self.now)


# --- API -----------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.DATETIME)
class MomentField(serializers.Field):
    default_error_messages = {"invalid": "Enter a date and time such as 2026-03-01T12:00:00Z."}

    def to_internal_value(self, data):
        try:
            return parse_moment(data)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def to_representation(self, value):
        return _iso(value)


class PeriodQuerySerializer(StrictQueryMixin, serializers.Serializer):
    """The period of an API query; ``validated_data["period"]`` is the resolved ``Period``."""

    rules: PeriodRules  # set by each app's subclass

    def get_fields(self):
        fields = super().get_fields()
        rules = self.rules
        fields["range"] = serializers.ChoiceField(
            choices=rules.choices, required=False, help_text="Default " + rules.default
        )
        fields[rules.start_name] = MomentField(required=False, help_text=rules.start_help)
        fields[rules.end_name] = MomentField(required=False, help_text=rules.end_help)
        return fields

    def validate(self, attrs):
        attrs = super().validate(attrs)
        rules = self.rules
        try:
            attrs["period"] = period_resolve(
                rules,
                range=attrs.get("range"),
                start=attrs.get(rules.start_name),
                end=attrs.get(rules.end_name),
                now=self.context.get("now"),
            )
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


def period_parameters(rules: PeriodRules) -> list:
    """OpenAPI query parameters of a period (for ``extend_schema(parameters=...)``)."""
    from drf_spectacular.utils import OpenApiParameter

    # A rule across two parameters (OpenAPI 3.0 cannot state it): said in words, a 400 naming the end.
    span = f" At most {rules.max_length.days} days after the start." if rules.max_length else ""
    return [
        OpenApiParameter(
            "range", str, enum=[*rules.presets, CUSTOM], description=f"A preset period. Default {rules.default}."
        ),
        OpenApiParameter(rules.start_name, OpenApiTypes.DATETIME, description="Start (inclusive). " + rules.start_help),
        OpenApiParameter(rules.end_name, OpenApiTypes.DATETIME, description="End (exclusive). Default: now." + span),
    ]
