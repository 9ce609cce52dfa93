import pytest
from tests.teammemory.test_api import BUILDS, body

pytestmark = pytest.mark.django_db

@pytest.mark.parametrize("over", [
    {"tokens": "5"}, {"tokens": 5.0}, {"tokens": 5.5}, {"tokens": True}, {"tokens": None}, {"tokens": -1},
    {"tokens": 10**9 + 1}, {"tokens": 10**30}, {"tokens": 1e20}, {"tokens": "1e3"}, {"tokens": ""}, {"tokens": []},
    {"quality": "50"}, {"tokens": 0, "cost": 10**40}, {"tokens": 1e308},
])
def test_probe(team_key_client, over):
    r = team_key_client.post(BUILDS, body(client_build_id=f"p{abs(hash(str(over)))}", **over), format="json")
    print(over, r.status_code, r.content[:200])
