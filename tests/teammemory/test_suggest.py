"""Stack suggestions: similar builds by requirements text and components, Wilson ranking, evidence,
constraints, and the labelled fallback."""

import datetime as dt

import pytest

from teammemory import selectors
from tests.teammemory.conftest import NOW

pytestmark = pytest.mark.django_db

DJANGO = {"language": "Python", "framework": "Django", "database": "Postgres"}
EXPRESS = {"language": "TypeScript", "framework": "Express", "database": "Mongo"}
GO = {"language": "Go", "framework": "Gin", "database": "PostgreSQL"}
INVOICES = "REST API for invoices and payments with PDF export and email reminders"
GAME = "Mobile game leaderboard with realtime scores"


@pytest.fixture
def history(make_build):
    day = NOW - dt.timedelta(days=10)
    for i in range(8):
        make_build(
            stack=DJANGO,
            requirements=INVOICES,
            status="failed" if i == 0 else "succeeded",
            quality=50 if i == 0 else 85,
            started=day + dt.timedelta(hours=i),
            project_name=f"billing-{i}",
        )
    for i in range(2):
        make_build(
            stack=EXPRESS,
            requirements="Invoices REST API with payments",
            quality=95,
            started=day + dt.timedelta(hours=20 + i),
        )
    for i in range(10):
        make_build(stack=GO, requirements=GAME, quality=90, started=day + dt.timedelta(hours=30 + i))


def suggest(team, text, **kw):
    return selectors.stack_suggest(team=team, requirements=text, now=NOW, **kw)


def test_similar_builds_rank_by_wilson_bound_times_quality(team, history):
    result = suggest(team, "An API for invoices and payments, sending reminders by email")
    assert result["basis"] == "similar_builds" and result["fallback"] is False
    assert result["similar_builds"] == 10  # the 8 Django and 2 Express builds; the game is not similar
    keys = [s["stack_key"] for s in result["suggestions"]]
    assert keys == ["python + django + postgresql", "typescript + express + mongodb"]
    top, second = result["suggestions"]
    assert (top["builds"], top["succeeded"], top["failed"]) == (8, 7, 1)
    assert top["stack"] == DJANGO and top["components"] == ["python", "django", "postgresql"]
    assert top["success_rate"] == pytest.approx(7 / 8)
    assert top["avg_quality"] == pytest.approx((50 + 7 * 85) / 8)
    assert top["score"] == pytest.approx(top["wilson_lower_bound"] * top["avg_quality"] / 100)
    # Two perfect builds of quality 95 still rank below 7 of 8: a small sample is not proof.
    assert second["success_rate"] == 1.0 and second["avg_quality"] == 95 and second["score"] < top["score"]
    assert second["small_sample"] is True
    assert len(top["evidence"]) == 5 and all(e["similarity"] > 0 for e in top["evidence"])
    assert {e["project_name"][:7] for e in top["evidence"]} == {"billing"}


def test_required_and_excluded_components_use_aliases(team, history):
    only_mongo = suggest(team, INVOICES, require=["mongodb"])
    assert only_mongo["similar_builds"] == 2
    no_postgres = suggest(team, INVOICES, exclude=["postgres"])
    assert all("postgresql" not in s["components"] for s in no_postgres["suggestions"])
    assert no_postgres["fallback"] is True  # 2 similar builds left, fewer than the minimum


def test_component_overlap_counts_towards_similarity(team, history):
    # No word of the game's requirements, but its components named: the Go builds become similar.
    result = suggest(team, "Something written in golang using gin")
    assert result["basis"] == "similar_builds"
    assert result["suggestions"][0]["stack_key"] == "go + gin + postgresql"


def test_fallback_is_labelled_and_ranks_the_teams_strongest_stacks(team, history):
    result = suggest(team, "Quantum chemistry simulation of molecules")
    assert result["basis"] == "team_history" and result["fallback"] is True
    assert result["similar_builds"] == 0
    assert "strongest stacks overall" in result["note"]
    assert [s["stack_key"] for s in result["suggestions"]][0] == "go + gin + postgresql"  # 10 of 10 succeeded
    assert result["suggestions"][0]["components"] == ["go", "gin", "postgresql"]
    assert result["suggestions"][0]["stack"] == GO
    assert all(e["status"] == "succeeded" for s in result["suggestions"] for e in s["evidence"])


def test_no_history_at_all(team):
    result = suggest(team, INVOICES)
    assert result["basis"] == "none" and result["suggestions"] == []


def test_other_teams_builds_are_never_evidence(team, other_team, make_build):
    for i in range(6):
        make_build(team=other_team, stack=DJANGO, requirements=INVOICES, started=NOW - dt.timedelta(days=1, hours=i))
    assert suggest(team, INVOICES)["basis"] == "none"


def test_minimum_similar_builds_is_a_setting(team, history, monkeypatch):
    from teammemory import conf

    monkeypatch.setattr(conf, "SUGGEST_MIN_SIMILAR", 50)
    assert suggest(team, INVOICES)["basis"] == "team_history"
