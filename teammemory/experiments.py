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


def _alternative(named, candidates, ordered):
    """The version to run against ``named``: the first of ``candidates`` (the installed version,
    the latest) that is another version, else the one before it (``ordered``: the agent's
    versions, newest first)."""
    for candidate in candidates:
        if candidate is not None and candidate.pk != named.pk:
            return candidate
    older = [v for v in ordered if v.sort_tuple < named.sort_tuple]
    return older[0] if older else None


def _plans(team, recs: list[dict]) -> list:
    """For each of ``recs``: (agent, variants) when the finding can become an experiment (its
    agent owned or installed, its version found, an alternative to run against it), else None.
    The same few queries however many findings."""
    refs = [rec["evidence"].get("agent") if rec.get("kind") in KINDS else None for rec in recs]
    agents = marketplace_selectors.agents_owned_or_installed(team=team, refs=[r for r in refs if r is not None])
    wanted = [
        (agents[ref], rec["evidence"].get("version")) for ref, rec in zip(refs, recs, strict=True) if ref in agents
    ]
    named = marketplace_selectors.versions_for_agents_bulk(pairs=wanted) if wanted else {}
    found = [(agent, named[(agent.pk, version)]) for agent, version in wanted if (agent.pk, version) in named]
    installed = marketplace_selectors.installed_versions(team=team, agent_ids={a.pk for a, _ in found}) if found else {}
    candidates = {agent.pk: (installed.get(agent.pk), agent.latest_version) for agent, _ in found}
    # The agent's other versions only where neither the installed nor the latest one will do.
    fallback = {a.pk for a, v in found if all(c is None or c.pk == v.pk for c in candidates[a.pk])}
    ordered = marketplace_selectors.versions_ordered_bulk(agent_ids=fallback) if fallback else {}
    plans = []
    for ref, rec in zip(refs, recs, strict=True):
        agent = agents.get(ref) if ref is not None else None
        version = named.get((agent.pk, rec["evidence"].get("version"))) if agent is not None else None
        other = _alternative(version, candidates[agent.pk], ordered.get(agent.pk, ())) if version else None
        plans.append(
            None
            if other is None
            else (
                agent,
                [
                    VersionVariant(f"builds' {version.version}", version, is_control=True),
                    VersionVariant(f"{other.version}", other),
                ],
            )
        )
    return plans


def with_experiments(*, team, recommendations: list[dict]) -> list[dict]:
    """Each recommendation with ``agent`` (its subject), ``experiment`` (the one it started, or
    None) and ``experiment_possible``; the same queries however many recommendations there are."""
    keys = [source_key(rec) for rec in recommendations if rec["kind"] in KINDS]
    started = improvement_selectors.experiments_by_source(team=team, source_kind=SOURCE_KIND, keys=keys)
    plans = _plans(team, recommendations)
    return [
        {
            **rec,
            "agent": _subject(rec),
            "experiment": started.get(source_key(rec)),
            "experiment_possible": plan is not None,
        }
        for rec, plan in zip(recommendations, plans, strict=True)
    ]


def recommendation_experiment_start(*, team, recommendations: list[dict], kind: str, agent: str, user=None):
    """Start the experiment of the finding ``kind`` about ``agent`` ("team/agent version") among the
    recomputed ``recommendations``. Returns (experiment, created)."""
    rec = next((r for r in recommendations if r["kind"] == kind and _subject(r) == agent), None)
    if rec is None:
        raise ValidationError({"kind": "No such recommendation in this period."})
    (plan,) = _plans(team, [rec])
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
