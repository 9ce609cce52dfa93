"""Writes of team memory. One use case, one function, one transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from marketplace.selectors import agents_for_team_bulk, versions_for_agents_bulk
from teammemory import conf, rollups
from teammemory.models import Build, BuildAgent, BuildError, BuildStatus
from teammemory.stacks import normalize_role, normalize_stack, stack_components, stack_key

MAX_COMPONENT_CHARS = 80
MAX_ROLE_CHARS = 40
MAX_ERROR_TYPE_CHARS = 200
MAX_ERROR_MESSAGE_CHARS = 4000
MAX_COST = Decimal("99999999.999999")
MAX_TOKENS = 10**12  # as observability and improvement; sums of many builds stay within bigint


def _add(errors: dict, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _check_stack(stack, errors: dict) -> dict[str, str]:
    if stack is None:
        return {}
    if not isinstance(stack, dict):
        _add(errors, "stack", 'Send the stack as an object {role: component}, e.g. {"database": "PostgreSQL"}.')
        return {}
    if len(stack) > conf.MAX_COMPONENTS:
        _add(errors, "stack", f"A stack has at most {conf.MAX_COMPONENTS} components.")
        return {}
    cleaned: dict[str, str] = {}
    seen_roles: dict[str, str] = {}
    for role, name in stack.items():
        field = f"stack.{role}"
        if not isinstance(name, str) or not name.strip():
            _add(errors, field, "Name the component with a non-empty string.")
            continue
        if len(name.strip()) > MAX_COMPONENT_CHARS or len(str(role).strip()) > MAX_ROLE_CHARS:
            _add(errors, field, f"Roles have at most {MAX_ROLE_CHARS} characters, components {MAX_COMPONENT_CHARS}.")
            continue
        if not str(role).strip():
            _add(errors, "stack", "Every component needs a role (e.g. 'language').")
            continue
        norm_role = normalize_role(role)
        if norm_role in seen_roles:
            _add(errors, field, f"'{role}' is the same role as '{seen_roles[norm_role]}'.")
            continue
        seen_roles[norm_role] = role
        cleaned[str(role).strip()] = " ".join(name.split())
    return cleaned


def _resolve_agents(team, agents, errors: dict) -> list[tuple]:
    """[(agent, version or None)] through marketplace's selectors; unknown refs are field errors."""
    if not agents:
        return []
    if not isinstance(agents, (list, tuple)):
        _add(errors, "agents", 'Send a list of {"agent": ref, "version": "1.2.0"}.')
        return []
    if len(agents) > conf.MAX_AGENTS_PER_BUILD:
        _add(errors, "agents", f"At most {conf.MAX_AGENTS_PER_BUILD} agents per build.")
        return []
    named = []  # (index, ref, version_ref) of well-formed items
    for index, item in enumerate(agents):
        if isinstance(item, str):
            item = {"agent": item}
        ref = item.get("agent") if isinstance(item, dict) else None
        if not isinstance(ref, (str, int)) or isinstance(ref, bool) or str(ref).strip() == "":
            _add(errors, f"agents.{index}.agent", "Name the agent (its id, slug or team-slug/slug).")
            continue
        named.append((index, ref, item.get("version")))
    # One query for all the agents, one for all the named versions.
    found = agents_for_team_bulk(team=team, refs=[ref for _, ref, _ in named])
    versions = versions_for_agents_bulk(
        pairs=[(found[ref], v) for _, ref, v in named if ref in found and isinstance(v, str) and v]
    )
    resolved: list[tuple] = []
    seen: set[tuple] = set()
    for index, ref, version_ref in named:
        agent = found.get(ref)
        if agent is None:
            _add(errors, f"agents.{index}.agent", f"No agent '{ref}' that this team can use.")
            continue
        version = None
        if version_ref not in (None, ""):
            if not isinstance(version_ref, str):
                _add(errors, f"agents.{index}.version", "Give the version as a string such as '1.2.0'.")
                continue
            version = versions.get((agent.pk, version_ref))
            if version is None:
                _add(errors, f"agents.{index}.version", f"Agent '{ref}' has no version '{version_ref}'.")
                continue
        key = (agent.pk, version.pk if version else None)
        if key not in seen:
            seen.add(key)
            resolved.append((agent, version))
    return resolved


def _check_errors(build_errors, errors: dict) -> list[tuple[str, str]]:
    if not build_errors:
        return []
    if not isinstance(build_errors, (list, tuple)):
        _add(errors, "errors", 'Send a list of {"type": ..., "message": ...}.')
        return []
    if len(build_errors) > conf.MAX_ERRORS_PER_BUILD:
        _add(errors, "errors", f"At most {conf.MAX_ERRORS_PER_BUILD} errors per build.")
        return []
    out = []
    for index, item in enumerate(build_errors):
        if not isinstance(item, dict):
            _add(errors, f"errors.{index}", 'Send {"type": ..., "message": ...}.')
            continue
        error_type, message = item.get("type"), item.get("message", "")
        if not isinstance(error_type, str) or not error_type.strip():
            _add(errors, f"errors.{index}.type", "Name the error type (e.g. 'TimeoutError').")
            continue
        if len(error_type.strip()) > MAX_ERROR_TYPE_CHARS:
            _add(errors, f"errors.{index}.type", f"At most {MAX_ERROR_TYPE_CHARS} characters.")
            continue
        if message is None:
            message = ""
        if not isinstance(message, str) or len(message) > MAX_ERROR_MESSAGE_CHARS:
            _add(errors, f"errors.{index}.message", f"A string of at most {MAX_ERROR_MESSAGE_CHARS} characters.")
            continue
        out.append((error_type.strip(), message))
    return out


def _execution_failures(results) -> dict[str, list[str]]:
    """Per-event results of observability's ingest (``{"index", "id", "status": "stored" |
    "duplicate" | "error", "field", "message"}``) that are errors, as field errors of the report."""
    failures: dict[str, list[str]] = {}
    for position, result in enumerate(results or []):
        if not isinstance(result, dict) or result.get("status") != "error":
            continue
        index = result.get("index", position)
        field = result.get("field")
        name = f"executions.{index}.{field}" if field and field != "non_field_errors" else f"executions.{index}"
        failures.setdefault(name, []).append(str(result.get("message") or "This execution was rejected."))
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
    """Store one build report. A report whose ``client_build_id`` the team already has is not
    stored again: the stored build comes back with ``created=False`` (safe to retry, also when two
    copies race). Everything is checked before anything is written; a bad report writes nothing."""
    if not isinstance(client_build_id, str) or not client_build_id.strip() or len(client_build_id) > 200:
        raise ValidationError({"client_build_id": "A non-empty id of at most 200 characters, made by the client."})
    client_build_id = client_build_id.strip()
    existing = Build.objects.filter(team=team, client_build_id=client_build_id).first()
    if existing is not None:
        return existing, False

    problems: dict[str, list[str]] = {}
    if status not in BuildStatus.values:
        _add(problems, "status", f"One of {', '.join(BuildStatus.values)}.")
    if not isinstance(project_name, str) or len(project_name) > 200:
        _add(problems, "project_name", "At most 200 characters.")
    if not isinstance(requirements, str):
        _add(problems, "requirements", "Send the requirements as text.")
    elif len(requirements) > conf.MAX_REQUIREMENTS_CHARS:
        _add(problems, "requirements", f"At most {conf.MAX_REQUIREMENTS_CHARS} characters.")
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100):
        _add(problems, "quality", "Quality is a whole number from 0 to 100.")
    for name, value in (("started_at", started_at), ("finished_at", finished_at)):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            _add(problems, name, "A date and time with a time zone (ISO 8601).")
    if "started_at" not in problems and "finished_at" not in problems and finished_at < started_at:
        _add(problems, "finished_at", "A build cannot finish before it starts.")
    if isinstance(tokens, bool) or not isinstance(tokens, int) or not 0 <= tokens <= MAX_TOKENS:
        _add(problems, "tokens", "A whole number of tokens, 0 or more.")
    try:
        cost = Decimal(str(cost))
        if not cost.is_finite() or cost < 0 or cost > MAX_COST:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        _add(problems, "cost", f"A cost from 0 to {MAX_COST}.")
    cleaned_stack = _check_stack(stack, problems)
    build_errors = _check_errors(errors, problems)
    agent_uses = _resolve_agents(team, agents, problems)
    if executions is not None and (
        not isinstance(executions, (list, tuple)) or len(executions) > conf.MAX_EXECUTIONS_PER_BUILD
    ):
        _add(problems, "executions", f"A list of at most {conf.MAX_EXECUTIONS_PER_BUILD} execution events.")
    if problems:
        raise ValidationError(problems)

    normalized = normalize_stack(cleaned_stack)
    build = Build(
        team=team,
        client_build_id=client_build_id,
        project_name=project_name.strip(),
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

    if executions:
        from observability.services import executions_ingest

        try:
            results = executions_ingest(team=team, events=list(executions), build=build, api_key=api_key)
        except ValidationError as exc:
            messages = exc.message_dict.get("events") if hasattr(exc, "error_dict") else exc.messages
            raise ValidationError({"executions": messages or exc.messages})
        failures = _execution_failures(results)
        if failures:
            raise ValidationError(failures)  # rolls back the build with the executions
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
