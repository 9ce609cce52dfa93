"""From finding to experiment: observability and team memory recommendations start experiments
with the right variants and a guardrail, and the two link to each other."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from improvement.models import Experiment, SourceKind, Status
from marketplace import services as marketplace_services
from observability import experiments as obs_experiments
from teammemory import experiments as tm_experiments

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(member):
    """A browser session (form posts, not JSON)."""
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def own_agent(team, member):
    agent = marketplace_services.agent_create(
        team=team, name="Summarizer", system_prompt="Summarize.", model_hints={"model": "big", "temperature": 0}
    )
    marketplace_services.version_publish(agent=agent, system_prompt="Summarize in bullets.")
    agent.refresh_from_db()
    return agent


def _rec(kind, agent, **evidence):
    return {"kind": kind, "agent": agent, "title": f"{kind} finding", "evidence": evidence}


def test_expensive_model_runs_the_same_version_on_the_cheaper_model(team, own_agent):
    recs = [_rec("expensive_model", own_agent.slug, model="big", cheaper_model="small")]
    experiment, created = obs_experiments.recommendation_experiment_start(
        team=team, recommendations=recs, kind="expensive_model", agent=own_agent.slug
    )
    assert created and experiment.status == Status.RUNNING
    assert experiment.source_kind == SourceKind.OBSERVABILITY
    assert experiment.source_key == f"expensive_model:{own_agent.slug}"
    assert (experiment.guardrail_error_margin, experiment.guardrail_p95_margin, experiment.guardrail_cost_margin) == (
        0.02,
        0.2,
        0.2,
    )
    control = experiment.variants.get(is_control=True)
    cheaper = experiment.variants.get(is_control=False)
    assert control.version_label == cheaper.version_label == "1.1.0"
    assert control.model_hints["model"] == "big" and cheaper.model_hints["model"] == "small"
    assert cheaper.model_hints["temperature"] == 0


def test_version_regression_runs_current_against_the_version_before(team, own_agent):
    recs = [_rec("version_regression", own_agent.slug, version_before="1.0.0", version_after="1.1.0")]
    experiment, _ = obs_experiments.recommendation_experiment_start(
        team=team, recommendations=recs, kind="version_regression", agent=own_agent.slug
    )
    assert experiment.variants.get(is_control=True).version_label == "1.1.0"
    assert experiment.variants.get(is_control=False).version_label == "1.0.0"


def test_token_heavy_prompt_opens_a_draft_to_trim(team, own_agent):
    recs = [_rec("token_heavy_prompt", own_agent.slug)]
    experiment, _ = obs_experiments.recommendation_experiment_start(
        team=team, recommendations=recs, kind="token_heavy_prompt", agent=own_agent.slug
    )
    assert experiment.status == Status.DRAFT
    assert {v.name for v in experiment.variants.all()} == {"current 1.1.0", "trimmed prompt"}


def test_a_finding_that_is_not_there_or_names_no_usable_agent_is_refused(team, own_agent, other_team):
    public_agent = marketplace_services.agent_create(team=other_team, name="Public", system_prompt="Hi.")
    with pytest.raises(ValidationError):
        obs_experiments.recommendation_experiment_start(
            team=team, recommendations=[], kind="expensive_model", agent=own_agent.slug
        )
    recs = [_rec("expensive_model", "not-in-the-marketplace", model="a", cheaper_model="b")]
    with pytest.raises(ValidationError):
        obs_experiments.recommendation_experiment_start(
            team=team, recommendations=recs, kind="expensive_model", agent="not-in-the-marketplace"
        )
    ref = f"{public_agent.team.slug}/{public_agent.slug}"  # public but not installed by the team
    recs = [_rec("expensive_model", ref, model="a", cheaper_model="b")]
    with pytest.raises(ValidationError):
        obs_experiments.recommendation_experiment_start(
            team=team, recommendations=recs, kind="expensive_model", agent=ref
        )
    assert not Experiment.objects.filter(team=team).exists()


def test_finding_and_experiment_link_to_each_other(team, own_agent, monkeypatch, web):
    recs = [_rec("expensive_model", own_agent.slug, model="big", cheaper_model="small")]
    recs[0].update(severity="medium", action="Move traffic.", figures=[], links=[])
    monkeypatch.setattr("observability.views.selectors.recommendations", lambda **kwargs: [dict(r) for r in recs])
    page = web.get("/observability/recommendations/").content.decode()
    assert "Start an experiment" in page
    response = web.post(
        "/observability/recommendations/experiment/", {"kind": "expensive_model", "agent": own_agent.slug}
    )
    experiment = Experiment.objects.get(team=team, source_kind="observability")
    assert response["Location"] == f"/improvement/experiments/{experiment.pk}/"
    page = web.get("/observability/recommendations/").content.decode()
    assert f"/improvement/experiments/{experiment.pk}/" in page and "Start an experiment" not in page
    detail = web.get(f"/improvement/experiments/{experiment.pk}/").content.decode()
    assert "/observability/recommendations/" in detail


def test_team_memory_worse_version_runs_it_against_the_alternative(team, own_agent):
    ref = f"{team.slug}/{own_agent.slug}"
    recs = [{"kind": "worse_agent_version", "title": "worse", "evidence": {"agent": ref, "version": "1.0.0"}}]
    listed = tm_experiments.with_experiments(team=team, recommendations=recs)
    assert listed[0]["experiment_possible"] and listed[0]["experiment"] is None
    experiment, created = tm_experiments.recommendation_experiment_start(
        team=team, recommendations=recs, kind="worse_agent_version", agent=f"{ref} 1.0.0"
    )
    assert created and experiment.source_kind == SourceKind.TEAMMEMORY
    assert experiment.variants.get(is_control=True).version_label == "1.0.0"
    assert experiment.variants.get(is_control=False).version_label == "1.1.0"
    assert (experiment.guardrail_error_margin, experiment.guardrail_p95_margin, experiment.guardrail_cost_margin) == (
        0.02,
        0.2,
        0.2,
    )
    listed = tm_experiments.with_experiments(team=team, recommendations=recs)
    assert listed[0]["experiment"].pk == experiment.pk


def test_recommendation_experiment_api(team, own_agent, monkeypatch, team_key_client, key_client):
    recs = [_rec("version_regression", own_agent.slug, version_before="1.0.0", version_after="1.1.0")]
    monkeypatch.setattr("observability.api.views.selectors.recommendations", lambda **kwargs: recs)
    url = "/api/v1/observability/recommendations/experiment/"
    body = {"kind": "version_regression", "agent": own_agent.slug}
    response = team_key_client.post(url, body, format="json")
    assert response.status_code == 201, response.json()
    first = response.json()
    assert first["created"] and first["status"] == "running"
    again = team_key_client.post(url, body, format="json")
    assert again.status_code == 200 and again.json()["experiment_id"] == first["experiment_id"]
    missing = team_key_client.post(url, {"kind": "expensive_model", "agent": own_agent.slug}, format="json")
    assert missing.status_code == 400 and "kind" in missing.json()["fields"]
    unknown = team_key_client.post(url, {"kind": "slow_agent", "agent": own_agent.slug}, format="json")
    assert unknown.status_code == 400 and "kind" in unknown.json()["fields"]
    viewer = key_client(team, role="viewer")
    assert viewer.post(url, body, format="json").status_code == 403


def test_team_memory_recommendation_experiment_api(team, own_agent, monkeypatch, team_key_client):
    ref = f"{team.slug}/{own_agent.slug}"
    recs = [{"kind": "worse_agent_version", "title": "worse", "evidence": {"agent": ref, "version": "1.0.0"}}]
    monkeypatch.setattr(
        "teammemory.api.views.recommendation_selectors.team_recommendations",
        lambda **kwargs: {"recommendations": recs},
    )
    url = "/api/v1/teammemory/recommendations/experiment/"
    response = team_key_client.post(url, {"kind": "worse_agent_version", "agent": f"{ref} 1.0.0"}, format="json")
    assert response.status_code == 201, response.json()
    experiment = Experiment.objects.get(pk=response.json()["experiment_id"])
    assert experiment.source_kind == SourceKind.TEAMMEMORY
    wrong = team_key_client.post(url, {"kind": "worse_agent_version", "agent": f"{ref} 9.9.9"}, format="json")
    assert wrong.status_code == 400 and "kind" in wrong.json()["fields"]


def test_the_recommendations_page_asks_the_marketplace_once_however_many_findings_name_agents(team, other_team):
    """``with_experiments`` decides for each finding whether its agent can be experimented on (the
    team's own or an installed one): one query for all the findings, not one or two per finding
    (the page's query count grew with its recommendations)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    own = [marketplace_services.agent_create(team=team, name=f"Own {i}", system_prompt="Hi.") for i in range(3)]
    public = marketplace_services.agent_create(team=other_team, name="Public", system_prompt="Hi.")
    installed = marketplace_services.agent_create(team=other_team, name="Installed", system_prompt="Hi.")
    marketplace_services.agent_install(team=team, agent=installed)

    def counted(recs):
        with CaptureQueriesContext(connection) as queries:
            result = obs_experiments.with_experiments(team=team, recommendations=recs)
        return len(queries), [r["experiment_possible"] for r in result]

    one = [_rec("version_regression", installed.slug)]  # an installed agent: the most queries
    many = [
        *(_rec("token_heavy_prompt", a.slug) for a in own),
        _rec("expensive_model", public.slug),
        _rec("version_regression", installed.slug),
        _rec("token_heavy_prompt", "no-such-agent"),
        _rec("slow_agent", own[1].slug),  # not a kind that starts experiments
    ]
    queries_one, possible = counted(one)
    assert possible == [True]
    queries_many, possible = counted(many)
    assert possible == [True, True, True, False, True, False, False]
    assert queries_many == queries_one


def test_team_memory_findings_are_planned_with_the_same_queries_however_many(team, other_team):
    """Team memory's ``with_experiments`` plans every "worse version" finding at once: which agent,
    which version, which alternative (installed, else latest, else the one before), in the same few
    queries for one finding as for many (it ran four or five per finding)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def agent(owner, name, versions):
        made = marketplace_services.agent_create(team=owner, name=name, system_prompt="v1")
        for i in range(versions - 1):
            marketplace_services.version_publish(agent=made, system_prompt=f"v{i + 2}")
        made.refresh_from_db()
        return made

    newer, single, newest = agent(team, "Newer", 2), agent(team, "Single", 1), agent(team, "Newest", 2)
    foreign = agent(other_team, "Foreign", 1)
    marketplace_services.agent_install(team=team, agent=foreign)  # runs 1.0.0
    marketplace_services.version_publish(agent=foreign, system_prompt="v2")  # latest 1.1.0

    def rec(a, version, kind="worse_agent_version"):
        return {"kind": kind, "title": "worse", "evidence": {"agent": f"{a.team.slug}/{a.slug}", "version": version}}

    recs = [
        rec(newer, "1.0.0"),  # against the latest
        rec(single, "1.0.0"),  # no other version: nothing to run against
        rec(newest, "1.1.0"),  # the latest itself: against the version before
        rec(foreign, "1.1.0"),  # installed at 1.0.0: against what the team runs
        rec(newer, "9.9.9"),  # no such version
        rec(newer, "1.0.0", kind="something_else"),
    ]
    with CaptureQueriesContext(connection) as many:
        listed = tm_experiments.with_experiments(team=team, recommendations=recs)
    # Two findings that take every kind of read (an installed agent, the version-before fallback).
    with CaptureQueriesContext(connection) as two:
        tm_experiments.with_experiments(team=team, recommendations=[rec(foreign, "1.1.0"), rec(newest, "1.1.0")])
    assert len(many) == len(two)
    plans = tm_experiments._plans(team, recs)
    chosen = [None if p is None else (p[0].pk, [v.version.version for v in p[1]]) for p in plans]
    assert chosen == [
        (newer.pk, ["1.0.0", "1.1.0"]),
        None,
        (newest.pk, ["1.1.0", "1.0.0"]),
        (foreign.pk, ["1.1.0", "1.0.0"]),
        None,
        None,
    ]
    assert [r["experiment_possible"] for r in listed] == [p is not None for p in plans]
