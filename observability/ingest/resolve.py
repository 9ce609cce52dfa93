"""Ingest, step 2: what an event refers to in other apps (marketplace agents and versions,
improvement variants) and its price. One lookup per distinct reference, per-event errors."""

from __future__ import annotations

from crucible import validation as v
from improvement import services as improvement_services
from marketplace import selectors as marketplace_selectors
from observability.pricing import PriceBook

# Improvement names the fields of a result; an event sent them under these names.
RESULT_TO_EVENT_FIELD = {
    "variant_id": "variant_id",
    "assignment_id": "variant_id",
    "success": "status",
    "duration_ms": "duration_ms",
    "quality": "quality",
    "tokens": "output_tokens",
    "cost": "cost",
}


def agents_resolve(team, rows: dict[int, dict], errors: dict[int, v.Errors]) -> None:
    """Marketplace agents and versions by reference (one query for all the batch's agents, one for
    their versions); an unknown one is an error of its event, which leaves ``rows``."""
    refs = {row["agent_ref"] for row in rows.values() if row["agent_ref"] is not None}
    if not refs:
        return
    agents = marketplace_selectors.agents_for_team_bulk(team=team, refs=refs)  # one query for the batch
    versions = marketplace_selectors.versions_for_agents_bulk(
        pairs={
            (agents[r["agent_ref"]], r["version"]) for r in rows.values() if r["agent_ref"] in agents and r["version"]
        }
    )
    for index, row in list(rows.items()):
        ref = row["agent_ref"]
        if ref is None:
            continue
        agent = agents.get(ref)
        if agent is None:
            errors.setdefault(index, v.Errors()).add(
                "agent_ref", f"No agent '{ref}' in this team or the public marketplace."
            )
            del rows[index]
            continue
        row["agent_id"] = agent.pk
        if not row["agent_name"]:
            row["agent_name"] = agent.slug
        if row["version"]:
            version = versions.get((agent.pk, row["version"]))
            if version is None:
                errors.setdefault(index, v.Errors()).add(
                    "agent_version", f"Agent '{ref}' has no version '{row['version']}'."
                )
                del rows[index]
                continue
            row["agent_version_id"] = version.pk


def variant_result(row: dict) -> dict:
    """The experiment result an execution that names a prompt variant gives (improvement's format)."""
    return {
        "variant_id": row["variant_id"],
        "success": row["status"] == "success",
        "duration_ms": row["duration_ms"],
        "quality": row["quality"],
        "tokens": row["input_tokens"] + row["output_tokens"],
        "cost": row["cost"],
    }


def event_errors_of_result(problems: v.Errors) -> v.Errors:
    """Improvement's refusal of a result, under the names the event used."""
    out = v.Errors()
    for name, messages in problems.as_dict().items():
        field = RESULT_TO_EVENT_FIELD.get(name, "variant_id")
        for message in messages:
            out.add(field, message)
    return out


def variants_check(team, rows: dict[int, dict], errors: dict[int, v.Errors]) -> None:
    """Improvement's rules for the result of each event that names a variant (variant of this
    team, active, its experiment taking results, values within its limits). An event whose result
    would be refused is an error of that event only, and leaves ``rows``."""
    indexes = [index for index, row in rows.items() if row["variant_id"] is not None]
    if not indexes:
        return
    _, problems = improvement_services.results_check(team=team, results=[variant_result(rows[i]) for i in indexes])
    for index, problem in zip(indexes, problems, strict=True):
        if problem:
            errors.setdefault(index, v.Errors()).merge(event_errors_of_result(problem))
            del rows[index]


def price(rows: dict[int, dict]) -> None:
    """A cost for each event that brings none, from the model price book (or none: unpriced)."""
    book = PriceBook.load()
    for row in rows.values():
        if row["cost"] is not None:
            row["cost_source"] = "client"
            continue
        row["cost"] = book.cost(
            model=row["model"],
            on=row["started_at"].date(),
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            cached_input_tokens=row["cached_input_tokens"],
            reasoning_tokens=row["reasoning_tokens"],
        )
        row["cost_source"] = "price" if row["cost"] is not None else "none"
