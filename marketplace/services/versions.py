"""Versions: publish (the cross-app contract, docs/architecture.md), yank and un-yank."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from crucible import limits
from crucible import validation as v
from marketplace import conf
from marketplace.models import VERSION_ORDER_DESC, Agent, AgentVersion
from marketplace.services._common import _lock_agent
from marketplace.services.validation import _clean_model_hints, _clean_text, parse_version, validate_json_schema
from marketplace.versioning import SemVer


def refresh_latest_version(agent: Agent) -> AgentVersion | None:
    """Point ``agent.latest_version`` at the newest release that is not yanked (or, when there is
    no such release, the newest pre-release that is not yanked)."""
    latest = (
        AgentVersion.objects.filter(agent_id=agent.pk, is_yanked=False)
        .order_by("-is_release", *[f for f in VERSION_ORDER_DESC if f != "-is_release"])
        .first()
    )
    Agent.objects.filter(pk=agent.pk).update(latest_version=latest, updated_at=timezone.now())
    agent.latest_version = latest
    return latest


def version_validate(
    *,
    agent: Agent,
    system_prompt: str,
    version: str | None = None,
    changelog: str = "",
    input_schema=None,
    output_schema=None,
    model_hints=None,
) -> dict:
    """Every check of ``version_publish`` without writing anything: raises one ``ValidationError``
    naming every bad field, or returns the clean fields. Forms call it to show all errors at once."""
    newest = AgentVersion.objects.filter(agent=agent).order_by(*VERSION_ORDER_DESC).first()
    errors = v.Errors()
    system_prompt = errors.check(
        None, _clean_text, system_prompt, "system_prompt", conf.MAX_SYSTEM_PROMPT_CHARS, required=True
    )
    changelog = errors.check(None, _clean_text, changelog, "changelog", limits.CHANGELOG_CHARS)
    if version is None or version == "":
        parsed = SemVer(1, 0, 0) if newest is None else SemVer(newest.major, newest.minor + 1, 0)
    else:
        parsed = errors.check(None, parse_version, version)
    if (
        parsed is not None
        and AgentVersion.objects.filter(
            agent=agent, major=parsed.major, minor=parsed.minor, patch=parsed.patch, prerelease=parsed.prerelease
        ).exists()
    ):
        errors.add("version", f"Version {parsed} of this agent already exists; versions are never reused.")
    if input_schema is None and newest is not None:
        input_schema = newest.input_schema
    if output_schema is None and newest is not None:
        output_schema = newest.output_schema
    if model_hints is None and newest is not None:
        model_hints = newest.model_hints
    input_schema = errors.check(None, validate_json_schema, input_schema, "input_schema")
    output_schema = errors.check(None, validate_json_schema, output_schema, "output_schema")
    model_hints = errors.check(None, _clean_model_hints, model_hints)
    errors.raise_if_any()
    return {
        "parsed": parsed,
        "system_prompt": system_prompt,
        "changelog": changelog,
        "input_schema": input_schema,
        "output_schema": output_schema,
        "model_hints": model_hints,
    }


@transaction.atomic
def version_publish(
    *,
    agent: Agent,
    system_prompt: str,
    version: str | None = None,
    changelog: str = "",
    input_schema=None,
    output_schema=None,
    model_hints=None,
    published_by=None,
) -> AgentVersion:
    """Publish a new immutable version of ``agent``.

    ``version`` None: the next minor version after the latest one (1.4.2 -> 1.5.0; 1.0.0 when the
    agent has none). ``input_schema``/``output_schema``/``model_hints`` None: copied from the
    latest version. A version number is never reused (400 naming ``version``)."""
    caller_agent = agent
    agent = _lock_agent(agent)
    clean = version_validate(
        agent=agent,
        system_prompt=system_prompt,
        version=version,
        changelog=changelog,
        input_schema=input_schema,
        output_schema=output_schema,
        model_hints=model_hints,
    )
    parsed = clean["parsed"]
    row = AgentVersion.objects.create(
        agent=agent,
        version=str(parsed),
        major=parsed.major,
        minor=parsed.minor,
        patch=parsed.patch,
        prerelease=parsed.prerelease,
        is_release=parsed.is_release,
        prerelease_key=parsed.prerelease_key,
        system_prompt=clean["system_prompt"],
        input_schema=clean["input_schema"],
        output_schema=clean["output_schema"],
        model_hints=clean["model_hints"],
        changelog=clean["changelog"],
        published_by=published_by if getattr(published_by, "pk", None) else None,
    )
    caller_agent.latest_version = refresh_latest_version(agent)
    return row


@transaction.atomic
def version_yank(*, version: AgentVersion, reason: str) -> AgentVersion:
    """Yank a version (as PyPI does): never chosen by default any more, but a team that pins it
    can still install it, and the reason is shown."""
    reason = _clean_text(reason, "reason", limits.SHORT_TEXT_CHARS, required=True)
    _lock_agent(version.agent)
    AgentVersion.objects.filter(pk=version.pk).update(is_yanked=True, yanked_reason=reason, yanked_at=timezone.now())
    version.refresh_from_db()
    version.agent.latest_version = refresh_latest_version(version.agent)
    return version


@transaction.atomic
def version_unyank(*, version: AgentVersion) -> AgentVersion:
    _lock_agent(version.agent)
    AgentVersion.objects.filter(pk=version.pk).update(is_yanked=False, yanked_reason="", yanked_at=None)
    version.refresh_from_db()
    version.agent.latest_version = refresh_latest_version(version.agent)
    return version
