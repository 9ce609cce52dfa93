"""Writes of team memory. One use case, one function, one transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from crucible import limits
from crucible import validation as v
from marketplace import services as marketplace_services
from marketplace.selectors import agents_for_team_bulk, versions_for_agents_bulk
from observability.services import executions_ingest
from teammemory import conf, rollups
from teammemory.models import Build, BuildAgent, BuildError, BuildStatus
from teammemory.stacks import normalize_role, normalize_stack, stack_components, stack_key

MAX_COMPONENT_CHARS = 80
MAX_ROLE_CHARS = 40
# Decimal places of a build's cost (Build.cost).
COST_PLACES = 6


def _check_stack(stack, errors: v.Errors) -> dict[str, str]:
    if stack is None:
        return {}
    if not isinstance(stack, dict):
        errors.add("stack", 'Send the stack as an object {role: component}, e.g. {"database": "PostgreSQL"}.')
        return {}
    if len(stack) > conf.MAX_COMPONENTS:
        errors.add("stack", f"A stack has at most {conf.MAX_COMPONENTS} components.")
        return {}
    cleaned: dict[str, str] = {}
    seen_roles: dict[str, str] = {}
    for role, name in stack.items():
        field = f"stack.{role}"
        if not isinstance(name, str) or not name.strip():
            errors.add(field, "Name the component with a non-empty string.")
            continue
        if len(name.strip()) > MAX_COMPONENT_CHARS or len(str(role).strip()) > MAX_ROLE_CHARS:
            errors.add(field, f"Roles have at most {MAX_ROLE_CHARS} characters, components {MAX_COMPONENT_CHARS}.")
            continue
        if not str(role).strip():
            errors.add("stack", "Every component needs a role (e.g. 'language').")
            continue
        norm_role = normalize_role(role)
        if norm_role in seen_roles:
            errors.add(field, f"'{role}' is the same role as '{seen_roles[norm_role]}'.")
            continue
        seen_roles[norm_role] = role
        cleaned[str(role).strip()] = " ".join(name.split())
    return cleaned


def _resolve_agents(team, agents, errors: v.Errors) -> list[tuple]:
    """[(agent, version or None)] through marketplace's selectors; unknown refs are field errors."""
    if not agents:
        return []
    if not isinstance(agents, (list, tuple)):
        errors.add("agents", 'Send a list of {"agent": ref, "version": "1.2.0"}.')
        return []
    if len(agents) > conf.MAX_AGENTS_PER_BUILD:
        errors.add("agents", f"At most {conf.MAX_AGENTS_PER_BUILD} agents per build.")
        return []
    named = []  # (index, ref, version_ref) of well-formed items
    for index, item in enumerate(agents):
        if isinstance(item, str):
            item = {"agent": item}
        ref = item.get("agent") if isinstance(item, dict) else None
        if not isinstance(ref, (str, int)) or isinstance(ref, bool) or str(ref).strip() == "":
            errors.add(f"agents.{index}.agent", "Name the agent (its id, slug or team-slug/slug).")
            continue
        named.append((index, ref, item.get("version")))
    # One query for all the agents, one for all the named versions.
    found = agents_for_team_bulk(team=team, refs=[ref for _, ref, _ in named])
    versions = versions_for_agents_bulk(
        pairs=[(found[ref], ver) for _, ref, ver in named if ref in found and isinstance(ver, str) and ver]
    )
    resolved: list[tuple] = []
    seen: set[tuple] = set()
    for index, ref, version_ref in named:
        agent = found.get(ref)
        if agent is None:
            errors.add(f"agents.{index}.agent", f"No agent '{ref}' that this team can use.")
            continue
        version = None
        if version_ref not in (None, ""):
            if not isinstance(version_ref, str):
                errors.add(f"agents.{index}.version", "Give the version as a string such as '1.2.0'.")
                continue
            version = versions.get((agent.pk, version_ref))
            if version is None:
                errors.add(f"agents.{index}.version", f"Agent '{ref}' has no version '{version_ref}'.")
                continue
        key = (agent.pk, version.pk if version else None)
        if key not in seen:
            seen.add(key)
            resolved.append((agent, version))
    return resolved


def _check_errors(build_errors, errors: v.Errors) -> list[tuple[str, str]]:
    if not build_errors:
        return []
    if not isinstance(build_errors, (list, tuple)):
        errors.add("errors", 'Send a list of {"type": ..., "message": ...}.')
        return []
    if len(build_errors) > conf.MAX_ERRORS_PER_BUILD:
        errors.add("errors", f"At most {conf.MAX_ERRORS_PER_BUILD} errors per build.")
        return []
    out = []
    for index, item in enumerate(build_errors):
        if not isinstance(item, dict):
            errors.add(f"errors.{index}", 'Send {"type": ..., "message": ...}.')
            continue
        error_type, message = item.get("type"), item.get("message", "")
        if not isinstance(error_type, str) or not error_type.strip():
            errors.add(f"errors.{index}.type", "Name the error type (e.g. 'TimeoutError').")
            continue
        if len(error_type.strip()) > limits.LABEL_CHARS:
            errors.add(f"errors.{index}.type", f"At most {limits.LABEL_CHARS} characters.")
            continue
        if message is None:
            message = ""
        if not isinstance(message, str) or len(message) > limits.ERROR_MESSAGE_CHARS:
            errors.add(f"errors.{index}.message", f"A string of at most {limits.ERROR_MESSAGE_CHARS} characters.")
            continue
        out.append((error_type.strip(), message))
    return out


def _execution_failures(results) -> v.Errors:
    """Per-event results of observability's ingest (``{"index", "id", "status": "stored" |
    "duplicate" | "error", "field", "message", "fields"}``) that are errors, as errors of the
    report: every bad field of an event as ``executions.<index>.<field>``."""
    failures = v.Errors()
    for position, result in enumerate(results or []):
        if not isinstance(result, dict) or result.get("status") != "error":
            continue
        at = failures.at("executions", result.get("index", position))
        fields = result.get("fields") or {result.get("field"): [result.get("message")]}
        for field, messages in fields.items():
            for message in messages:
                at.add(
                    None if field in (None, "", "non_field_errors") else field,
                    str(message or "This execution was rejected."),
                )
    return failures


@transaction.atomic
def build_record(
    *,
    team,
    client_build_id: str,
    status: str,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    project_name: str = "",
    requirements: str = "",
    stack: dict | None = None,
    quality: int | None = None,
    tokens: int = 0,
    cost=0,
    agents=None,
    errors=None,
    executions=None,
    reported_by=None,
    api_key=None,
) -> tuple[Build, bool]:
    """Store one build report. A valid report whose ``client_build_id`` the team already has is not
    stored again: the stored build comes back with ``created=False`` (safe to retry, also when two
    copies race). Everything is checked first, a retry included; a bad report writes nothing."""
    problems = v.Errors()
    client_build_id = problems.check(
        "client_build_id", v.text, client_build_id, max_length=limits.LABEL_CHARS, required=True
    )
    problems.check("status", v.choice, status, BuildStatus.values)
    project_name = problems.check("project_name", v.text, project_name, max_length=limits.LABEL_CHARS)
    requirements = problems.check(
        "requirements", v.text, requirements, max_length=conf.MAX_REQUIREMENTS_CHARS, strip=False
    )
    quality = problems.check("quality", v.whole, quality, low=limits.MIN_QUALITY, high=limits.MAX_QUALITY)
    started_at = problems.check("started_at", v.timestamp, started_at)
    finished_at = problems.check("finished_at", v.timestamp, finished_at)
    if started_at is not None and finished_at is not None and finished_at < started_at:
        problems.add("finished_at", "A build cannot finish before it starts.")
    tokens = problems.check("tokens", v.whole, tokens, low=0, high=limits.MAX_TOKENS, default=0)
    cost = problems.check("cost", v.money, cost, places=COST_PLACES, high=limits.MAX_COST, default=Decimal(0))
    cleaned_stack = _check_stack(stack, problems)
    build_errors = _check_errors(errors, problems)
    agent_uses = _resolve_agents(team, agents, problems)
    if executions is not None and (
        not isinstance(executions, (list, tuple)) or len(executions) > conf.MAX_EXECUTIONS_PER_BUILD
    ):
        problems.add("executions", f"A list of at most {conf.MAX_EXECUTIONS_PER_BUILD} execution events.")
    problems.raise_if_any()
    # A retry of a stored report is answered with the stored build, but only once it is a valid
    # report itself: an invalid one is refused whatever its id (it used to come back as 200).
    existing = Build.objects.filter(team=team, client_build_id=client_build_id).first()
    if existing is not None:
        return existing, False

    normalized = normalize_stack(cleaned_stack)
    build = Build(
        team=team,
        client_build_id=client_build_id,
        project_name=project_name,
        requirements=requirements,
        stack=cleaned_stack,
        components=stack_components(normalized),
        stack_key=stack_key(normalized),
        status=status,
        quality=quality,
        started_at=started_at,
        finished_at=finished_at,
        duration_ms=int((finished_at - started_at) / dt.timedelta(milliseconds=1)),
        tokens=tokens,
        cost=cost,
        reported_by=reported_by if getattr(reported_by, "pk", None) else None,
        api_key=api_key,
    )
    try:
        with transaction.atomic():
            build.save(force_insert=True)
    except IntegrityError:
        # The same report arrived twice at once: the other copy committed first.
        existing = Build.objects.filter(team=team, client_build_id=client_build_id).first()
        if existing is None:
            raise
        return existing, False

    BuildAgent.objects.bulk_create([BuildAgent(build=build, agent=a, agent_version=v) for a, v in agent_uses])
    BuildError.objects.bulk_create([BuildError(build=build, error_type=t, message=m) for t, m in build_errors])
    # The daily rollups the insights read: added in the database, in this transaction.
    rollups.record_build(build=build, agent_uses=agent_uses, build_errors=build_errors)
    # The marketplace's version evidence: this build beside the team's other builds.
    marketplace_services.version_evidence_build_record(
        team_id=team.pk,
        day=started_at.astimezone(dt.UTC).date(),
        succeeded=status == BuildStatus.SUCCEEDED,
        quality=quality,
        version_ids=[version.pk for _, version in agent_uses if version is not None],
    )

    if executions:
        try:
            results = executions_ingest(team=team, events=list(executions), build=build, api_key=api_key)
        except ValidationError as exc:
            messages = exc.message_dict.get("events") if hasattr(exc, "error_dict") else exc.messages
            raise ValidationError({"executions": messages or exc.messages}) from None
        # Rolls back the build with the executions (a report is stored whole or not at all).
        _execution_failures(results).raise_if_any()
    return build, True


@transaction.atomic
def rollups_rebuild(*, start_day: dt.date, end_day: dt.date, team=None) -> dict[str, int]:
    """Recompute the daily rollups of [start_day, end_day) (UTC days) from the raw builds, for one
    team or all. Returns the rows written per table."""
    if end_day <= start_day:
        raise ValidationError({"end_day": "The end must be after the start."})
    return rollups.rebuild(team_ids=None if team is None else [team.pk], start_day=start_day, end_day=end_day)


def rollups_rebuild_all(*, teams) -> dict[str, int]:
    """Rebuild every day of the given teams' builds (after a bulk insert such as the demo seed)."""
    from django.db.models import Max, Min

    ids = [t.pk for t in teams]
    span = Build.objects.filter(team_id__in=ids).aggregate(lo=Min("started_at"), hi=Max("started_at"))
    if span["lo"] is None:
        return {}
    start_day = span["lo"].astimezone(dt.UTC).date()
    end_day = span["hi"].astimezone(dt.UTC).date() + dt.timedelta(days=1)
    with transaction.atomic():
        return rollups.rebuild(team_ids=ids, start_day=start_day, end_day=end_day)
