import pytest

pytestmark = pytest.mark.django_db


def test_an_unknown_query_parameter_of_test_variant_is_refused(team_key_client):
    # negative_data_rejection: with a form body, unknown query parameters were ignored (200);
    # the schema allows only the three fields there.
    response = team_key_client.post(
        "/api/improve/test-variant?colour=red", {"agent_name": "p", "variant_prompt": "x"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["colour"]
    response = team_key_client.post("/api/improve/test-variant?agent_name=p&variant_prompt=x")
    assert response.status_code == 200, response.content
