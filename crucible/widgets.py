"""Form widgets for choices that grow with the data.

``LongSelect`` renders the same HTML as Django's ``forms.Select`` (its ``select.html``,
``select_option.html`` and ``attrs.html`` templates), written out in Python. Django renders each
option through its own template include: a dashboard filter naming 200 agents spent 8 ms of a
page (a quarter of its time) in those includes, and the period and status selects of every
observability page 1-2 ms. Every text is escaped as the templates escape it;
``tests/crucible/test_widgets.py`` compares the two outputs.
"""

from __future__ import annotations

from django import forms
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe


def _attrs(attrs: dict) -> str:
    """``django/forms/widgets/attrs.html``: `` name="value"``, a bare `` name`` for True, nothing
    for False."""
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(str(value))}"'
        for name, value in attrs.items()
        if value is not False
    )


class LongSelect(forms.Select):
    """``forms.Select``, its options written without a template include each. For choices whose
    values and labels are text (the template would localize a number or a date)."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group_name, group_choices, _ in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            for option in group_choices:
                parts.append(
                    f'\n  <option value="{conditional_escape(str(option["value"]))}"{_attrs(option["attrs"])}>'
                    f"{conditional_escape(option['label'])}</option>\n"
                )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # every value above is escaped
