"""Agents: validate, create (with the first version), update the listing, list and unlist."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from crucible import limits
from crucible import validation as v
from marketplace import conf
from marketplace.markdown import markdown_render
from marketplace.models import Agent, Category, Visibility
from marketplace.search_words import name_words_add
from marketplace.services._common import _lock_agent
from marketplace.services.validation import (
    _clean_model_hints,
    _clean_text,
    clean_tags,
    parse_version,
    validate_json_schema,
)
from marketplace.services.versions import version_publish

AGENT_EDITABLE_FIELDS = ("name", "summary", "description", "category", "tags", "visibility")


def _check_category(value) -> str:
    category = value or Category.OTHER
    if category not in Category.values:
        raise ValidationError({"category": f"Unknown category '{category}'; one of: {', '.join(Category.values)}."})
    return category


def _check_visibility(value) -> str:
    visibility = value or Visibility.PUBLIC
    if visibility not in Visibility.values:
        raise ValidationError({"visibility": "Either 'public' or 'private'."})
    return visibility


def _agent_fields(data: dict, *, partial: bool, errors: v.Errors | None = None) -> dict:
    """The listing fields of ``data``, cleaned. Every bad field is collected in ``errors``; without
    ``errors`` they are raised together here. A bad field is left out of the result."""
    own_errors = errors is None
    errors = v.Errors() if own_errors else errors
    checks = {
        "name": lambda value: _clean_text(value, "name", limits.NAME_CHARS, required=True),
        "summary": lambda value: _clean_text(value, "summary", limits.SHORT_TEXT_CHARS),
        "description": lambda value: _clean_text(value, "description", conf.MAX_DESCRIPTION_CHARS),
        "category": _check_category,
        "tags": clean_tags,
        "visibility": _check_visibility,
    }
    out = {}
    for name, check in checks.items():
        if partial and name not in data:
            continue
        value = errors.check(None, check, data.get(name))
        if value is not None:
            out[name] = value
    if "description" in out:
        # Rendered once, here, when the text is written; pages and the API show the stored HTML.
        html = errors.check("description", markdown_render, out["description"])
        if html is None:
            del out["description"]
        else:
            out["description_html"] = html
    if "tags" in out:
        out["tags_text"] = " ".join(out["tags"])
    if own_errors:
        errors.raise_if_any()
    return out


def agent_validate(
    *,
    team,
    name: str,
    system_prompt: str,
    slug: str | None = None,
    summary: str = "",
    description: str = "",
    category: str = Category.OTHER,
    tags=None,
    visibility: str = Visibility.PUBLIC,
    version: str | None = "1.0.0",
    changelog: str = "",
    input_schema=None,
    output_schema=None,
    model_hints=None,
) -> tuple[dict, str]:
    """Every check of ``agent_create`` (the agent and its first version) without writing anything:
    raises one ``ValidationError`` naming every bad field, or returns (listing fields, slug).
    Forms call it to show all errors at once, next to the fields."""
    errors = v.Errors()
    fields = _agent_fields(
        {
            "name": name,
            "summary": summary,
            "description": description,
            "category": category,
            "tags": tags,
            "visibility": visibility,
        },
        partial=False,
        errors=errors,
    )
    if slug in (None, ""):
        slug = slugify(fields["name"])[:100] if "name" in fields else None
        if slug == "":
            errors.add("name", "The name needs at least one letter or digit (it makes the slug).")
    elif not isinstance(slug, str) or slugify(slug) != slug or len(slug) > 100:
        errors.add("slug", "Use lowercase letters, digits and hyphens (at most 100).")
        slug = None
    if slug and Agent.objects.filter(team=team, slug=slug).exists():
        errors.add("slug", f"Your team already has an agent '{slug}'.")
    # Validate the first version completely before writing anything.
    errors.check(None, parse_version, version or "1.0.0")
    errors.check(None, _clean_text, system_prompt, "system_prompt", conf.MAX_SYSTEM_PROMPT_CHARS, required=True)
    errors.check(None, _clean_text, changelog, "changelog", limits.CHANGELOG_CHARS)
    errors.check(None, validate_json_schema, input_schema, "input_schema")
    errors.check(None, validate_json_schema, output_schema, "output_schema")
    errors.check(None, _clean_model_hints, model_hints)
    errors.raise_if_any()
    return fields, slug


@transaction.atomic
def agent_create(
    *,
    team,
    name: str,
    system_prompt: str,
    slug: str | None = None,
    summary: str = "",
    description: str = "",
    category: str = Category.OTHER,
    tags=None,
    visibility: str = Visibility.PUBLIC,
    version: str | None = "1.0.0",
    changelog: str = "",
    input_schema=None,
    output_schema=None,
    model_hints=None,
    created_by=None,
) -> Agent:
    """Create an agent of ``team`` with its first version. Every bad field is named at once."""
    fields, slug = agent_validate(
        team=team,
        name=name,
        system_prompt=system_prompt,
        slug=slug,
        summary=summary,
        description=description,
        category=category,
        tags=tags,
        visibility=visibility,
        version=version,
        changelog=changelog,
        input_schema=input_schema,
        output_schema=output_schema,
        model_hints=model_hints,
    )
    agent = Agent.objects.create(
        team=team, slug=slug, created_by=created_by if getattr(created_by, "pk", None) else None, **fields
    )
    name_words_add(names=[agent.name])  # typo-tolerant search corrects queries against these
    version_publish(
        agent=agent,
        system_prompt=system_prompt,
        version=version or "1.0.0",
        changelog=changelog,
        input_schema=input_schema,
        output_schema=output_schema,
        model_hints=model_hints or {},
        published_by=created_by,
    )
    agent.refresh_from_db()
    return agent


@transaction.atomic
def agent_update(*, agent: Agent, **data) -> Agent:
    """Change an agent's listing (name, summary, description, category, tags, visibility).
    Versions are immutable and not touched; the slug never changes (others refer to it)."""
    unknown = sorted(set(data) - set(AGENT_EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in unknown})
    fields = _agent_fields(data, partial=True)
    agent = _lock_agent(agent)
    for name, value in fields.items():
        setattr(agent, name, value)
    agent.save(update_fields=[*fields, "updated_at"])
    if "name" in fields:
        name_words_add(names=[agent.name])
    return agent


@transaction.atomic
def agent_set_listed(*, agent: Agent, listed: bool, reason: str = "") -> Agent:
    """Operators unlist an agent (it disappears from the marketplace for other teams and cannot
    be newly installed) or list it again."""
    reason = _clean_text(reason, "reason", limits.SHORT_TEXT_CHARS)
    Agent.objects.filter(pk=agent.pk).update(
        is_listed=listed, unlisted_reason="" if listed else reason, updated_at=timezone.now()
    )
    agent.refresh_from_db()
    return agent
