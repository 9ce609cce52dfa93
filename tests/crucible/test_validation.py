"""The validation kit (crucible.validation) and the shared limits (crucible.limits)."""

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from crucible import limits
from crucible import validation as v


class TestErrors:
    def test_every_bad_field_is_reported_at_once_under_its_public_name(self):
        errors = v.Errors()
        errors.check("name", v.text, "", max_length=10, required=True)
        for i, weight in enumerate([0.5, "heavy", -1]):
            errors.at("variants", i).check("weight", v.number, weight, low=0, high=1)
        errors.at("events", 3).add("cost", "Must be at most 10000.")
        with pytest.raises(ValidationError) as raised:
            errors.raise_if_any()
        assert raised.value.message_dict == {
            "name": ["This field may not be blank."],
            "variants.1.weight": ["Must be a number."],
            "variants.2.weight": ["Must not be negative."],
            "events.3.cost": ["Must be at most 10000."],
        }

    def test_check_returns_the_clean_value_or_none(self):
        errors = v.Errors()
        assert errors.check("n", v.whole, 3.0, low=0) == 3
        assert errors.check("n", v.whole, 3.5, low=0) is None
        assert errors.as_dict() == {"n": ["Must be a whole number."]}
        assert errors.first() == ("n", "Must be a whole number.")

    def test_a_django_validation_error_is_merged_with_its_own_field_names(self):
        def legacy_check(value):
            raise ValidationError({"input_schema": "Not a schema.", "non_field_errors": "Broken."})

        def plain_check(value):
            raise ValidationError("Too short.")

        errors = v.Errors()
        errors.at("versions", 0).check("spec", legacy_check, 1)
        errors.check("title", plain_check, "x")
        assert errors.as_dict() == {
            "versions.0.input_schema": ["Not a schema."],
            "versions.0.spec": ["Broken."],
            "title": ["Too short."],
        }

    def test_a_scoped_view_knows_only_its_own_errors(self):
        errors = v.Errors()
        errors.at("results", 0).add("cost", "bad")
        assert errors and errors.at("results", 0) and not errors.at("results", 1)
        assert "cost" in errors.at("results", 0) and "cost" not in errors

    def test_no_error_raises_nothing(self):
        errors = v.Errors()
        errors.check("name", v.text, "fine", max_length=10)
        errors.raise_if_any()
        assert not errors and errors.first() is None


class TestText:
    def test_clean_text(self):
        assert v.text("  hello ", max_length=5) == "hello"
        assert v.text("  hello ", max_length=10, strip=False) == "  hello "
        assert v.text(None, max_length=5) == ""

    @pytest.mark.parametrize(
        "value, rules, message",
        [
            (None, {"required": True}, "This field is required."),
            ("   ", {"required": True}, "This field may not be blank."),
            ("a\x00b", {}, "Text cannot contain NUL characters."),
            ("abcdef", {}, "At most 5 characters."),
            (12, {}, "Must be text."),
            (["a"], {}, "Must be text."),
        ],
    )
    def test_bad_text(self, value, rules, message):
        with pytest.raises(v.Invalid, match=message):
            v.text(value, max_length=5, **rules)


class TestNumbers:
    @pytest.mark.parametrize("value", [True, False, "3", 2.5, math.nan, math.inf, [1]])
    def test_whole_numbers_refuse_bools_text_fractions_and_non_finite(self, value):
        with pytest.raises(v.Invalid, match="Must be a whole number."):
            v.whole(value)

    def test_whole_numbers_bounds_and_default(self):
        assert v.whole(4.0) == 4 and v.whole(None, default=0) == 0
        with pytest.raises(v.Invalid, match="Must not be negative."):
            v.whole(-1, low=0)
        with pytest.raises(v.Invalid, match="Must be at most 1000000000."):
            v.whole(10**9 + 1, high=limits.MAX_TOKENS)
        with pytest.raises(v.Invalid, match="required"):
            v.whole(None, required=True)

    @pytest.mark.parametrize("value, message", [(True, "a number"), ("1", "a number"), (math.nan, "finite")])
    def test_numbers_are_finite_json_numbers(self, value, message):
        with pytest.raises(v.Invalid, match=message):
            v.number(value)

    def test_number_bounds(self):
        assert v.number(5, low=0, high=10) == 5.0
        with pytest.raises(v.Invalid, match="Must be at least 1."):
            v.number(0.5, low=1)
        with pytest.raises(v.Invalid, match="Must be at most 604800000."):
            v.number(limits.MAX_DURATION_MS + 1, high=limits.MAX_DURATION_MS)
        with pytest.raises(v.Invalid, match="finite"):
            v.number(Decimal("1e400"))


class TestMoney:
    def test_money_is_a_rounded_decimal(self):
        assert v.money(0.1, places=6) == Decimal("0.100000")
        assert v.money("0.123456789", places=8) == Decimal("0.12345679")
        assert v.money(Decimal("2"), places=2) == Decimal("2.00")
        assert v.money(None, default=Decimal(0)) == 0

    @pytest.mark.parametrize(
        "value, message",
        [
            (True, "Must be a number."),
            ("abc", "Must be a number."),
            ("NaN", "finite"),
            ("Infinity", "finite"),
            (-0.01, "Must not be negative."),
            (Decimal("10000.01"), "Must be at most 10000."),
            ("1e400", "Must be at most 10000."),
        ],
    )
    def test_bad_money(self, value, message):
        with pytest.raises(v.Invalid, match=message):
            v.money(value)

    def test_too_many_digits_is_a_refusal_not_a_crash(self):
        with pytest.raises(v.Invalid, match="smaller number"):
            v.money(Decimal("1e30"), places=8, high=None)

    def test_text_can_be_refused(self):
        with pytest.raises(v.Invalid):
            v.money("1.5", allow_text=False)


class TestTimestamp:
    def test_iso_8601_with_a_zone_becomes_utc(self):
        when = v.timestamp("2026-03-01T12:00:00+02:00")
        assert when == dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC) and when.tzinfo == dt.UTC
        assert v.timestamp(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).year == 2026

    @pytest.mark.parametrize(
        "value, message",
        [
            ("2026-03-01T12:00:00", "needs a time zone"),
            ("yesterday", "Not a valid ISO 8601"),
            (1700000000, "ISO 8601 timestamp string"),
            ("1969-12-31T23:59:59+00:00", "between the years 1970 and 9999"),
            # Extreme offsets used to overflow when converted to UTC (a 500): now a clear refusal.
            ("0001-01-01T00:00:00+23:59", "between the years"),
            ("9999-12-31T23:59:59-23:59", "between the years"),
            ("2026-01-01T00:00:00\x00", "Not a valid ISO 8601"),
        ],
    )
    def test_bad_timestamps(self, value, message):
        with pytest.raises(v.Invalid, match=message):
            v.timestamp(value)

    def test_missing(self):
        assert v.timestamp(None, required=False) is None
        with pytest.raises(v.Invalid, match="required"):
            v.timestamp(None)


def test_boolean_and_choice():
    assert v.boolean(False) is False
    for value in (1, "yes", "true"):
        with pytest.raises(v.Invalid, match="true or false"):
            v.boolean(value)
    assert v.choice("b", ("a", "b")) == "b"
    with pytest.raises(v.Invalid, match="One of: a, b."):
        v.choice("c", ("a", "b"))


def test_per_item_limits_keep_every_sum_within_its_column():
    # Token sums are bigint: 9.2e18 / MAX_TOKENS items (billions) before any could overflow.
    assert (2**63 - 1) // limits.MAX_TOKENS > 9 * 10**9
    # Money sums are numeric(38, s): more items than a bigint counter can count.
    assert Decimal(10) ** (limits.SUM_MONEY_DIGITS - 8) / limits.MAX_COST > 2**63
