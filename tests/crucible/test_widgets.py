"""crucible.widgets.LongSelect writes what Django's Select template writes, byte for byte, with
every text escaped."""

import pytest
from django import forms

from crucible.widgets import LongSelect

NASTY = "<b>\"x\" & 'y'</b>"

CHOICES = [
    ("", "All agents"),
    ("a", "a"),
    (NASTY, NASTY),
    ("ünï cödé", "ünï cödé"),
    ("a/b c%", "label & more"),
]
GROUPED = [("", "Any"), ("Group <1>", [("x", "X"), (NASTY, "nasty")]), ("z", "Z")]


@pytest.mark.parametrize("choices", [CHOICES, GROUPED, [], [("", "only")]])
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
