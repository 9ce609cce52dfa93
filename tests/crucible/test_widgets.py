"""crucible.widgets.LongSelect and MomentInput write what Django's Select and DateTimeInput templates
write, byte for byte, with every text escaped."""

import datetime as dt

import pytest
from django import forms

from crucible.widgets import LongSelect, MomentInput

NASTY = "<b>\"x\" & 'y'</b>"

CHOICES = [
    ("", "All agents"),
    ("a", "a"),
    (NASTY, NASTY),
    ("ünï cödé", "ünï cödé"),
    ("a/b c%", "label & more"),
]
GROUPED = [("", "Any"), ("Group <1>", [("x", "X"), (NASTY, "nasty")]), ("z", "Z")]


@pytest.mark.parametrize(
    "choices", [CHOICES, GROUPED, [], [("", "only")], [(None, "none"), ("a", "a"), ("a", "a again"), (7, 7)]]
)
@pytest.mark.parametrize("value", [None, "", "a", NASTY, "x", "missing"])
@pytest.mark.parametrize("attrs", [None, {"id": "id_agent"}, {"id": 'q"1', "required": True, "disabled": False}])
def test_long_select_renders_what_django_select_renders(choices, value, attrs):
    ours = LongSelect(choices=choices).render("agent", value, attrs=attrs)
    django = forms.Select(choices=choices).render("agent", value, attrs=attrs)
    assert ours == django


def test_long_select_in_a_form_escapes_every_text():
    class Form(forms.Form):
        agent = forms.ChoiceField(choices=CHOICES, required=False, widget=LongSelect)

    html = str(Form({"agent": NASTY})["agent"])
    assert NASTY not in html
    assert '<option value="&lt;b&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/b&gt;" selected>' in html
    assert html.count("<option") == len(CHOICES)


@pytest.mark.parametrize(
    "value", [None, "", "2026-11-30T10:00", dt.datetime(2026, 11, 30, 9, 5), NASTY, "a/b c%", "ünï"]
)
@pytest.mark.parametrize(
    "attrs",
    [
        None,
        {"type": "datetime-local"},
        {"type": "datetime-local", "id": 'q"1', "aria-describedby": "id_start_helptext", "required": True},
        {"disabled": False, "autofocus": True},
    ],
)
def test_moment_input_renders_what_django_datetime_input_renders(value, attrs):
    widget_attrs = {"type": "datetime-local"}
    ours = MomentInput(attrs=widget_attrs, format="%Y-%m-%dT%H:%M").render("start", value, attrs=attrs)
    django = forms.DateTimeInput(attrs=widget_attrs, format="%Y-%m-%dT%H:%M").render("start", value, attrs=attrs)
    assert ours == django


def test_the_period_form_renders_as_with_djangos_widgets():
    from crucible import periods
    from observability.forms import PeriodForm

    data = {"start": NASTY, "end": "2026-11-30T10:00", "range": "7d"}
    ours = str(PeriodForm(data).as_p())
    saved = periods.MomentFormField.widget
    try:
        periods.MomentFormField.widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
        assert str(PeriodForm(data).as_p()) == ours
    finally:
        periods.MomentFormField.widget = saved
    assert NASTY not in ours and "&lt;b&gt;&quot;x&quot;" in ours
