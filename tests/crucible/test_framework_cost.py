"""What DRF, django-filter and django-csp cost an API call (issue 16): work that gives the same
answer for every request is done once per process, and work whose outcome is a no-op is skipped,
without changing any answer."""

from __future__ import annotations

import pytest
from django.db.models import Count
from django.test import override_settings
from django_filters import rest_framework as filters
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from crucible import services
from crucible.api.query import StrictFilterBackend
from crucible.api.serializers import StaticFieldsMixin
from crucible.api.views import TeamFilterSet, TeamSerializer
from crucible.models import Team

pytestmark = pytest.mark.django_db

TEAMS = "/api/v1/teams/"


# --- the FilterSet, built only when the query string names one of its filters ---------------------


@pytest.fixture
def built_filtersets(monkeypatch):
    """The FilterSet classes instantiated during the test."""
    built = []
    original = filters.FilterSet.__init__

    def spy(self, *args, **kwargs):
        built.append(type(self))
        original(self, *args, **kwargs)

    monkeypatch.setattr(filters.FilterSet, "__init__", spy)
    return built


@pytest.fixture
def three_teams(make_user, make_team, client_for):
    user = make_user("three")
    for name, verified in (("Alpha", True), ("Beta", False), ("Gamma", False)):
        services.membership_set(team=make_team(name, is_verified=verified), user=user)
    return client_for(user)


def test_a_list_without_filter_parameters_does_not_build_its_filterset(three_teams, built_filtersets):
    response = three_teams.get(TEAMS, {"ordering": "-name", "page_size": "2"})
    assert response.status_code == 200
    assert [t["name"] for t in response.json()["results"]] == ["Gamma", "Beta"]
    assert response.json()["count"] == 3
    assert built_filtersets == []


@pytest.mark.parametrize(
    "query,names",
    [
        ({"name": "a"}, ["Alpha", "Beta", "Gamma"]),
        ({"name": "mm"}, ["Gamma"]),
        ({"is_verified": "true"}, ["Alpha"]),
        ({"slug": "nothing"}, []),
    ],
)
def test_a_filter_parameter_still_filters(three_teams, built_filtersets, query, names):
    response = three_teams.get(TEAMS, query)
    assert response.status_code == 200
    assert [t["name"] for t in response.json()["results"]] == names
    assert built_filtersets == [TeamFilterSet]


def test_a_bad_filter_value_is_still_a_400_naming_it(three_teams):
    response = three_teams.get(TEAMS, {"is_verified": "maybe"})
    assert response.status_code == 400
    assert "is_verified" in response.json()["fields"]


def test_a_filterset_that_filters_on_its_own_is_always_built(rf, make_team):
    """A FilterSet overriding ``filter_queryset`` (or with a required filter) may narrow the list
    with no parameter given: the backend runs it."""
    make_team("Kept")
    make_team("Dropped")

    class OnlyKept(filters.FilterSet):
        class Meta:
            model = Team
            fields = ["slug"]

        def filter_queryset(self, queryset):
            return super().filter_queryset(queryset).filter(name="Kept")

    class RequiredName(filters.FilterSet):
        name = filters.CharFilter(required=True)

        class Meta:
            model = Team
            fields = ["name"]

    class View:
        filterset_class = OnlyKept

    from rest_framework.request import Request

    request = Request(APIRequestFactory().get("/"))
    kept = StrictFilterBackend().filter_queryset(request, Team.objects.all(), View())
    assert list(kept.values_list("name", flat=True)) == ["Kept"]
    View.filterset_class = RequiredName
    from rest_framework.exceptions import ValidationError

    with pytest.raises(ValidationError):
        StrictFilterBackend().filter_queryset(request, Team.objects.all(), View())


# --- serializers whose fields are built once per process --------------------------------------------


def _static_serializers():
    found, todo = [], [StaticFieldsMixin]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if issubclass(sub, serializers.Serializer) and (
                not issubclass(sub, serializers.ModelSerializer) or hasattr(sub, "Meta")
            ):  # not the shared bases themselves
                found.append(sub)
    return found


def test_team_serializer_uses_the_shared_fields():
    assert TeamSerializer in _static_serializers()
    assert TeamSerializer.static_fields() is not None


@pytest.mark.parametrize("serializer_class", _static_serializers(), ids=lambda c: c.__name__)
def test_shared_fields_are_the_fields_drf_builds(serializer_class, rf):
    """Same names, order and classes as the fields DRF builds for a request's serializer."""
    plan = serializer_class.static_fields()
    if plan is None:
        pytest.skip("uses DRF's path (a field that cannot be shared)")
    fresh = serializer_class(context={"request": rf.get("/")}).fields
    expected = [(name, type(field)) for name, field in fresh.items() if not field.write_only]
    got = [(name, type(field) if field is not None else type(fresh[name])) for name, field, _ in plan]
    assert got == expected


def test_a_team_row_is_what_drf_would_write(make_user, make_team, client_for):
    user = make_user("rows")
    mine = make_team("Rows")
    services.membership_set(team=mine, user=user, role="admin")
    services.membership_set(team=mine, user=make_user("second"))
    response = client_for(user).get(TEAMS)
    row = response.json()["results"][0]
    team = Team.objects.filter(pk=mine.pk).annotate(member_count=Count("memberships")).get()

    class Plain(serializers.ModelSerializer):  # DRF's own path, the same declaration
        role = serializers.SerializerMethodField()
        member_count = serializers.IntegerField(read_only=True)

        class Meta:
            model = Team
            fields = TeamSerializer.Meta.fields

        def get_role(self, team):
            return "admin"

    assert row == Plain(team).data
    assert list(row) == ["id", "name", "slug", "is_verified", "role", "member_count", "created_at"]


def test_a_field_that_cannot_be_shared_keeps_drf_path():
    class WithLink(StaticFieldsMixin, serializers.ModelSerializer):
        url = serializers.HyperlinkedIdentityField(view_name="nowhere")  # needs the request

        class Meta:
            model = Team
            fields = ["id", "name", "url"]

    assert WithLink.static_fields() is None

    class WithCustomOutput(StaticFieldsMixin, serializers.Serializer):
        class Shouting(serializers.CharField):
            def to_representation(self, value):
                return str(value).upper()

        name = Shouting()

    assert WithCustomOutput.static_fields() is None
    assert WithCustomOutput({"name": "quiet"}).data == {"name": "QUIET"}


# --- the CSP header, built once per process ---------------------------------------------------------


def test_api_and_pages_keep_the_same_policy_header(member, client, team_key_client):
    client.force_login(member)
    page = client.get("/")["Content-Security-Policy"]
    api = team_key_client.get(TEAMS)["Content-Security-Policy"]
    assert api == page
    assert "script-src 'self'" in api and "frame-ancestors 'none'" in api


def test_a_changed_policy_setting_changes_the_header(team_key_client):
    before = team_key_client.get(TEAMS)["Content-Security-Policy"]
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'none'"]}}):
        assert team_key_client.get(TEAMS)["Content-Security-Policy"] == "default-src 'none'"
    assert team_key_client.get(TEAMS)["Content-Security-Policy"] == before


@pytest.mark.parametrize("case", ["plain", "nonce used", "per-view update", "exempt", "header already set"])
def test_the_header_is_the_one_django_csp_writes(rf, case):
    from csp import middleware as django_csp
    from csp.constants import NONCE
    from django.http import HttpResponse

    from crucible.middleware import CSPMiddleware

    policy = {"DIRECTIVES": {"default-src": ["'self'"], "script-src": ["'self'", NONCE]}}

    def respond(middleware):
        request = rf.get("/")
        middleware.process_request(request)
        response = HttpResponse("page")
        if case == "nonce used":
            str(request.csp_nonce)
            request._csp_nonce = "fixed"  # the same nonce for both middlewares
        elif case == "per-view update":
            response._csp_update = {"img-src": ["https://example.org"]}
        elif case == "exempt":
            response._csp_exempt = True
        elif case == "header already set":
            response["Content-Security-Policy"] = "default-src 'none'"
        return middleware.process_response(request, response).get("Content-Security-Policy")

    with override_settings(CONTENT_SECURITY_POLICY=policy):
        ours = respond(CSPMiddleware(lambda r: None))
        theirs = respond(django_csp.CSPMiddleware(lambda r: None))
    assert ours == theirs
    if case == "nonce used":
        assert "'nonce-fixed'" in ours


# --- content negotiation, decided once per kind of request ---------------------------------------


@pytest.mark.parametrize(
    "accept,status,content_type",
    [
        ("application/json", 200, "application/json"),
        ("*/*", 200, "application/json"),
        ("text/html", 200, "text/html; charset=utf-8"),
        ("application/json; indent=2", 200, "application/json"),
        ("image/png", 406, "application/json"),
    ],
)
def test_negotiation_answers_as_drf_each_time(team_key_client, accept, status, content_type):
    from crucible.api.negotiation import ContentNegotiation

    ContentNegotiation._chosen.clear()
    for _ in range(2):  # decided, then remembered
        response = team_key_client.get(TEAMS, HTTP_ACCEPT=accept)
        assert response.status_code == status
        assert response["Content-Type"] == content_type
        assert (b'\n  "count"' in response.content) == accept.endswith("indent=2")  # the media type's parameter
    assert (accept != "image/png") == any(key[2] == accept for key in ContentNegotiation._chosen)


def test_an_unknown_format_is_still_a_404(team_key_client):
    assert team_key_client.get(TEAMS, {"format": "xml"}).status_code == 404
    assert team_key_client.get(TEAMS, {"format": "xml"}).status_code == 404
    assert team_key_client.get(TEAMS, {"format": "json"})["Content-Type"] == "application/json"
