"""Every list and detail answer of the API is written by a serializer whose fields are built once
per process (``crucible.api.serializers.StaticFieldsMixin``, through ``OutputSerializer`` and
``OutputModelSerializer``; issue 16), and writes exactly what DRF's own path writes.

Generated from the URL configuration and the OpenAPI schema, with one object of every kind of
team A (``tests/hardening/registry.py``): a new list or detail endpoint is covered without anyone
listing it, and fails here when its serializer does not use the shared base."""

from __future__ import annotations

import pytest

from crucible.api.serializers import StaticFieldsMixin
from tests.hardening import discovery
from tests.hardening.conftest import _module_world, world  # noqa: F401  (team A's objects)
from tests.hardening.registry import values_for_operation

pytestmark = pytest.mark.django_db

READ_ACTIONS = ("list", "retrieve")

# Serializers whose fields cannot be shared (each says why); they keep DRF's path.
DRF_PATH: dict[str, str] = {}


def _read_views():
    """{view class: serializer class} of every API route that lists or shows objects."""
    found = {}
    for route in discovery.api_routes():
        actions = getattr(route.callback, "actions", None) or {}
        view = route.view_class
        if actions.get("get") in READ_ACTIONS and getattr(view, "serializer_class", None) is not None:
            found[view] = view.serializer_class
    return found


def _read_operations():
    """Schema GET operations answered by a list or detail action."""
    ops = []
    for op in discovery.operations():
        match = discovery.resolve_template(op.path) if op.method == "get" else None
        actions = getattr(match.func, "actions", None) or {} if match else {}
        if actions.get("get") in READ_ACTIONS:
            ops.append(op)
    return ops


def test_the_read_views_are_found():
    assert len(_read_views()) >= 10  # the walk itself works


def test_every_list_and_detail_serializer_uses_the_shared_base():
    missing = sorted(
        f"{view.__module__}.{view.__name__}: {serializer.__name__}"
        for view, serializer in _read_views().items()
        if not issubclass(serializer, StaticFieldsMixin)
    )
    assert missing == [], f"derive these from OutputSerializer / OutputModelSerializer: {missing}"


def test_their_fields_are_shared_unless_listed_with_the_reason():
    drf_path = sorted(
        serializer.__name__
        for serializer in set(_read_views().values())
        if issubclass(serializer, StaticFieldsMixin) and serializer.static_fields() is None
    )
    assert drf_path == sorted(DRF_PATH), "a field that cannot be shared: make it value-only, or list it with why"


@pytest.mark.parametrize("op", [pytest.param(op, id=op.id) for op in _read_operations()])
def test_the_answer_is_the_one_drf_writes(world, op, monkeypatch):  # noqa: F811
    from rest_framework.test import APIClient

    values = values_for_operation(world, op)
    assert values is not None
    client = APIClient()
    client.force_login(world.owner_a)
    path = discovery.fill(op.path, values)
    shared = client.get(path)
    assert shared.status_code == 200, shared.content[:300]
    monkeypatch.setattr(StaticFieldsMixin, "static_fields", classmethod(lambda cls: None))
    drf = client.get(path)
    assert drf.status_code == 200
    assert shared.json() == drf.json()
    serializer = getattr(discovery.resolve_template(op.path).func.cls, "serializer_class", None)
    if serializer is not None and issubclass(serializer, StaticFieldsMixin):
        body = shared.json()
        rows = body.get("results", [body]) if isinstance(body, dict) else body
        assert rows, f"{op.id}: team A's world has nothing to show here, so nothing was compared"


def test_a_field_that_cannot_be_shared_keeps_drf_path():
    from rest_framework import serializers

    from crucible.api.serializers import OutputSerializer

    class Linked(OutputSerializer):
        url = serializers.HyperlinkedIdentityField(view_name="nowhere")

    class ByRequest(OutputSerializer):
        name = serializers.CharField()

        def get_fields(self):
            return super().get_fields()

    class NestedMethod(OutputSerializer):
        inner = ByRequest()

    assert Linked.static_fields() is None
    assert ByRequest.static_fields() is None
    assert NestedMethod.static_fields() is None
    assert ByRequest({"name": "kept"}).data == {"name": "kept"}


def test_nested_lists_and_related_keys_are_shared():
    from rest_framework import serializers

    from crucible.api.serializers import OutputModelSerializer, OutputSerializer
    from crucible.models import ApiKey

    class Inner(serializers.Serializer):
        n = serializers.IntegerField()

    class Outer(OutputSerializer):
        items = Inner(many=True)
        tags = serializers.ListField(child=serializers.CharField())
        extra = serializers.DictField(child=serializers.IntegerField())

    class Key(OutputModelSerializer):
        class Meta:
            model = ApiKey
            fields = ["id", "team", "created_by"]

    assert Outer.static_fields() is not None
    assert Key.static_fields() is not None
    data = {"items": [{"n": 1}, {"n": 2}], "tags": ["a"], "extra": {"x": 3}}
    assert Outer(data).data == {"items": [{"n": 1}, {"n": 2}], "tags": ["a"], "extra": {"x": 3}}
