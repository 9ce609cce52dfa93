"""Every filter form, on the list pages and in the browsable API, says "Any" for the choice that
filters nothing. django-filter's defaults read like values of the field: a row of dashes on a
select, "Unknown" on a yes/no filter (the executions page offered "Unpriced (no cost): Unknown")."""

from __future__ import annotations

import re

import pytest
from django.urls import get_resolver
from django_filters import rest_framework as filters

pytestmark = pytest.mark.django_db
OURS = ("crucible", "marketplace", "observability", "improvement", "teammemory", "alerts")


def _filtersets() -> list[type[filters.FilterSet]]:
    assert get_resolver().url_patterns  # every app's views and filters imported
    found, todo = [], [filters.FilterSet]
    while todo:
        for filterset in todo.pop().__subclasses__():
            todo.append(filterset)
            if filterset.__module__.split(".")[0] in OURS and filterset._meta.model is not None:
                found.append(filterset)
    return found


def test_every_filter_form_offers_any_for_no_filter(rf):
    checked = set()
    for filterset in _filtersets():
        form = filterset({}, queryset=filterset._meta.model.objects.none(), request=rf.get("/")).form
        for name in form.fields:
            html = str(form[name])
            if "<select" not in html or "multiple" in html:
                continue
            assert not re.search(r">(-+|Unknown)</option>", html), (filterset.__name__, name, html[:300])
            empty = re.findall(r'<option value=""[^>]*>([^<]*)</option>', html)
            if empty and name != "sort":  # the marketplace's sort offers "Default"
                assert empty == ["Any"], (filterset.__name__, name, empty)
                checked.add((filterset.__name__, name))
    assert {
        ("ExecutionFilterSet", "unpriced"),
        ("ExecutionFilterSet", "status"),
        ("AlertRuleFilterSet", "enabled"),
    } <= checked
