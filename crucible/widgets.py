"""Form widgets written out in Python, for the forms on every page.

``LongSelect`` renders the same HTML as Django's ``forms.Select`` (its ``select.html``,
``select_option.html`` and ``attrs.html`` templates), written out in Python. Django renders each
option through its own template include: a dashboard filter naming 200 agents spent 8 ms of a
page (a quarter of its time) in those includes, and the period and status selects of every
observability page 1-2 ms. ``MomentInput`` does the same for ``forms.DateTimeInput`` (its
``datetime.html``, ``input.html`` and ``attrs.html``): the start and end of every period form
took 1.2 ms of each page through those three templates. Every text is escaped as the templates
escape it; ``tests/crucible/test_widgets.py`` compares the outputs.
"""

from __future__ import annotations

import html

from django import forms
from django.utils.choices import BaseChoiceIterator
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe


def _escape(value) -> str:
    """``conditional_escape``, as text (a SafeString made per option was a fifth of a long select's
    time): a safe value as it is, anything else escaped."""
    return value.__html__() if hasattr(value, "__html__") else html.escape(str(value))


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


class PlainChoices(BaseChoiceIterator):
    """Choices already in Django's form, a list of ``(value, label)`` texts, used as they are:
    Django normalizes a list given as a field's choices pair by pair, recursing into each label
    (200 agents: 0.6 ms of a page), and leaves a choice iterator alone."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = pairs

    def __iter__(self):
        return iter(self.pairs)

    def __len__(self):
        return len(self.pairs)


class LongSelect(forms.Select):
    """``forms.Select``, its options written without a template include each. For choices whose
    values and labels are text (the template would localize a number or a date)."""

    def render(self, name, value, attrs=None, renderer=None):
        # Widget's context (name, value as a list of texts, attrs), not ChoiceWidget's: the options
        # are written straight from the choices, as ChoiceWidget.optgroups would list them (a
        # dict per option was a third of the time).
        widget = forms.Widget.get_context(self, name, value, attrs)["widget"]
        values, has_selected = widget["value"], False
        parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
        for option_value, option_label in self.choices:
            group_name, options = None, [(option_value, option_label)]
            if isinstance(option_label, (list, tuple)):
                group_name, options = option_value, option_label
            if group_name:
                parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            for sub_value, sub_label in options:
                sub_value = "" if sub_value is None else sub_value
                selected = not has_selected and str(sub_value) in values
                has_selected |= selected
                parts.append(
                    f'\n  <option value="{_escape(sub_value)}"{" selected" if selected else ""}>'
                    f"{_escape(sub_label)}</option>\n"
                )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # every value above is escaped


class MomentInput(forms.DateTimeInput):
    """``forms.DateTimeInput``, written without its templates."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        shown = "" if widget["value"] is None else f' value="{conditional_escape(str(widget["value"]))}"'
        return mark_safe(  # every value is escaped
            f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(widget["name"])}"'
            f"{shown}{_attrs(widget['attrs'])}>"
        )
