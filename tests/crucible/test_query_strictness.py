"""Query strings are held to the schema (issue 15, item 12): what the OpenAPI schema calls invalid
is refused with a 400 naming the parameter, and every operation documents the error answers it
can give in the one error shape."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("retired=", "retired"),  # django-filter skipped an empty boolean
        ("retired=null", "retired"),  # ... and one it could not read
        ("retired=true&retired=false", "retired"),  # the last one silently won
        ("page_size=-3", "page_size"),  # DRF used the default page size
        ("page_size=0", "page_size"),
        ("page_size=ten", "page_size"),
        ("page_size=5&page_size=6", "page_size"),
        ("page=", "page"),  # DRF read an empty page number as the first page
        ("page=1&page=2", "page"),
    ],
)
def test_invalid_query_parameters_are_refused_by_name(team_key_client, query, field):
    response = team_key_client.get(f"/api/v1/improvement/variants/?{query}")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]


def test_valid_query_parameters_still_work(team_key_client):
    assert team_key_client.get("/api/v1/improvement/variants/?retired=false&page_size=5").status_code == 200
    # A larger page than the maximum is cut to it, as before.
    assert team_key_client.get("/api/v1/teams/?page_size=100000").status_code == 200
    # A text filter may be empty (the schema allows an empty string).
    assert team_key_client.get("/api/v1/marketplace/agents/?q=").status_code == 200


def test_every_operation_documents_its_error_answers(member_client):
    schema = member_client.get("/api/v1/schema/?format=json").json()
    assert "Error" in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            codes = set(operation["responses"])
            assert {"401", "403", "404", "429", "503"} <= codes, (method, path)
            if method in {"post", "put", "patch"}:
                assert {"400", "413", "415"} <= codes, (method, path)
            error = operation["responses"]["404"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}


def test_page_size_is_documented_as_at_least_one(member_client):
    schema = member_client.get("/api/v1/schema/?format=json").json()
    parameters = schema["paths"]["/api/v1/teams/"]["get"]["parameters"]
    page_size = next(p for p in parameters if p["name"] == "page_size")
    assert page_size["schema"]["minimum"] == 1


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/observability/dashboard/?range=", "range"),  # DRF read an empty choice as absent
        ("/api/dashboard/agents?range=", "range"),  # the earlier route shares the period query
        ("/api/v1/observability/dashboard/?start=", "start"),
        ("/api/v1/observability/dashboard/?status=", "status"),
        ("/api/v1/observability/dashboard/?range=24h&range=7d", "range"),  # the last one silently won
    ],
)
def test_empty_or_repeated_period_parameters_are_refused_by_name(team_key_client, path, field):
    response = team_key_client.get(path)
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]


def test_period_parameters_given_once_still_work(team_key_client):
    assert team_key_client.get("/api/v1/observability/dashboard/?range=7d&agent=").status_code == 200
    assert team_key_client.get("/api/dashboard/agents?range=24h").status_code == 200


@pytest.mark.parametrize("page", ["1%0D", "%201", "%2B1", "1.0", "١"])
def test_a_page_number_is_plain_digits(team_key_client, page):
    # int() read "1\r", " 1", "+1" and Arabic-Indic digits as page 1 (found by the 150-example run).
    response = team_key_client.get(f"/api/v1/observability/prices/?page={page}")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["page"]


def test_a_quality_bound_may_be_any_number_as_the_schema_says(team_key_client, member_client):
    assert team_key_client.get("/api/v1/teammemory/builds/?quality_max=5.6e-218").status_code == 200
    schema = member_client.get("/api/v1/schema/?format=json").json()
    params = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/teammemory/builds/"]["get"]["parameters"]}
    assert params["quality_max"] == {"type": "number", "minimum": 0, "maximum": 100}


@pytest.mark.parametrize(
    ("path", "query", "named"),
    [
        ("/api/v1/observability/executions/", "ordering=bogus", "'bogus'"),  # DRF dropped it: newest first
        ("/api/v1/observability/executions/", "ordering=-cost", "'-cost'"),  # a field, but not one it sorts by
        ("/api/v1/observability/executions/", "ordering=-duration_ms,", "''"),  # an empty term
        ("/api/v1/observability/executions/", "ordering=--started_at", "'--started_at'"),  # DRF drops it too
        ("/api/v1/observability/traces/", "ordering=started_at,nope", "'nope'"),
        ("/api/v1/marketplace/agents/", "ordering=secret_field", "'secret_field'"),  # the search's own ordering
    ],
)
def test_an_ordering_the_list_does_not_sort_by_is_refused_by_name(team_key_client, path, query, named):
    response = team_key_client.get(f"{path}?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body["fields"]) == ["ordering"]
    assert named in body["fields"]["ordering"][0]


def test_the_orderings_a_list_takes_work_and_are_in_the_schema(team_key_client, member_client):
    for query in ["ordering=-duration_ms", "ordering=duration_ms", "ordering=started_at", "ordering=%20-started_at"]:
        assert team_key_client.get(f"/api/v1/observability/executions/?{query}").status_code == 200, query
    assert team_key_client.get("/api/v1/marketplace/agents/?ordering=-created_at").status_code in (200,)
    schema = member_client.get("/api/v1/schema/?format=json").json()
    parameters = schema["paths"]["/api/v1/observability/executions/"]["get"]["parameters"]
    ordering = next(p for p in parameters if p["name"] == "ordering")
    assert ordering["schema"]["enum"] == ["started_at", "-started_at", "duration_ms", "-duration_ms"]


def _api_views():
    from django.urls import URLResolver, get_resolver

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif getattr(pattern.callback, "cls", None) is not None:
                yield pattern.callback.cls

    return set(walk(get_resolver().url_patterns))


def test_a_cursor_paginated_list_sorts_only_by_fields_that_cannot_be_empty():
    """The API sorts an empty value below every value (``crucible.lists.ordering_terms``), but the
    keyset cursor orders by the bare field names and pages by ``(field, id) < (value, id)``, which
    no NULL passes: a nullable sort key there would drop rows. Every cursor-paginated list sorts by
    fields that cannot be NULL."""
    from crucible.api.pagination import CursorPagination

    checked = []
    for view in _api_views():
        paginator = getattr(view, "pagination_class", None)
        if not (isinstance(paginator, type) and issubclass(paginator, CursorPagination)):
            continue
        model = view.serializer_class.Meta.model
        orderings = list(getattr(view, "ordering_fields", None) or [])
        for name in (*orderings, *([view.cursor_ordering] if getattr(view, "cursor_ordering", None) else [])):
            field = model._meta.get_field(name.lstrip("-"))
            assert not field.null, (view.__name__, name)
            checked.append((view.__name__, name))
    assert len({name for name, _ in checked}) >= 4, checked  # executions, traces, builds, results
