"""What an API request costs on its way to the view (issue 16): a verified key is remembered for a
bounded time, a page that shows its own total needs no COUNT, the statement timeout is sent once
per connection, busy connections skip the health check, and API-key calls skip browser state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crucible import dbhealth, keycache, services
from crucible.models import ApiKey, Team

pytestmark = pytest.mark.django_db

TEAMS = "/api/v1/teams/"


def _key_lookups(queries) -> list[str]:
    return [q["sql"] for q in queries if 'FROM "crucible_apikey"' in q["sql"]]


def _later(monkeypatch, seconds: float) -> None:
    """Move the key cache's clock ``seconds`` ahead."""
    now = keycache.time.monotonic()
    monkeypatch.setattr(keycache.time, "monotonic", lambda: now + seconds)


# --- the key --------------------------------------------------------------------------------------


def test_a_key_verified_a_moment_ago_is_not_looked_up_again(key_client, team):
    client = key_client(team)
    with CaptureQueriesContext(connection) as first:
        assert client.get(TEAMS).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get(TEAMS).status_code == 200
    assert len(_key_lookups(first.captured_queries)) == 1
    assert _key_lookups(second.captured_queries) == []


def test_a_small_list_with_a_known_key_costs_two_queries(key_client, team, django_assert_max_num_queries):
    client = key_client(team)
    client.get(TEAMS)
    with django_assert_max_num_queries(2):  # the shared throttle counter, the page of teams
        response = client.get(TEAMS)
    assert response.status_code == 200 and response.json()["count"] == 1


def test_select_with_a_known_key_costs_three_queries(team_key_client, team, django_assert_max_num_queries):
    from improvement import services as improvement

    improvement.experiment_create(
        team=team,
        name="cost",
        status="running",
        variants=[{"name": n, "prompt": f"Prompt {n}", "is_control": n == "a"} for n in ("a", "b")],
    )
    body = {"experiment": "cost"}
    assert team_key_client.post("/api/v1/improvement/select/", body, format="json").status_code == 201
    # the throttle counter, the experiment with its variants, the assignment with its counters
    with django_assert_max_num_queries(3):
        assert team_key_client.post("/api/v1/improvement/select/", body, format="json").status_code == 201


def test_select_with_a_unit_key_costs_three_queries_and_two_for_a_returning_unit(
    team_key_client, team, django_assert_max_num_queries
):
    from improvement import services as improvement

    experiment = improvement.experiment_create(
        team=team,
        name="cost-unit",
        status="running",
        variants=[{"name": n, "prompt": f"Prompt {n}", "is_control": n == "a"} for n in ("a", "b")],
    )
    url = f"/api/v1/improvement/experiments/{experiment.pk}/select/"
    first = team_key_client.post(url, {"unit": "user-1"}, format="json")
    assert first.status_code == 201
    # a new unit: the throttle counter, the experiment with its variants and the unit's variant,
    # the unit's claim with the assignment and its counters
    with django_assert_max_num_queries(3):
        assert team_key_client.post(url, {"unit": "user-2"}, format="json").status_code == 201
    # a returning unit: the throttle counter, then one statement that reads the experiment and
    # writes the assignment and its counter for the unit's variant (the same variant)
    with django_assert_max_num_queries(2):
        again = team_key_client.post(url, {"unit": "user-1"}, format="json")
    assert again.status_code == 201 and again.json()["returning_unit"] is True
    assert again.json()["variant"]["id"] == first.json()["variant"]["id"]


def test_a_key_revoked_here_stops_working_at_once(key_client, team):
    client = key_client(team)
    assert client.get(TEAMS).status_code == 200
    services.api_key_revoke(key=ApiKey.objects.get(team=team))
    assert client.get(TEAMS).status_code == 401


def test_a_key_revoked_elsewhere_stops_working_within_the_cache_seconds(key_client, team, settings, monkeypatch):
    settings.API_KEY_CACHE_SECONDS = 10
    client = key_client(team)
    assert client.get(TEAMS).status_code == 200
    # another process revokes it: this process's memory is not told
    ApiKey.objects.filter(team=team).update(revoked_at=timezone.now())
    _later(monkeypatch, 9)
    assert client.get(TEAMS).status_code == 200  # the documented bound: up to 10 s
    _later(monkeypatch, 10.5)
    assert client.get(TEAMS).status_code == 401


def test_a_deleted_team_locks_its_keys_out_within_the_bound(key_client, team, monkeypatch):
    client = key_client(team)
    assert client.get(TEAMS).status_code == 200
    Team.objects.filter(pk=team.pk).delete()
    _later(monkeypatch, 11)
    assert client.get(TEAMS).status_code == 401


def test_with_the_cache_off_every_request_looks_the_key_up(key_client, team, settings):
    settings.API_KEY_CACHE_SECONDS = 0
    client = key_client(team)
    assert client.get(TEAMS).status_code == 200
    ApiKey.objects.filter(team=team).update(revoked_at=timezone.now())
    assert client.get(TEAMS).status_code == 401


def test_requests_get_their_own_copy_of_the_remembered_key(key_client, team):
    client = key_client(team)
    first = client.get(TEAMS).wsgi_request
    second = client.get(TEAMS).wsgi_request
    assert first.auth.pk == second.auth.pk
    assert first.auth is not second.auth and first.auth.team is not second.auth.team


def test_last_used_moves_at_most_once_a_minute_in_the_database(key_client, team, monkeypatch):
    client = key_client(team)
    key = ApiKey.objects.get(team=team)
    client.get(TEAMS)
    key.refresh_from_db()
    first_use = key.last_used_at
    assert first_use is not None
    # the cache has expired: the key is looked up again, but used less than a minute ago
    _later(monkeypatch, 11)
    with CaptureQueriesContext(connection) as queries:
        client.get(TEAMS)
    assert not [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "crucible_apikey"')]
    key.refresh_from_db()
    assert key.last_used_at == first_use
    # a minute later (another process may have moved it meanwhile: the row decides)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first_use - timedelta(minutes=2))
    _later(monkeypatch, 22)
    client.get(TEAMS)
    key.refresh_from_db()
    assert key.last_used_at > first_use - timedelta(minutes=2)


# --- pagination -----------------------------------------------------------------------------------


def _counts(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("SELECT COUNT(*)")]


@pytest.fixture
def five_teams(make_user, make_team, client_for):
    user = make_user("many")
    for n in range(5):
        services.membership_set(team=make_team(f"Team {n}"), user=user)
    return client_for(user)


def test_a_page_shorter_than_the_page_size_counts_without_a_count_query(five_teams):
    with CaptureQueriesContext(connection) as queries:
        body = five_teams.get(TEAMS).json()
    assert body["count"] == 5 and len(body["results"]) == 5 and body["next"] is None
    assert _counts(queries.captured_queries) == []


def test_the_last_partial_page_knows_the_total_too(five_teams):
    with CaptureQueriesContext(connection) as queries:
        body = five_teams.get(TEAMS, {"page": 3, "page_size": 2}).json()
    assert body["count"] == 5 and len(body["results"]) == 1 and body["next"] is None
    assert body["previous"] is not None
    assert _counts(queries.captured_queries) == []


def test_a_full_page_still_gives_the_exact_total(five_teams):
    with CaptureQueriesContext(connection) as queries:
        body = five_teams.get(TEAMS, {"page_size": 2}).json()
    assert body["count"] == 5 and len(body["results"]) == 2 and body["next"] is not None
    assert len(_counts(queries.captured_queries)) == 1
    exact = five_teams.get(TEAMS, {"page_size": 5}).json()
    assert exact["count"] == 5 and exact["next"] is None


def test_pages_past_the_end_and_the_last_page_keep_their_answers(five_teams):
    assert five_teams.get(TEAMS, {"page": 4, "page_size": 2}).status_code == 404
    assert five_teams.get(TEAMS, {"page": 0}).status_code == 404
    last = five_teams.get(TEAMS, {"page": "last", "page_size": 2}).json()
    assert last["count"] == 5 and len(last["results"]) == 1


def test_an_empty_list_is_an_empty_first_page(key_client, make_team):
    client = key_client(make_team("Lonely"))
    body = client.get(TEAMS, {"name": "nothing-matches"}).json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


# --- statement timeout, health checks -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_statement_timeout_is_sent_once_per_connection(key_client, team, settings, monkeypatch):
    from crucible.middleware import statement_timeout_clear

    settings.DB_STATEMENT_TIMEOUT_MS = 4321
    sent = []
    client = key_client(team)
    client.get(TEAMS)
    raw_class = type(connection.connection)
    original = raw_class.execute

    def spy(self, query, *args, **kwargs):
        if isinstance(query, str) and query.startswith("SET statement_timeout"):
            sent.append(query)
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(raw_class, "execute", spy)
    try:
        for _ in range(3):
            assert client.get(TEAMS).status_code == 200
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "4321ms"  # still bounded
        assert sent == []  # set by the first request, kept by the connection
        settings.DB_STATEMENT_TIMEOUT_MS = 4000
        client.get(TEAMS)
        assert sent == ["SET statement_timeout = 4000"]
    finally:
        monkeypatch.undo()
        statement_timeout_clear(connection)


@pytest.fixture
def health_flags():
    """Put the test connection's health-check flags back as they were (plain attributes)."""
    connection.ensure_connection()
    saved = {name: getattr(connection, name, None) for name in ("health_check_done", "errors_occurred")}
    yield
    for name, value in saved.items():
        setattr(connection, name, value if value is not None else False)
    connection._crucible_request_done_at = None


def test_a_connection_that_just_served_a_request_skips_the_health_check(monkeypatch, settings, health_flags):
    settings.DB_HEALTH_CHECK_IDLE_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(dbhealth.time, "monotonic", lambda: clock[0])
    connection.health_check_done = False
    dbhealth.note_request_done()
    clock[0] += 2
    dbhealth.skip_check_of_busy_connections()
    assert connection.health_check_done is True
    # idle for longer: Django's check runs
    connection.health_check_done = False
    dbhealth.note_request_done()
    clock[0] += 6
    dbhealth.skip_check_of_busy_connections()
    assert connection.health_check_done is False


def test_a_connection_whose_request_failed_is_checked(settings, health_flags):
    settings.DB_HEALTH_CHECK_IDLE_SECONDS = 5
    connection.health_check_done = False
    connection._crucible_request_done_at = None
    connection.errors_occurred = True
    dbhealth.note_request_done()
    dbhealth.skip_check_of_busy_connections()
    assert connection.health_check_done is False


def test_with_idle_seconds_zero_every_request_is_checked(settings, health_flags):
    settings.DB_HEALTH_CHECK_IDLE_SECONDS = 0
    connection.health_check_done = False
    dbhealth.note_request_done()
    dbhealth.skip_check_of_busy_connections()
    assert connection.health_check_done is False


# --- browser state --------------------------------------------------------------------------------


def test_an_api_key_call_loads_no_session_user_or_messages(key_client, team, member, client):
    api = key_client(team)
    client.force_login(member)  # a session cookie comes along too: the key decides
    api.cookies = client.cookies
    response = api.get(TEAMS)
    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session") and not hasattr(request, "_messages")
    assert request.user.is_authenticated  # set by the API key authentication


def test_a_bad_key_with_a_session_cookie_is_refused_not_served_by_the_session(api_client, member, client):
    client.force_login(member)
    api_client.cookies = client.cookies
    api_client.credentials(HTTP_AUTHORIZATION="Bearer crk_nope_nope")
    assert api_client.get(TEAMS).status_code == 401


def test_session_calls_and_other_schemes_keep_the_session(member, client):
    client.force_login(member)
    response = client.get(TEAMS, HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==")
    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "session")
    assert [row["slug"] for row in response.json()["results"]] == ["acme"]


# --- the shared throttle counter ----------------------------------------------------------------


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_throttle_hit_outside_a_transaction_commits_without_waiting_for_the_disk():
    from crucible.ratelimit import rate_hit_many

    with CaptureQueriesContext(connection) as queries:
        first = rate_hit_many(hits=[("cost-test", 60)])
        second = rate_hit_many(hits=[("cost-test", 60)])
    assert [first[0][0], second[0][0]] == [1, 2]  # one statement each, counted as before
    assert len(queries.captured_queries) == 2
    assert all("set_config('synchronous_commit', 'off', true)" in q["sql"] for q in queries.captured_queries)
    assert _synchronous_commit() == "on"  # for that commit only, not for the connection
    # The setting holds inside the statement's own transaction only.
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('synchronous_commit', 'off', true), current_setting('synchronous_commit')")
        assert cursor.fetchone() == ("off", "off")
    assert _synchronous_commit() == "on"


def test_a_throttle_hit_inside_a_transaction_leaves_its_commit_alone():
    from crucible.ratelimit import rate_hit_many

    with CaptureQueriesContext(connection) as queries:
        assert rate_hit_many(hits=[("cost-test", 60)])[0][0] == 1
    assert "synchronous_commit" not in queries.captured_queries[0]["sql"]
    assert _synchronous_commit() == "on"
