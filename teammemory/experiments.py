"""From finding to experiment (team memory): a ``worse_agent_version`` finding names an agent
version that builds do worse with; "start an experiment" runs that version (control, what the
builds use) against the alternative the team would switch to: its installed version when it
differs, else the agent's latest, else the version before. The experiment keeps the finding
(``source_key`` = ``kind:agent version``) and the insights page links each to the other."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from improvement import selectors as improvement_selectors
from improvement import services as improvement_services
from improvement.services import VersionVariant
from marketplace import selectors as marketplace_selectors

SOURCE_KIND = "teammemory"
KINDS = ("worse_agent_version",)


def _subject(rec: dict) -> str:
    evidence = rec.get("evidence", {})
    return f"{evidence.get('agent')} {evidence.get('version')}"


def source_key(rec: dict) -> str:
    return f"{rec['kind']}:{_subject(rec)}"


def _alternative(team, agent, named):
    """The version to run against ``named``: installed, else latest, else the one before it."""
    installation = marketplace_selectors.installation_for_team(team=team, agent=agent)
    for candidate in (installation.version if installation else None, agent.latest_version):
        if candidate is not None and candidate.pk != named.pk:
            return candidate
    older = [v for v in marketplace_selectors.versions_ordered(agent=agent) if v.sort_tuple < named.sort_tuple]
    return older[0] if older else None


def _plan(team, rec: dict):
    if rec.get("kind") not in KINDS:
        return None
    evidence = rec["evidence"]
    ref = evidence.get("agent")
    agent = marketplace_selectors.agents_owned_or_installed(team=team, refs=[ref]).get(ref)
    if agent is None:
        return None
    named = marketplace_selectors.version_for_agent(agent=agent, version=evidence.get("version"))
    other = _alternative(team, agent, named) if named is not None else None
    if other is None:
        return None
    return agent, [
        VersionVariant(f"builds' {named.version}", named, is_control=True),
        VersionVariant(f"{other.version}", other),
    ]


def with_experiments(*, team, recommendations: list[dict]) -> list[dict]:
    """Each recommendation with ``agent`` (its subject), ``experiment`` (the one it started, or
    None) and ``experiment_possible``."""
    keys = [source_key(rec) for rec in recommendations if rec["kind"] in KINDS]
    started = improvement_selectors.experiments_by_source(team=team, source_kind=SOURCE_KIND, keys=keys)
    out = []
    for rec in recommendations:
        possible = rec["kind"] in KINDS and _plan(team, rec) is not None
        out.append(
            {**rec, "agent": _subject(rec), "experiment": started.get(source_key(rec)), "experiment_possible": possible}
        )
    return out


def recommendation_experiment_start(*, team, recommendations: list[dict], kind: str, agent: str, user=None):
    """Start the experiment of the finding ``kind`` about ``agent`` ("team/agent version") among the
    recomputed ``recommendations``. Returns (experiment, created)."""
    rec = next((r for r in recommendations if r["kind"] == kind and _subject(r) == agent), None)
    if rec is None:
        raise ValidationError({"kind": "No such recommendation in this period."})
    plan = _plan(team, rec)
    if plan is None:
        raise ValidationError(
            {"agent": "This finding names no agent version your team can experiment on (own or installed)."}
        )
    marketplace_agent, variants = plan
    return improvement_services.experiment_versions_start(
        team=team,
        agent=marketplace_agent,
        name=f"{marketplace_agent.slug}: {variants[0].version.version} vs {variants[1].version.version}",
        description=f"From the team memory recommendation: {rec['title']}",
        variants=variants,
        source_kind=SOURCE_KIND,
        source_key=source_key(rec),
        created_by=user,
    )
