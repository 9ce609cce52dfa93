"""One rule for each kind of figure shown to a person (crucible.formatting, crucible_format)."""

from decimal import Decimal

import pytest
from django.template import Context, Template

from crucible import formatting as f


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "—"),
        ("", "—"),
        (float("nan"), "—"),
        (float("inf"), "—"),
        (0, "0"),
        (1234567, "1,234,567"),
        (1234.5, "1,234"),  # half to even at 0 digits
        (-0.2, "0"),  # no "-0"
    ],
)
def test_number(value, shown):
    assert f.number(value) == shown


def test_number_digits_and_signed():
    assert f.number(1234.56, 1) == "1,234.6"
    assert f.signed(2.25, 1) == "+2.2"  # half to even
    assert f.signed(-1.5) == "-1.5"
    assert f.signed(0.04) == "0.0"


@pytest.mark.parametrize(
    ("ms", "shown"),
    [
        (0, "0 ms"),
        (0.3, "<1 ms"),
        (0.6, "1 ms"),
        (850, "850 ms"),
        (999.4, "999 ms"),
        (999.6, "1.0 s"),  # rounding never shows "1000 ms"
        (2400, "2.4 s"),
        (59_960, "1.0 min"),  # nor "60.0 s"
        (186_000, "3.1 min"),
        (3_597_000, "1.0 h"),
        (5_400_000, "1.5 h"),
        (90_000_000_000, "25,000.0 h"),
        (None, "—"),
    ],
)
def test_duration_one_unit_rule(ms, shown):
    assert f.duration(ms) == shown


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (None, "—"),
        (0, "$0.00"),
        (Decimal("0.00004"), "<$0.0001"),
        (Decimal("0.01234567"), "$0.0123"),
        ("0.125", "$0.1250"),
        (0.99996, "$1.00"),
        (Decimal("1234.565"), "$1,234.57"),
        (Decimal("-2.5"), "-$2.50"),
    ],
)
def test_money_one_precision_rule(amount, shown):
    assert f.money(amount) == shown


def test_percentages_and_points():
    assert f.percent(0.4321) == "43.2%"
    assert f.percent(0.95, 0) == "95%"
    assert f.percent_change(0.125) == "+12.5%"
    assert f.percent_change(-0.05) == "-5.0%"
    assert f.points(0.041) == "+4.1 pts"
    assert f.points(None) == "—"


def test_the_template_filters_are_the_same_functions():
    html = Template(
        "{% load crucible_format %}{{ n|number }} {{ d|duration }} {{ m|money }} {{ p|percent }} "
        "{{ q|points }} {{ c|percent_change }} {{ e|or_empty }} {{ s|badge }}"
    ).render(
        Context({"n": 12345, "d": 2400, "m": Decimal("3.5"), "p": 0.5, "q": -0.02, "c": 0.1, "e": "", "s": "failed"})
    )
    assert html == "12,345 2.4 s $3.50 50.0% -2.0 pts +10.0% — badge-bad"


def test_text_that_is_not_a_number_is_shown_as_it_is():
    assert f.number("n/a") == "n/a" and f.money("n/a") == "n/a"


def test_pretty_json():
    assert (
        f.pretty_json({"a": [1, None, True], "é": "x"})
        == '{\n  "a": [\n    1,\n    null,\n    true\n  ],\n  "é": "x"\n}'
    )
