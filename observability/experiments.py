"""From finding to experiment: the recommendations that name an agent of the marketplace offer
"start an experiment", which creates it in improvement with the variants the finding suggests and
the error-rate guardrail. The experiment keeps the finding (``source_key`` = ``kind:agent``) and
the recommendations page links each finding to its experiment.

- ``expensive_model``: the agent's current version on the expensive model (control) against the
  same version on the cheaper model;
- ``version_regression``: the version after the change (control, what runs now) against the one
  before it (the roll-back);
- ``token_heavy_prompt``: the current version (control) against a copy to trim; the experiment
  stays a draft until the team edits the copy's prompt and starts it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from improvement import selectors as improvement_selectors
from improvement import services as improvement_services
from improvement.services import VersionVariant
from marketplace import selectors as marketplace_selectors

SOURCE_KIND = "observability"
KINDS = ("expensive_model", "token_heavy_prompt", "version_regression")


def source_key(rec: dict) -> str:
    return f"{rec['kind']}:{rec['agent']}"


def _current_version(team, agent):
    installation = marketplace_selectors.installation_for_team(team=team, agent=agent)
    return installation.version if installation is not None else agent.latest_version


def _with_model(hints, model) -> dict:
    return {**(hints or {}), "model": model}


def _expensive_model(team, agent, evidence):
    current = _current_version(team, agent)
    if current is None:
        return None
    return (
        [
            VersionVariant(
                f"{current.version} on {evidence['model']}"[:100],
                current,
                is_control=True,
                model_hints=_with_model(current.model_hints, evidence["model"]),
            ),
            VersionVariant(
                f"{current.version} on {evidence['cheaper_model']}"[:100],
                current,
                model_hints=_with_model(current.model_hints, evidence["cheaper_model"]),
            ),
        ],
        True,
    )


def _token_heavy_prompt(team, agent, evidence):
    current = _current_version(team, agent)
    if current is None:
        return None
    return (
        [
            VersionVariant(f"current {current.version}", current, is_control=True),
            VersionVariant("trimmed prompt", current),
        ],
        False,
    )


def _version_regression(team, agent, evidence):
    after = marketplace_selectors.version_for_agent(agent=agent, version=evidence["version_after"])
    before = marketplace_selectors.version_for_agent(agent=agent, version=evidence["version_before"])
    if after is None or before is None or after.pk == before.pk:
        return None
    return (
        [
            VersionVariant(f"current {after.version}", after, is_control=True),
            VersionVariant(f"back to {before.version}", before),
        ],
        True,
    )


PLANS = {
    "expensive_model": _expensive_model,
    "token_heavy_prompt": _token_heavy_prompt,
    "version_regression": _version_regression,
}


def _plan(team, rec: dict):
    """(agent, variants, start) for a finding that can become an experiment, else None."""
    planner = PLANS.get(rec.get("kind"))
    if planner is None:
        return None
    agent = marketplace_selectors.agents_owned_or_installed(team=team, refs=[rec["agent"]]).get(rec["agent"])
    if agent is None:
        return None
    plan = planner(team, agent, rec["evidence"])
    return None if plan is None else (agent, *plan)


def with_experiments(*, team, recommendations: list[dict]) -> list[dict]:
    """The recommendations, each with ``experiment`` (the one it started, or None) and
    ``experiment_possible`` (it names an agent the team owns or installed); the same queries
    however many recommendations there are."""
    keys = [source_key(rec) for rec in recommendations if rec["kind"] in KINDS]
    started = improvement_selectors.experiments_by_source(team=team, source_kind=SOURCE_KIND, keys=keys)
    usable = marketplace_selectors.agents_owned_or_installed(
        team=team, refs=[rec["agent"] for rec in recommendations if rec["kind"] in KINDS]
    )
    return [
        {
            **rec,
            "experiment": started.get(source_key(rec)),
            "experiment_possible": rec["kind"] in KINDS and rec["agent"] in usable,
        }
        for rec in recommendations
    ]


def recommendation_experiment_start(*, team, recommendations: list[dict], kind: str, agent: str, user=None):
    """Start the experiment of the finding ``kind`` about ``agent`` among ``recommendations`` (the
    current ones, recomputed by the caller: nothing the client sends is trusted). Returns
    (experiment, created); ValidationError when there is no such finding or it cannot become one."""
    rec = next((r for r in recommendations if r["kind"] == kind and r["agent"] == agent), None)
    if rec is None:
        raise ValidationError({"kind": "No such recommendation in this period."})
    plan = _plan(team, rec)
    if plan is None:
        raise ValidationError(
            {"agent": "This finding names no marketplace agent your team owns or installed, so no experiment fits."}
        )
    marketplace_agent, variants, start = plan
    return improvement_services.experiment_versions_start(
        team=team,
        agent=marketplace_agent,
        name=f"{marketplace_agent.slug}: {kind.replace('_', ' ')}",
        description=f"From the observability recommendation: {rec['title']}",
        variants=variants,
        start=start,
        source_kind=SOURCE_KIND,
        source_key=source_key(rec),
        created_by=user,
    )
