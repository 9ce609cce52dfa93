"""Experiment pages: list, detail with report and charts, forms, actions, permissions."""

import json

import pytest
from django.urls import reverse

from improvement import services
from improvement.models import Experiment, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(client, member):
    client.force_login(member)
    return client


def test_list_shows_the_teams_experiments_with_filters(web, make_experiment, make_team):
    make_experiment("alpha")
    make_experiment("beta", status="draft")
    make_experiment("zanzibar-foreign", team_=make_team("Other", slug="other"))
    page = web.get(reverse("improvement:index"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "alpha" in html and "beta" in html and "zanzibar-foreign" not in html
    filtered = web.get(reverse("improvement:index"), {"status": "draft"}).content.decode()
    assert "beta" in filtered and "alpha" not in filtered


def test_detail_shows_intervals_probability_winner_and_chart_data(web, experiment, feed):
    control, concise = experiment.variants.order_by("id")
    feed(control, 60, p=0.6, quality=50, seed=1)
    feed(concise, 60, p=0.97, quality=90, seed=2)
    page = web.get(reverse("improvement:experiment-detail", args=[experiment.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="winner-badge"' in html and "winner: concise" in html
    assert "P(best)" in html and "Wilson" in html
    for chart in ("chart-objective", "chart-traffic", "chart-cumulative"):
        assert f'id="{chart}"' in html
    spec = json.loads(html.split('id="chart-cumulative" type="application/json">')[1].split("</script>")[0])
    assert {trace["name"] for trace in spec["data"]} == {"control", "concise"}
    assert max(spec["data"][0]["y"]) == 60


def test_detail_says_no_winner_on_thin_data(web, experiment, feed):
    feed(experiment.variants.first(), 5)
    html = web.get(reverse("improvement:experiment-detail", args=[experiment.pk])).content.decode()
    assert "No winner yet" in html and 'id="winner-badge"' not in html
    assert "results-needed" in html


def test_prompt_text_is_escaped(web, make_experiment):
    experiment = make_experiment("xss", variants=("<script>alert(1)</script>", "b"))
    html = web.get(reverse("improvement:experiment-detail", args=[experiment.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_other_teams_experiment_page_is_404(web, make_experiment, make_team):
    foreign = make_experiment("foreign", team_=make_team("Other", slug="other"))
    assert web.get(reverse("improvement:experiment-detail", args=[foreign.pk])).status_code == 404


def test_create_form_creates_a_running_experiment_with_control(web, team):
    response = web.post(
        reverse("improvement:experiment-create"),
        {
            "name": "from-the-form",
            "strategy": "thompson",
            "epsilon": "0.1",
            "min_results": "20",
            "weight_quality": "1",
            "weight_success": "1",
            "weight_speed": "0",
            "weight_cost": "0",
            "speed_reference_ms": "2000",
            "cost_reference": "0.01",
            "control_prompt": "Old prompt",
            "challenger_prompt": "New prompt",
            "start_now": "on",
        },
    )
    assert response.status_code == 302
    experiment = Experiment.objects.get(name="from-the-form")
    assert experiment.status == Status.RUNNING and experiment.team == team
    assert list(experiment.variants.order_by("id").values_list("name", "is_control")) == [
        ("control", True),
        ("challenger", False),
    ]


def test_create_form_shows_errors_for_nonsense_weights(web):
    response = web.post(
        reverse("improvement:experiment-create"),
        {
            "name": "bad",
            "strategy": "epsilon_greedy",
            "epsilon": "1.5",
            "min_results": "20",
            "weight_quality": "0",
            "weight_success": "0",
            "weight_speed": "0",
            "weight_cost": "0",
            "speed_reference_ms": "2000",
            "cost_reference": "0.01",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "errorlist" in html
    assert not Experiment.objects.exists()
    response = web.post(
        reverse("improvement:experiment-create"),
        {
            "name": "bad",
            "strategy": "epsilon_greedy",
            "epsilon": "0.1",
            "min_results": "20",
            "weight_quality": "0",
            "weight_success": "0",
            "weight_speed": "0",
            "weight_cost": "0",
            "speed_reference_ms": "2000",
            "cost_reference": "0.01",
        },
    )
    assert "At least one weight" in response.content.decode()
    assert not Experiment.objects.exists()


def test_edit_form_and_actions(web, make_experiment):
    experiment = make_experiment("editable", status="draft")
    form = web.get(reverse("improvement:experiment-edit", args=[experiment.pk]))
    assert form.status_code == 200
    response = web.post(
        reverse("improvement:experiment-edit", args=[experiment.pk]),
        {
            "name": "edited",
            "description": "now with text",
            "strategy": "ucb1",
            "epsilon": "0.1",
            "min_results": "15",
            "weight_quality": "1",
            "weight_success": "0",
            "weight_speed": "0",
            "weight_cost": "0",
            "speed_reference_ms": "2000",
            "cost_reference": "0.01",
        },
    )
    assert response.status_code == 302
    experiment.refresh_from_db()
    assert (experiment.name, experiment.strategy, experiment.min_results) == ("edited", "ucb1", 15)
    web.post(reverse("improvement:experiment-action", args=[experiment.pk, "start"]))
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING
    web.post(reverse("improvement:variant-add", args=[experiment.pk]), {"name": "third", "prompt": "Another"})
    assert experiment.variants.count() == 3
    third = experiment.variants.get(name="third")
    web.post(reverse("improvement:variant-retire", args=[third.pk]))
    third.refresh_from_db()
    assert third.retired_at is not None
    web.post(reverse("improvement:experiment-action", args=[experiment.pk, "conclude"]), {"winner": str(third.pk)})
    experiment.refresh_from_db()
    assert experiment.status == Status.CONCLUDED and experiment.winner == third


def test_promote_button_publishes_version(web, make_experiment, team, member):
    from marketplace import services as marketplace_services
    from marketplace.models import AgentVersion

    agent = marketplace_services.agent_create(team=team, name="Writer", system_prompt="Write.", created_by=member)
    experiment = make_experiment("promote-me", agent=agent)
    services.experiment_conclude(experiment=experiment, winner=experiment.variants.order_by("id").last())
    html = web.get(reverse("improvement:experiment-detail", args=[experiment.pk])).content.decode()
    assert 'id="promote"' in html
    web.post(reverse("improvement:experiment-action", args=[experiment.pk, "promote"]))
    assert AgentVersion.objects.filter(agent=agent, version="1.1.0").exists()


def test_viewer_cannot_post(client, viewer, experiment):
    client.force_login(viewer)
    response = client.post(reverse("improvement:experiment-action", args=[experiment.pk, "pause"]))
    assert response.status_code == 403
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING


def test_home_card(web, experiment):
    from improvement.selectors import home_card

    card = home_card(team=experiment.team, request=None)
    assert card["figures"][0] == {"label": "Running", "value": "1"}  # formatted by crucible.formatting


def test_admin_screens_and_service_rules(client, make_user, team, experiment, feed):
    admin_user = make_user("root", is_superuser=True, is_staff=True)
    client.force_login(admin_user)
    for model in ("experiment", "variant", "assignment", "variantbucket"):
        assert client.get(f"/admin/improvement/{model}/").status_code == 200, model
    assert client.get(f"/admin/improvement/experiment/{experiment.pk}/change/").status_code == 200
    assert client.get("/admin/improvement/experiment/", {"q": "checkout", "status": "running"}).status_code == 200
    feed(experiment.variants.first(), 3)
    form = {
        "name": experiment.name,
        "description": "",
        "agent": "",
        "strategy": "epsilon_greedy",
        "epsilon": "0.1",
        "min_results": "30",
        "weight_quality": "0.9",
        "weight_success": "0.3",
        "weight_speed": "0.2",
        "weight_cost": "0",
        "speed_reference_ms": "2000",
        "cost_reference": "0.01",
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "0",
    }
    response = client.post(f"/admin/improvement/experiment/{experiment.pk}/change/", form)
    assert response.status_code == 200 and "objective cannot change" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.weight_quality == 0.5
    new = form | {"team": str(team.pk), "name": "from-admin", "weight_quality": "0.5"}
    response = client.post("/admin/improvement/experiment/add/", new)
    assert response.status_code == 302
    from improvement.models import Experiment

    assert Experiment.objects.get(name="from-admin").created_by == admin_user


def test_verdict_says_no_winner_once_and_no_probability_without_results(web, experiment):
    html = web.get(reverse("improvement:experiment-detail", args=[experiment.pk])).content.decode()
    verdict = html[html.index('id="verdict"') :].split("</div>")[0]
    assert verdict.count("No winner yet") == 1
    table = html[html.index('id="variants"') :].split("</table>")[0]
    assert "50.0%" not in table and "50%" not in table  # the prior's 1/n is not a probability of being best


def test_experiment_links_to_its_agent_its_variants_executions_and_the_promoted_version(
    web, make_experiment, team, member
):
    from marketplace import services as marketplace_services
    from observability.services import executions_ingest

    agent = marketplace_services.agent_create(team=team, name="Linker", system_prompt="Link.", created_by=member)
    experiment = make_experiment("linked", agent=agent)
    control, concise = experiment.variants.order_by("id")
    from django.utils import timezone

    started = (timezone.now() - timezone.timedelta(hours=1)).isoformat()
    event = {"agent": "linker", "started_at": started, "duration_ms": 10.0, "status": "success"}
    executions_ingest(
        team=team,
        events=[{**event, "id": "v-a", "variant_id": concise.pk}, {**event, "id": "v-b", "variant_id": control.pk}],
    )
    services.experiment_conclude(experiment=experiment, winner=concise)
    web.post(reverse("improvement:experiment-action", args=[experiment.pk, "promote"]))
    experiment.refresh_from_db()
    html = web.get(reverse("improvement:experiment-detail", args=[experiment.pk])).content.decode()
    agent_url = reverse("marketplace:agent-detail", args=[agent.pk])
    assert f'href="{agent_url}" id="experiment-agent"' in html
    assert f'href="{agent_url}#version-{experiment.promoted_version_id}" id="promoted-version"' in html
    version_page = web.get(agent_url).content.decode()
    assert f'id="version-{experiment.promoted_version_id}"' in version_page
    rows_url = f"{reverse('observability:executions')}?variant={concise.pk}"
    assert f'href="{rows_url}"' in html
    rows = web.get(rows_url).content.decode()
    from observability.models import Execution

    only = Execution.objects.get(client_id="v-a")
    assert f"/observability/executions/{only.pk}/" in rows
    assert f"/observability/executions/{Execution.objects.get(client_id='v-b').pk}/" not in rows
