"""The improvement API: experiments, variants, select, results, report; scoping and bad input."""

import pytest

from crucible.models import Role
from improvement import services
from improvement.models import Assignment, Experiment, Variant

pytestmark = pytest.mark.django_db

BASE = "/api/v1/improvement"


def create_payload(**over):
    body = {
        "name": "support-reply",
        "strategy": "epsilon_greedy",
        "epsilon": 0.2,
        "weight_quality": 1,
        "weight_success": 1,
        "weight_speed": 0,
        "min_results": 10,
        "status": "running",
        "variants": [
            {"name": "control", "prompt": "Be helpful.", "is_control": True},
            {"name": "warm", "prompt": "Be warm and helpful."},
        ],
    }
    body.update(over)
    return body


def test_full_flow_create_select_record_report(team_key_client):
    response = team_key_client.post(f"{BASE}/experiments/", create_payload(), format="json")
    assert response.status_code == 201, response.json()
    experiment = response.json()
    assert experiment["status"] == "running" and experiment["epsilon"] == 0.2
    assert [v["name"] for v in experiment["variants"]] == ["control", "warm"]

    picked = team_key_client.post(f"{BASE}/select/", {"experiment": "support-reply"}, format="json")
    assert picked.status_code == 201, picked.json()
    body = picked.json()
    assert body["variant"]["name"] in {"control", "warm"} and body["variant"]["prompt"]
    assignment_id = body["assignment_id"]

    recorded = team_key_client.post(
        f"{BASE}/results/",
        {
            "assignment_id": assignment_id,
            "success": True,
            "quality": 88,
            "duration_ms": 900,
            "tokens": 300,
            "cost": 0.004,
        },
        format="json",
    )
    assert recorded.status_code == 201, recorded.json()
    assert recorded.json() == {"recorded": 1}
    variant = Variant.objects.get(pk=body["variant"]["id"])
    assert (variant.results_count, variant.success_count, variant.quality_sum) == (1, 1, 88)

    again = team_key_client.post(f"{BASE}/results/", {"assignment_id": assignment_id, "success": True}, format="json")
    assert again.status_code == 400
    assert again.json()["fields"] == {"assignment_id": ["This assignment already has a result."]}  # the name as sent

    report = team_key_client.get(f"{BASE}/experiments/{experiment['id']}/report/")
    assert report.status_code == 200
    data = report.json()
    assert data["winner"] is None and "Not enough results" in data["verdict"]
    assert {row["name"] for row in data["variants"]} == {"control", "warm"}
    assert sum(p["assignments"] for p in data["timeline"]["points"]) == 1
    by_name = team_key_client.get(f"{BASE}/reports/support-reply/")
    assert by_name.status_code == 200 and by_name.json()["experiment"]["id"] == experiment["id"]


def test_select_by_experiment_id_route(team_key_client, experiment):
    response = team_key_client.post(f"{BASE}/experiments/{experiment.pk}/select/", format="json")
    assert response.status_code == 201
    assert Assignment.objects.filter(pk=response.json()["assignment_id"], experiment=experiment).exists()


def test_batch_results_all_or_nothing(team_key_client, experiment):
    control, other = experiment.variants.order_by("id")
    good = {"variant_id": control.pk, "success": True, "quality": 50, "duration_ms": 10}
    response = team_key_client.post(
        f"{BASE}/results/batch/", {"results": [good, good | {"quality": 150}]}, format="json"
    )
    assert response.status_code == 400
    assert "results.1.quality" in response.json()["fields"]
    control.refresh_from_db()
    assert control.results_count == 0
    ok = team_key_client.post(
        f"{BASE}/results/batch/", {"results": [good, good | {"variant_id": other.pk}]}, format="json"
    )
    assert ok.status_code == 201 and ok.json() == {"recorded": 2}


@pytest.mark.parametrize(
    "override, field",
    [
        ({"epsilon": 1.5}, "epsilon"),
        ({"epsilon": -0.1}, "epsilon"),
        ({"weight_quality": -1}, "weight_quality"),
        ({"weight_quality": 0, "weight_success": 0, "weight_speed": 0, "weight_cost": 0}, "weight_quality"),
        ({"weight_speed": "fast"}, "weight_speed"),
        ({"min_results": 0}, "min_results"),
        ({"strategy": "random"}, "strategy"),
        ({"status": "concluded"}, "status"),
        ({"colour": "red"}, "colour"),
        ({"name": 12345}, "name"),
        ({"epsilon": "0.1"}, "epsilon"),
        (
            {
                "variants": [
                    {"name": "a", "prompt": "x", "is_control": True},
                    {"name": "b", "prompt": "y", "is_control": True},
                ]
            },
            "variants.1.is_control",
        ),
    ],
)
def test_bad_experiment_input_is_a_400_naming_the_field(team_key_client, override, field):
    response = team_key_client.post(f"{BASE}/experiments/", create_payload(**override), format="json")
    assert response.status_code == 400, response.json()
    assert any(key.endswith(field) for key in response.json()["fields"]), response.json()
    assert not Experiment.objects.exists()


@pytest.mark.parametrize(
    "override, field",
    [
        ({"quality": 100.5}, "quality"),
        ({"quality": -3}, "quality"),
        ({"success": "maybe"}, "success"),
        ({"duration_ms": -1}, "duration_ms"),
        ({"tokens": -1}, "tokens"),
        ({"qualty": 5}, "qualty"),
        ({"quality": "50"}, "quality"),
        ({"success": 1}, "success"),
        ({"cost": "0.1"}, "cost"),
    ],
)
def test_bad_result_input_is_a_400_and_nothing_is_written(team_key_client, experiment, override, field):
    variant = experiment.variants.first()
    body = {"variant_id": variant.pk, "success": True, "quality": 50} | override
    response = team_key_client.post(f"{BASE}/results/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    variant.refresh_from_db()
    assert variant.results_count == 0


def test_result_for_retired_or_foreign_variant_is_refused(team_key_client, experiment, make_experiment, make_team):
    control, retired = experiment.variants.order_by("id")
    services.variant_retire(variant=retired)
    foreign = make_experiment("foreign", team_=make_team("Initech", slug="initech")).variants.first()
    for variant_id in (retired.pk, foreign.pk):
        response = team_key_client.post(f"{BASE}/results/", {"variant_id": variant_id, "success": True}, format="json")
        assert response.status_code == 400
        assert "variant_id" in response.json()["fields"]  # one result: the name as sent
    assert Variant.objects.filter(results_count__gt=0).count() == 0


def test_select_from_draft_or_concluded_is_a_400(team_key_client, make_experiment):
    make_experiment("drafty", status="draft")
    done = make_experiment("done")
    services.experiment_conclude(experiment=done)
    for name in ("drafty", "done"):
        response = team_key_client.post(f"{BASE}/select/", {"experiment": name}, format="json")
        assert response.status_code == 400
        assert "status" in response.json()["fields"]
    assert not Assignment.objects.exists()
    assert team_key_client.post(f"{BASE}/select/", {"experiment": "nope"}, format="json").status_code == 404


def test_other_teams_experiments_are_404(outsider_client, experiment):
    assert outsider_client.get(f"{BASE}/experiments/{experiment.pk}/").status_code == 404
    assert outsider_client.get(f"{BASE}/experiments/{experiment.pk}/report/").status_code == 404
    assert outsider_client.post(f"{BASE}/select/", {"experiment": experiment.name}, format="json").status_code == 404
    variant = experiment.variants.first()
    assert outsider_client.post(f"{BASE}/variants/{variant.pk}/retire/").status_code == 404
    assert outsider_client.get(f"{BASE}/experiments/").json()["count"] == 0


def test_viewer_key_reads_but_cannot_select_or_record(key_client, team, experiment):
    viewer = key_client(team, role=Role.VIEWER)
    assert viewer.get(f"{BASE}/experiments/").status_code == 200
    assert viewer.post(f"{BASE}/select/", {"experiment": experiment.name}, format="json").status_code == 403
    variant = experiment.variants.first()
    assert (
        viewer.post(f"{BASE}/results/", {"variant_id": variant.pk, "success": True}, format="json").status_code == 403
    )


def test_variant_lifecycle_via_api(team_key_client, experiment, feed):
    response = team_key_client.post(
        f"{BASE}/variants/", {"experiment": experiment.pk, "name": "bold", "prompt": "Be bold."}, format="json"
    )
    assert response.status_code == 201
    variant_id = response.json()["id"]
    renamed = team_key_client.patch(f"{BASE}/variants/{variant_id}/", {"name": "brave"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "brave"
    feed(Variant.objects.get(pk=variant_id), 3)
    locked = team_key_client.patch(f"{BASE}/variants/{variant_id}/", {"prompt": "Changed."}, format="json")
    assert locked.status_code == 400 and "prompt" in locked.json()["fields"]
    retired = team_key_client.post(f"{BASE}/variants/{variant_id}/retire/")
    assert retired.status_code == 200 and retired.json()["is_retired"] is True
    listed = team_key_client.get(f"{BASE}/variants/", {"experiment": experiment.pk, "retired": "false"})
    assert {v["name"] for v in listed.json()["results"]} == {"control", "concise"}


def test_objective_is_locked_once_results_exist(team_key_client, experiment, feed):
    ok = team_key_client.patch(
        f"{BASE}/experiments/{experiment.pk}/", {"epsilon": 0.3, "description": "x"}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["epsilon"] == 0.3
    feed(experiment.variants.first(), 2)
    refused = team_key_client.patch(f"{BASE}/experiments/{experiment.pk}/", {"weight_quality": 0.9}, format="json")
    assert refused.status_code == 400 and "weight_quality" in refused.json()["fields"]
    bad = team_key_client.patch(f"{BASE}/experiments/{experiment.pk}/", {"epsilon": 2}, format="json")
    assert bad.status_code == 400 and "epsilon" in bad.json()["fields"]


def test_lifecycle_actions(team_key_client, make_experiment):
    experiment = make_experiment("life", status="draft")
    url = f"{BASE}/experiments/{experiment.pk}"
    assert team_key_client.post(f"{url}/pause/").status_code == 400
    assert team_key_client.post(f"{url}/start/").json()["status"] == "running"
    assert team_key_client.post(f"{url}/pause/").json()["status"] == "paused"
    assert team_key_client.post(f"{url}/start/").json()["status"] == "running"
    concluded = team_key_client.post(f"{url}/conclude/", {}, format="json")
    assert concluded.status_code == 200 and concluded.json()["status"] == "concluded"
    assert concluded.json()["winner"] is None
    assert team_key_client.post(f"{url}/conclude/", {}, format="json").status_code == 400
    assert team_key_client.post(f"{url}/start/").status_code == 400


def test_lists_are_filtered_and_free_of_n_plus_one(team_key_client, make_experiment, django_assert_max_num_queries):
    for i in range(6):
        make_experiment(f"exp-{i}", variants=("a", "b", "c"), status="draft" if i % 2 else "running")
    with django_assert_max_num_queries(6):
        response = team_key_client.get(f"{BASE}/experiments/", {"status": "running", "ordering": "name"})
    assert response.status_code == 200
    names = [e["name"] for e in response.json()["results"]]
    assert names == ["exp-0", "exp-2", "exp-4"]
    with django_assert_max_num_queries(5):
        variants = team_key_client.get(f"{BASE}/variants/")
    assert variants.json()["count"] == 18
    with django_assert_max_num_queries(5):
        assignments = team_key_client.get(f"{BASE}/assignments/")
    assert assignments.status_code == 200


def test_select_uses_few_queries_and_no_lock(team_key_client, experiment, django_assert_num_queries):
    team_key_client.post(
        f"{BASE}/select/", {"experiment": experiment.name}, format="json"
    )  # key's last_used_at touched
    # The key's rate counter (one upsert, shared by all processes; the key itself was verified a
    # moment ago, crucible.keycache), the experiment with its active variants' sums, the
    # assignment + traffic counter.
    with django_assert_num_queries(3) as ctx:
        response = team_key_client.post(f"{BASE}/select/", {"experiment": experiment.name}, format="json")
    assert response.status_code == 201
    assert not any(
        "FOR UPDATE" in q["sql"].upper() or "FOR NO KEY UPDATE" in q["sql"].upper() for q in ctx.captured_queries
    )


def test_session_user_selects_in_active_team_and_not_where_viewer(
    client_for, make_user, team, other_team, make_experiment
):
    from crucible import services as core

    user = make_user("twoteams", team=team, role=Role.MEMBER)
    core.membership_set(team=other_team, user=user, role=Role.VIEWER)
    mine = make_experiment("shared-name")
    make_experiment("theirs-only", team_=other_team)
    make_experiment("shared-name", team_=other_team)
    client = client_for(user)
    client.credentials(HTTP_X_CRUCIBLE_TEAM=team.slug)
    picked = client.post(f"{BASE}/select/", {"experiment": "shared-name"}, format="json")
    assert picked.status_code == 201 and picked.json()["experiment_id"] == mine.pk
    # Viewer in the other team: its experiments are readable but cannot be served (a write).
    assert client.get(f"{BASE}/reports/theirs-only/").status_code == 200
    assert client.post(f"{BASE}/select/", {"experiment": "theirs-only"}, format="json").status_code == 404
    assert Assignment.objects.filter(experiment__team=other_team).count() == 0


def test_select_and_result_follow_the_acting_team(client_for, make_user, team, other_team, make_experiment):
    """Issue 15: a user in two teams could select in one team's experiment while acting for the
    other, and then got 400 on the result. One rule now: select and result both act for the
    active team, so an assignment served is always one the result endpoint accepts."""
    from crucible import services as core

    user = make_user("member-of-both", team=team, role=Role.MEMBER)
    core.membership_set(team=other_team, user=user, role=Role.MEMBER)
    theirs = make_experiment("globex-only", team_=other_team)
    client = client_for(user)

    # Acting for acme: globex's experiment is not served, by name or by id.
    client.credentials(HTTP_X_CRUCIBLE_TEAM=team.slug)
    by_name = client.post(f"{BASE}/select/", {"experiment": "globex-only"}, format="json")
    assert by_name.status_code == 404 and "acme" in by_name.json()["message"]
    assert client.post(f"{BASE}/experiments/{theirs.pk}/select/").status_code == 404
    assert Assignment.objects.count() == 0

    # Acting for globex: served, and the result for it is accepted.
    client.credentials(HTTP_X_CRUCIBLE_TEAM=other_team.slug)
    picked = client.post(f"{BASE}/select/", {"experiment": "globex-only"}, format="json")
    assert picked.status_code == 201
    result = client.post(
        f"{BASE}/results/",
        {"assignment_id": picked.json()["assignment_id"], "success": True, "duration_ms": 120},
        format="json",
    )
    assert result.status_code == 201, result.json()
    assert Assignment.objects.get(pk=picked.json()["assignment_id"]).result_at is not None


def test_variants_in_a_form_body_are_refused_not_dropped(team_key_client):
    response = team_key_client.post(
        "/api/v1/improvement/experiments/", {"name": "form-made", "variants": ["a", "b"]}, format="multipart"
    )
    assert response.status_code == 400 and "variants" in response.json()["fields"]
