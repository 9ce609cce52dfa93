"""The schema says what the API enforces, and the API refuses what the schema calls invalid
(issue 15, item 12). Each case was found by schemathesis's command line with every check against
the project's server (tests/hardening/fuzz_live.py, docs/reliability.md)."""

import pytest

from crucible.limits import BIGINT_MAX

pytestmark = pytest.mark.django_db

CREATE = "/api/marketplace/create-agent"


@pytest.fixture
def schema(member_client):
    return member_client.get("/api/v1/schema/?format=json").json()


def _parameter(schema, path, name):
    return next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name)["schema"]


def test_bodies_that_refuse_unknown_fields_say_so(schema, team_key_client):
    # positive_data_acceptance: the schema allowed any extra property, the server refused them.
    component = schema["components"]["schemas"]["MarketplaceLegacyCreateAgentRequest"]
    assert component["additionalProperties"] is False
    response = team_key_client.post(CREATE, {"name": "A", "system_prompt": "p", "colour": 1}, format="json")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["colour"]


def test_query_bounds_are_in_the_schema(schema):
    # positive_data_acceptance: ?page=0, ?min_rating=-1e-254, ?min_stars=0 are 400s the schema allowed.
    assert _parameter(schema, "/api/marketplace/search", "page")["minimum"] == 1
    assert _parameter(schema, "/api/marketplace/search", "page_size")["minimum"] == 1
    rating = _parameter(schema, "/api/marketplace/search", "min_rating")
    assert (rating["minimum"], rating["maximum"]) == (0, 5)
    rating = _parameter(schema, "/api/v1/marketplace/agents/", "min_rating")
    assert (rating["minimum"], rating["maximum"]) == (0, 5)
    assert _parameter(schema, "/api/v1/marketplace/ratings/", "min_stars")["minimum"] == 1
    agent = _parameter(schema, "/api/v1/marketplace/installs/", "agent")
    assert agent == {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX}
    # negative_data_rejection / positive_data_acceptance: django-filter's implicit 1e50 bound and
    # Django's refusal of NUL characters were 400s the schema did not announce.
    assert _parameter(schema, "/api/v1/observability/traces/", "min_duration_ms")["maximum"] == 1e50
    assert _parameter(schema, "/api/v1/observability/traces/", "user")["pattern"] == "^[^\x00]*$"


@pytest.mark.parametrize("value", ["-3.792898539298987e%2B142", str(BIGINT_MAX + 1), "4.7387504806484296e%2B16", "0"])
@pytest.mark.parametrize(
    "path", ["/api/v1/marketplace/installs/", "/api/v1/marketplace/versions/", "/api/v1/improvement/experiments/"]
)
def test_an_id_filter_outside_the_ids_is_a_400_naming_it(team_key_client, path, value):
    # Was 400 "The database refused a value in this request." naming no field (the id overflowed bigint).
    response = team_key_client.get(f"{path}?agent={value}")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["agent"]


def test_an_id_filter_still_finds_by_id(team_key_client):
    assert team_key_client.get(f"/api/v1/marketplace/installs/?agent={BIGINT_MAX}").json()["count"] == 0
    assert team_key_client.get("/api/v1/marketplace/installs/?agent=1").status_code == 200


def test_an_empty_form_value_is_refused_not_read_as_null(team_key_client):
    # negative_data_rejection: version "" (minLength 1) in a multipart install was read as null (the
    # latest version) and installed: 201.
    agent = team_key_client.post(CREATE, {"name": "Formed", "system_prompt": "p"}, format="json").json()["agent_id"]
    response = team_key_client.post(
        "/api/v1/marketplace/installs/", {"agent": str(agent), "version": ""}, format="multipart"
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["version"]
    # Leaving the field out still means "the latest version".
    response = team_key_client.post("/api/v1/marketplace/installs/", {"agent": str(agent)}, format="multipart")
    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize(
    ("value", "fmt"), [(0, "json"), (1, "json"), ("yes", "json"), ("0", "multipart"), ("on", "multipart")]
)
def test_a_boolean_is_true_or_false(team_key_client, value, fmt):
    # negative_data_rejection: is_public=0 in a multipart body (an integer where the schema says
    # boolean) created the agent; DRF reads 0, 1, "yes", "on" as booleans.
    response = team_key_client.post(CREATE, {"name": "B", "system_prompt": "p", "is_public": value}, format=fmt)
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["is_public"]


@pytest.mark.parametrize(("value", "fmt"), [(False, "json"), ("false", "multipart"), ("true", "multipart")])
def test_true_and_false_are_still_booleans(team_key_client, value, fmt):
    response = team_key_client.post(CREATE, {"name": "C", "system_prompt": "p", "is_public": value}, format=fmt)
    assert response.status_code == 201, response.content


BUILD = {
    "client_build_id": "ci-1",
    "status": "succeeded",
    "started_at": "2026-11-01T10:00:00+00:00",
    "finished_at": "2026-11-01T10:05:00+00:00",
}


@pytest.mark.parametrize(("field", "value"), [("tokens", "5"), ("quality", "50"), ("tokens", True)])
def test_a_number_in_a_json_body_is_a_number(team_key_client, field, value):
    # negative_data_rejection: {"tokens": "5"} (text where the schema says integer) stored a build
    # (201); the case the earlier 150-example run could not show, as schemathesis hid the value of
    # a field named like a token.
    response = team_key_client.post("/api/v1/teammemory/builds/", {**BUILD, field: value}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]


def test_numbers_in_query_strings_and_forms_are_still_read(team_key_client):
    assert team_key_client.get("/api/marketplace/search?page=1&page_size=5&min_rating=0").status_code == 200
    response = team_key_client.post("/api/v1/teammemory/builds/", {**BUILD, "tokens": "5"}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["tokens"] == 5


def test_a_fraction_on_an_integer_filter_is_refused(team_key_client):
    # negative_data_rejection: ?stars=0.5 (the schema says integer) answered 200 with no ratings.
    response = team_key_client.get("/api/v1/marketplace/ratings/?stars=0.5")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["stars"]
    assert team_key_client.get("/api/v1/marketplace/ratings/?stars=5").status_code == 200


def test_a_json_null_body_is_not_an_empty_one(team_key_client):
    # negative_data_rejection: a body of `null` was read as "no options" and installed (200/201).
    agent = team_key_client.post(CREATE, {"name": "Nulled", "system_prompt": "p"}, format="json").json()["agent_id"]
    path = f"/api/v1/marketplace/agents/{agent}/install/"
    response = team_key_client.post(path, b"null", content_type="application/json")
    assert response.status_code == 400, response.content
    assert team_key_client.post(path, b"", content_type="application/json").status_code in (200, 201)


def test_a_page_past_any_offset_is_not_there(team_key_client):
    # positive_data_acceptance: ?page=519354235420548288 overflowed PostgreSQL's OFFSET (400 naming
    # no field); a page past the rows is a 404, as for any page past the end.
    response = team_key_client.get("/api/v1/marketplace/installs/?page=519354235420548288&page_size=100")
    assert response.status_code == 404, response.content


def test_a_method_the_view_does_not_route_is_a_405(team, team_key_client):
    # unsupported_method: TRACE on a session of two traces was a 500 (the write check loaded "the
    # object" of a lookup that matches several rows); on other objects a 404 instead of 405.
    from tests.observability.trace_factory import make_trace

    make_trace(team, trace_id="1" * 32, session_id="chat-9")
    make_trace(team, trace_id="2" * 32, session_id="chat-9")
    for method, path in [
        ("TRACE", "/api/v1/observability/sessions/chat-9/"),
        ("PUT", "/api/v1/observability/sessions/chat-9/"),
        ("TRACE", f"/api/v1/observability/traces/{'1' * 32}/"),
    ]:
        response = team_key_client.generic(method, path)
        assert response.status_code == 405, (method, path, response.content)


def test_a_multipart_body_without_its_boundary_is_a_400(team_key_client):
    # Was a 500: the empty-body rule of the install view read request.body after the parser had
    # read the stream.
    agent = team_key_client.post(CREATE, {"name": "Bound", "system_prompt": "p"}, format="json").json()["agent_id"]
    response = team_key_client.post(
        f"/api/v1/marketplace/agents/{agent}/install/", b'{"version": "0"}', content_type="multipart/form-data"
    )
    assert response.status_code == 400, response.content


def test_the_payloads_flag_is_one_boolean(team, team_key_client):
    # negative_data_rejection: ?payloads=null&payloads=null was read as false (200).
    from tests.observability.trace_factory import make_trace

    make_trace(team, trace_id="3" * 32)
    path = f"/api/v1/observability/traces/{'3' * 32}/"
    for query in ["payloads=null", "payloads=true&payloads=true", "payloads=yes"]:
        response = team_key_client.get(f"{path}?{query}")
        assert response.status_code == 400 and list(response.json()["fields"]) == ["payloads"], query
    assert team_key_client.get(f"{path}?payloads=true").status_code == 200


def test_a_bound_the_schema_calls_a_number_takes_a_fraction(team_key_client):
    # The integer-filter rule follows the schema: quality bounds are numbers (extend_schema_field).
    response = team_key_client.get("/api/v1/teammemory/builds/?quality_min=55.5&quality_max=62.5")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("field", "part"),
    [("errors", '[{"type": "Timeout", "message": "slow"}]'), ("stack", '{"language": "python"}')],
)
def test_an_object_sent_as_a_form_part_is_refused_not_dropped(team_key_client, field, part):
    # negative_data_rejection: a multipart build whose `errors` part held JSON text was stored
    # (201) with `errors: []`, the part silently dropped; the same for `stack`.
    response = team_key_client.post("/api/v1/teammemory/builds/", {**BUILD, field: part}, format="multipart")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]
    assert team_key_client.get("/api/v1/teammemory/builds/").json()["results"] == []


def test_suggestions_take_a_json_body_only(team_key_client):
    # negative_data_rejection: in a form, a `prefer` word such as "-61862268962389424" cannot be
    # told from a number, so the operation takes JSON alone (and the schema says so).
    response = team_key_client.post(
        "/api/v1/teammemory/suggestions/", {"requirements": "a django app"}, format="multipart"
    )
    assert response.status_code == 415, response.content
    response = team_key_client.post("/api/v1/teammemory/suggestions/", {"requirements": "a django app"}, format="json")
    assert response.status_code == 200, response.content


def test_an_empty_form_value_for_a_nullable_field_is_refused_not_read_as_null(team_key_client):
    # negative_data_rejection: a multipart mute with `until=` (empty; the schema says date-time) was
    # read as null and unmuted the rule (200).
    rule = {"name": "errors", "metric": "error_rate", "window_minutes": 15, "critical_threshold": 0.2}
    path = f"/api/v1/alerts/rules/{team_key_client.post('/api/v1/alerts/rules/', rule, format='json').json()['id']}/"
    until = "2999-01-01T00:00:00Z"
    assert team_key_client.post(f"{path}mute/", {"until": until}, format="multipart").status_code == 200
    response = team_key_client.post(f"{path}mute/", {"until": ""}, format="multipart")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["until"]
    assert team_key_client.get(path).json()["muted_until"] == until
    # Null is sent in JSON, and still unmutes.
    response = team_key_client.post(f"{path}mute/", {"until": None}, format="json")
    assert response.status_code == 200 and response.json()["muted_until"] is None


def test_no_api_filter_is_a_choice_among_objects():
    # positive_data_acceptance: ?webhook=0 on /api/v1/webhook-deliveries/ (the schema said any
    # integer) was a 400 "Select a valid choice": django-filter's filter of a foreign key checks
    # the id against a queryset. Id filters are crucible.filters.IdFilter (bounds in the schema).
    from django_filters import ModelChoiceFilter, ModelMultipleChoiceFilter

    from tests.hardening.discovery import api_routes

    choices = {
        f"{route.view_class.__name__}.{name}"
        for route in api_routes()
        if getattr(route.view_class, "filterset_class", None) is not None
        for name, declared in route.view_class.filterset_class.base_filters.items()
        if isinstance(declared, ModelChoiceFilter | ModelMultipleChoiceFilter)
    }
    assert not choices


def test_the_period_rule_is_in_the_schema_and_named_in_the_answer(schema, team_key_client):
    # positive_data_acceptance: /api/dashboard/agents?start=2000-01-01T00:00:00Z (the end defaults to
    # now) is a 400 naming `end`: a rule across two parameters that OpenAPI 3.0 cannot state, so the
    # description says it (and tests/hardening/schemathesis.toml allows the 400).
    end = next(p for p in schema["paths"]["/api/dashboard/agents"]["get"]["parameters"] if p["name"] == "end")
    assert "At most 366 days after the start." in end["description"]
    response = team_key_client.get("/api/dashboard/agents?start=2000-01-01T00%3A00%3A00Z")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["end"]


def test_an_empty_form_value_is_not_read_as_the_default(team_key_client):
    # negative_data_rejection: `category=` (empty; the schema's enum has no "") in a form body created
    # the agent in the default category (201).
    response = team_key_client.post(
        "/api/v1/marketplace/agents/", {"name": "Empty", "system_prompt": "p", "category": ""}, format="multipart"
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["category"]
    response = team_key_client.post("/api/v1/marketplace/agents/", {"name": "Left out", "system_prompt": "p"})
    assert response.status_code == 201, response.content
    assert response.json()["category"] == "other"


def test_a_list_of_text_takes_text_items_only(team_key_client):
    # negative_data_rejection: {"prefer": [0]} (an integer where the schema says an array of strings)
    # was read as ["0"] and answered 200.
    body = {"requirements": "a django app", "prefer": ["django", 0]}
    response = team_key_client.post("/api/v1/teammemory/suggestions/", body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["prefer.1"]


def test_money_input_is_a_number_or_its_text_in_the_schema(schema, team_key_client):
    # negative_data_rejection: {"cost": 0} on a build report was a JSON number where the schema said
    # a decimal string, and was stored (as it should be: the schema now says a number or its text).
    cost = schema["components"]["schemas"]["BuildReportRequest"]["properties"]["cost"]
    number, text = cost["oneOf"]
    assert number["type"] == "number" and number["minimum"] == 0 and text["type"] == "string"
    for number, value in enumerate((0, "0.5")):
        body = {**BUILD, "client_build_id": f"money-{number}", "cost": value}
        response = team_key_client.post("/api/v1/teammemory/builds/", body, format="json")
        assert response.status_code == 201, response.content
    response = team_key_client.post("/api/v1/teammemory/builds/", {**BUILD, "cost": True}, format="json")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["cost"]


def test_a_text_query_parameter_of_a_serializer_refuses_nul_and_says_so(schema, team_key_client):
    # schemathesis: ``?query=%00`` on the earlier search route answered 400 (DRF's CharField refuses
    # NUL) while the schema promised any text; filters already carried the pattern.
    assert _parameter(schema, "/api/marketplace/search", "query")["pattern"] == "^[^\x00]*$"
    answer = team_key_client.get("/api/marketplace/search", {"query": "a\x00b"})
    assert answer.status_code == 400 and "query" in answer.json()["fields"]
