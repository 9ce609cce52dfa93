"""The marketplace admin: deleting ratings moves the agent's counters; rows that feed counters and
daily statistics (installs, install events, downloads, daily stats) cannot be deleted there."""

import pytest
from django.contrib import admin
from django.db.models import Count, Q, Sum
from django.urls import reverse

from crucible import services as core_services
from marketplace import services
from marketplace.models import Agent, AgentDailyStat, Download, Installation, InstallEvent, Rating

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(core_services.user_create(username="operator", password="pw-operator-1", is_superuser=True))
    return client


@pytest.fixture
def rated(public_agent, team, make_user):
    """The other team's public agent, installed by ``team`` and rated by three of its members."""
    services.agent_install(agent=public_agent, team=team)
    for n, stars in enumerate((5, 4, 2)):
        services.rating_set(agent=public_agent, user=make_user(f"rater{n}", team=team), team=team, stars=stars)
    return public_agent


def _counters_match_rows(agent) -> bool:
    agent = Agent.objects.get(pk=agent.pk)
    shown = Rating.objects.filter(agent=agent, is_hidden=False)
    counts = shown.aggregate(
        n=Count("id"), total=Sum("stars"), **{f"s{i}": Count("id", filter=Q(stars=i)) for i in range(1, 6)}
    )
    return (agent.rating_count, agent.rating_sum, *agent.histogram.values()) == (
        counts["n"],
        counts["total"] or 0,
        *(counts[f"s{i}"] for i in range(1, 6)),
    )


def test_deleting_a_rating_on_its_page_moves_the_agents_counters(operator, rated):
    rating = Rating.objects.get(agent=rated, stars=4)
    response = operator.post(reverse("admin:marketplace_rating_delete", args=[rating.pk]), {"post": "yes"})
    assert response.status_code == 302
    rated.refresh_from_db()
    assert (rated.rating_count, rated.rating_sum, rated.rating_4) == (2, 7, 0)
    assert _counters_match_rows(rated)


def test_deleting_ratings_in_bulk_moves_the_agents_counters(operator, rated):
    hidden = Rating.objects.get(agent=rated, stars=2)
    services.rating_set_hidden(rating=hidden, hidden=True)  # already left out of the counters
    ids = list(Rating.objects.filter(agent=rated).values_list("pk", flat=True))
    url = reverse("admin:marketplace_rating_changelist")
    response = operator.post(url, {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert response.status_code == 302
    rated.refresh_from_db()
    assert not Rating.objects.exists()
    assert (rated.rating_count, rated.rating_sum, *rated.histogram.values()) == (0, 0, 0, 0, 0, 0, 0)


@pytest.mark.parametrize("model", [Installation, InstallEvent, AgentDailyStat, Download])
def test_rows_feeding_counters_cannot_be_deleted_in_the_admin(operator, model, public_agent, team):
    services.agent_install(agent=public_agent, team=team)
    services.version_download(version=public_agent.latest_version, team=team)
    row = model.objects.first()
    model_admin = admin.site._registry[model]
    request = operator.get("/admin/").wsgi_request
    assert not model_admin.has_delete_permission(request, row)
    name = f"admin:marketplace_{model._meta.model_name}_delete"
    assert operator.post(reverse(name, args=[row.pk]), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()
    public_agent.refresh_from_db()
    assert (public_agent.install_count, public_agent.active_install_count, public_agent.download_count) == (1, 1, 1)


def test_deleting_a_person_in_the_admin_takes_their_ratings_out_of_the_counters(operator, rated):
    rater = Rating.objects.get(agent=rated, stars=5).user
    response = operator.post(reverse("admin:auth_user_delete", args=[rater.pk]), {"post": "yes"})
    assert response.status_code == 302
    rated.refresh_from_db()
    assert (rated.rating_count, rated.rating_sum, rated.rating_5) == (2, 6, 0)
    assert _counters_match_rows(rated)
    others = list(Rating.objects.values_list("user_id", flat=True))
    url = reverse("admin:auth_user_changelist")
    operator.post(url, {"action": "delete_selected", "_selected_action": others, "post": "yes"})
    rated.refresh_from_db()
    assert not Rating.objects.exists() and (rated.rating_count, rated.rating_sum) == (0, 0)


def test_tag_counts_are_listed_read_only(operator, make_agent, team):
    make_agent(team, "Tagged", tags=["python"])
    page = operator.get("/admin/marketplace/tagcount/")
    assert page.status_code == 200 and "python" in page.content.decode()
    assert operator.get("/admin/marketplace/tagcount/add/").status_code == 403
