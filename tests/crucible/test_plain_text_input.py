"""The fast path for small text bodies (crucible.api.serializers.plain_text_input): it takes a body
exactly when the serializer would take it unchanged, and leaves everything else to the serializer,
so the answers (values and the one error shape) never differ."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from crucible.api.serializers import StrictFieldsMixin, plain_text_input
from improvement.api import serializers as improvement_serializers


class Plain(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=10)
    note = serializers.CharField(max_length=5, required=False)
    tag = serializers.CharField(min_length=2, max_length=4, required=False, allow_blank=True)


class WithRule(Plain):
    def validate_name(self, value):
        return value.upper()


class WithNumber(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=10)
    size = serializers.IntegerField(required=False)


BODIES = [
    {"name": "abc"},
    {"name": "abc", "note": "hi", "tag": "xy"},
    {"name": "abc", "tag": ""},
    {"name": "0123456789"},
    {"name": "01234567890"},  # too long
    {"name": "abc", "tag": "x"},  # too short
    {"name": ""},
    {"name": "   "},
    {"name": " abc "},  # DRF strips it: left to the serializer
    {"name": "a\x00b"},
    {"name": "a\ud800b"},
    {"name": 5},
    {"name": True},
    {"name": None},
    {"name": ["abc"]},
    {"name": "abc", "nmae": "typo"},
    {"note": "hi"},
    {},
    ["abc"],
    "abc",
    None,
]


def _by_serializer(serializer_class, body):
    serializer = serializer_class(data=body)
    return dict(serializer.validated_data) if serializer.is_valid() else None


@pytest.mark.parametrize("body", BODIES, ids=[repr(b) for b in BODIES])
def test_the_fast_path_takes_only_what_the_serializer_takes_unchanged(body):
    fast = plain_text_input(Plain, body)
    if fast is not None:
        assert fast == _by_serializer(Plain, body) == body


def test_the_usual_bodies_take_the_fast_path():
    assert plain_text_input(Plain, {"name": "abc", "note": "hi"}) == {"name": "abc", "note": "hi"}
    select = improvement_serializers.SelectInputSerializer
    body = {"experiment": "code-review-tone", "unit": "user-42", "context": "python"}
    assert plain_text_input(select, body) == body == _by_serializer(select, body)
    assert plain_text_input(improvement_serializers.SelectUnitSerializer, {}) == {}


def test_serializers_that_do_more_than_text_fields_get_no_fast_path():
    assert plain_text_input(WithRule, {"name": "abc"}) is None  # its rule must run
    assert plain_text_input(WithNumber, {"name": "abc"}) is None


def test_a_form_body_goes_through_the_serializer():
    from django.http import QueryDict

    assert plain_text_input(Plain, QueryDict("name=abc")) is None


@pytest.mark.django_db
def test_select_answers_bad_bodies_as_before(team_key_client):
    url = "/api/v1/improvement/select/"
    padded = team_key_client.post(url, {"experiment": "  nothing  "}, format="json")
    assert padded.status_code == 404 and "'nothing'" in padded.json()["message"]  # stripped, as DRF does
    typo = team_key_client.post(url, {"experiment": "x", "unti": "u"}, format="json")
    assert typo.status_code == 400 and typo.json()["fields"] == {"unti": ["Unknown field."]}
    long = team_key_client.post(url, {"experiment": "x" * 101}, format="json")
    assert long.status_code == 400 and list(long.json()["fields"]) == ["experiment"]
