"""Every model has an admin screen that an operator can open, search and filter."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from crucible import services

APPS = ["crucible", "marketplace", "teammemory", "observability", "improvement"]
MODELS = [model for app in APPS for model in apps.get_app_config(app).get_models()]


@pytest.fixture
def operator_client(client, db):
    client.force_login(services.user_create(username="operator", password="pw-operator-1", is_superuser=True))
    return client


@pytest.mark.parametrize("model", MODELS, ids=[m._meta.label for m in MODELS])
def test_model_has_a_working_admin_list(operator_client, model):
    assert model in admin.site._registry, f"{model._meta.label} has no admin screen"
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert operator_client.get(url).status_code == 200
    model_admin = admin.site._registry[model]
    if model_admin.search_fields:
        assert operator_client.get(url, {"q": "x' OR 1=1 --"}).status_code == 200


@pytest.mark.parametrize("label", ["teammemory.BuildAgent", "teammemory.BuildError"])
def test_rows_that_feed_rollups_are_view_only_in_the_admin(operator_client, label):
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    request = operator_client.get("/admin/").wsgi_request
    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
