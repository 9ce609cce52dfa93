"""Marketplace writes: one function per use case, each in a transaction, validating everything
before writing anything. Counters move in the database (F() expressions, row locks, upserts).

Contract for other apps (docs/architecture.md): ``version_publish``.
"""

from __future__ import annotations

import json
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify
from jsonschema import Draft202012Validator
from jsonschema import exceptions as jsonschema_exceptions
from jsonschema.validators import validator_for

from crucible import limits, sql
from crucible import validation as v
from crucible.models import Membership
from marketplace import conf
from marketplace.markdown import markdown_render
from marketplace.models import (
    VERSION_ORDER_DESC,
    Agent,
    AgentVersion,
    Category,
    Download,
    Installation,
    InstallEvent,
    Rating,
    Report,
    Visibility,
)
from marketplace.versioning import InvalidVersion, SemVer

MAX_TAG_CHARS = 40
AGENT_EDITABLE_FIELDS = ("name", "summary", "description", "category", "tags", "visibility")
# --- helpers --------------------------------------------------------------------------------


def parse_version(text, field: str = "version") -> SemVer:
    try:
        return SemVer.parse(text)
    except InvalidVersion as exc:
        raise ValidationError({field: str(exc)}) from None


def validate_json_schema(schema, field: str):
    """``None`` (no schema) or a JSON Schema document that passes its metaschema
    (Draft 2020-12 unless ``$schema`` names another draft)."""
    if schema is None:
        return None
    if not isinstance(schema, (dict, bool)):
        raise ValidationError({field: "A JSON Schema is an object (or true/false)."})
    size = len(json.dumps(schema))
    if size > conf.MAX_SCHEMA_BYTES:
        raise ValidationError({field: f"The schema is {size} bytes; at most {conf.MAX_SCHEMA_BYTES} are allowed."})
    validator_cls = Draft202012Validator
    if isinstance(schema, dict) and "$schema" in schema:
        if not isinstance(schema["$schema"], str):
            raise ValidationError({field: "'$schema' must be a string naming a JSON Schema draft."})
        validator_cls = validator_for(schema, default=None)
        if validator_cls is None:
            raise ValidationError({field: f"Unknown JSON Schema draft '{schema['$schema']}'."})
    try:
        validator_cls.check_schema(schema)
    except jsonschema_exceptions.SchemaError as exc:
        where = "/".join(str(part) for part in exc.absolute_path)
        raise ValidationError(
            {field: f"Not a valid JSON Schema{' at ' + where if where else ''}: {exc.message}"}
        ) from None
    return schema


def clean_tags(tags) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [tag for tag in tags.split(",") if tag.strip()]
    if not isinstance(tags, (list, tuple)):
        raise ValidationError({"tags": "Tags are a list of short words."})
    if len(tags) > conf.MAX_TAGS:
        raise ValidationError({"tags": f"At most {conf.MAX_TAGS} tags."})
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise ValidationError({"tags": "Each tag is a string."})
        if len(tag.strip()) > MAX_TAG_CHARS:
            raise ValidationError({"tags": f"A tag has at most {MAX_TAG_CHARS} characters."})
        cleaned = slugify(tag.strip())[:MAX_TAG_CHARS]
        if tag.strip() and not cleaned:
            raise ValidationError({"tags": f"'{tag}' has no letters or digits."})
        if cleaned and cleaned not in out:
            out.append(cleaned)
    return out


def _clean_model_hints(hints):
    if hints is None:
        return {}
    if not isinstance(hints, dict):
        raise ValidationError(
            {"model_hints": 'Model hints are an object, e.g. {"model": "gpt-4o", "temperature": 0.2}.'}
        )
    if len(json.dumps(hints)) > conf.MAX_SCHEMA_BYTES:
        raise ValidationError({"model_hints": "Model hints are too large."})
    return hints


def _clean_text(value, field: str, max_length: int, required: bool = False) -> str:
    """``crucible.validation.text`` for one named field (short texts are stripped, long ones such
    as prompts and Markdown kept as written)."""
    try:
        return v.text(value, max_length=max_length, required=required, strip=max_length <= limits.SHORT_TEXT_CHARS)
    except v.Invalid as exc:
        raise ValidationError({field: exc.message}) from None


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


def _lock_agent(agent: Agent) -> Agent:
    return Agent.objects.select_for_update().get(pk=agent.pk)


def _bump_daily(agent_id: int, *, installs: int = 0, uninstalls: int = 0, downloads: int = 0, day: date | None = None):
    sql.execute(
        """
        INSERT INTO marketplace_agentdailystat (agent_id, day, installs, uninstalls, downloads)
        VALUES (%(agent)s, %(day)s, %(installs)s, %(uninstalls)s, %(downloads)s)
        ON CONFLICT (agent_id, day) DO UPDATE SET
          installs = marketplace_agentdailystat.installs + EXCLUDED.installs,
          uninstalls = marketplace_agentdailystat.uninstalls + EXCLUDED.uninstalls,
          downloads = marketplace_agentdailystat.downloads + EXCLUDED.downloads
        """,
        {
            "agent": agent_id,
            "day": day or timezone.now().date(),
            "installs": installs,
            "uninstalls": uninstalls,
            "downloads": downloads,
        },
    )


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


# --- versions (cross-app contract) ----------------------------------------------------------


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
    row = AgentVersion.objects.create(
        agent=agent,
        version=str(parsed),
        major=parsed.major,
        minor=parsed.minor,
        patch=parsed.patch,
        prerelease=parsed.prerelease,
        is_release=parsed.is_release,
        prerelease_key=parsed.prerelease_key,
        system_prompt=system_prompt,
        input_schema=input_schema,
        output_schema=output_schema,
        model_hints=model_hints,
        changelog=changelog,
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


# --- agents ---------------------------------------------------------------------------------


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


def _agent_visible_to(agent: Agent, team) -> bool:
    return agent.team_id == team.pk or (agent.visibility == Visibility.PUBLIC and agent.is_listed)


# --- installs and downloads -------------------------------------------------------------------


def _choose_version(agent: Agent, version) -> tuple[AgentVersion, bool]:
    """(version row, pinned). An explicit version may be yanked (pinning still works)."""
    if version in (None, "", "latest"):
        latest_id = Agent.objects.filter(pk=agent.pk).values_list("latest_version_id", flat=True).first()
        if latest_id is None:
            raise ValidationError({"version": "This agent has no installable version (all are yanked)."})
        return AgentVersion.objects.get(pk=latest_id), False
    if isinstance(version, AgentVersion):
        if version.agent_id != agent.pk:
            raise ValidationError({"version": "That version belongs to another agent."})
        return version, True
    parsed = parse_version(version)
    row = AgentVersion.objects.filter(
        agent=agent, major=parsed.major, minor=parsed.minor, patch=parsed.patch, prerelease=parsed.prerelease
    ).first()
    if row is None:
        raise ValidationError({"version": f"This agent has no version {parsed}."})
    return row, True


@transaction.atomic
def agent_install(*, agent: Agent, team, version=None, user=None) -> tuple[Installation, str]:
    """Install ``agent`` for ``team`` at ``version`` (default: the latest version that is not
    yanked). Returns (installation, outcome) with outcome one of ``installed``, ``reinstalled``,
    ``changed`` (another version asked for) or ``unchanged`` (idempotent repeat)."""
    if not _agent_visible_to(agent, team):
        if agent.visibility == Visibility.PRIVATE:
            raise PermissionDenied("This agent is private to its team.")
        raise ValidationError({"agent": "This agent has been unlisted and cannot be installed."})
    version_row, pinned = _choose_version(agent, version)
    installer = user if getattr(user, "pk", None) else None
    installation, created = Installation.objects.get_or_create(
        team=team, agent=agent, defaults={"version": version_row, "pinned": pinned, "installed_by": installer}
    )
    if created:
        Agent.objects.filter(pk=agent.pk).update(
            install_count=F("install_count") + 1, active_install_count=F("active_install_count") + 1
        )
        InstallEvent.objects.create(agent=agent, team=team, version=version_row, kind=InstallEvent.Kind.INSTALL)
        _bump_daily(agent.pk, installs=1)
        return installation, "installed"
    installation = Installation.objects.select_for_update().get(pk=installation.pk)
    if installation.uninstalled_at is not None:
        installation.uninstalled_at = None
        installation.version = version_row
        installation.pinned = pinned
        installation.installed_by = installer
        installation.save(update_fields=["uninstalled_at", "version", "pinned", "installed_by", "updated_at"])
        Agent.objects.filter(pk=agent.pk).update(active_install_count=F("active_install_count") + 1)
        InstallEvent.objects.create(agent=agent, team=team, version=version_row, kind=InstallEvent.Kind.REINSTALL)
        return installation, "reinstalled"
    if pinned and installation.version_id != version_row.pk:
        return _change_version(installation, version_row, pinned=True), "changed"
    return installation, "unchanged"


def _change_version(installation: Installation, version_row: AgentVersion, *, pinned: bool) -> Installation:
    installation.version = version_row
    installation.pinned = pinned
    installation.save(update_fields=["version", "pinned", "updated_at"])
    InstallEvent.objects.create(
        agent_id=installation.agent_id,
        team_id=installation.team_id,
        version=version_row,
        kind=InstallEvent.Kind.UPGRADE,
    )
    return installation


@transaction.atomic
def installation_upgrade(*, installation: Installation, version=None) -> Installation:
    """Move an active installation to ``version`` (default: the latest version not yanked)."""
    installation = Installation.objects.select_for_update().select_related("agent").get(pk=installation.pk)
    if installation.uninstalled_at is not None:
        raise ValidationError({"non_field_errors": "This agent is not installed; install it first."})
    version_row, pinned = _choose_version(installation.agent, version)
    if version_row.pk == installation.version_id and pinned == installation.pinned:
        return installation
    return _change_version(installation, version_row, pinned=pinned)


@transaction.atomic
def installation_uninstall(*, installation: Installation) -> Installation:
    """Uninstall (idempotent). The row stays, so a later reinstall is not a new install."""
    updated = Installation.objects.filter(pk=installation.pk, uninstalled_at__isnull=True).update(
        uninstalled_at=timezone.now()
    )
    if updated:
        Agent.objects.filter(pk=installation.agent_id).update(active_install_count=F("active_install_count") - 1)
        InstallEvent.objects.create(
            agent_id=installation.agent_id,
            team_id=installation.team_id,
            version_id=installation.version_id,
            kind=InstallEvent.Kind.UNINSTALL,
        )
        _bump_daily(installation.agent_id, uninstalls=1)
    installation.refresh_from_db()
    return installation


@transaction.atomic
def version_download(*, version: AgentVersion, team) -> bool:
    """Record a fetch of ``version``'s definition by ``team``. Counted once per team, version and
    day (repeats, loops and bots do not inflate it). Returns True when this fetch counted."""
    today = timezone.now().date()
    counted = (
        sql.fetch_one(
            f"INSERT INTO {Download._meta.db_table} (team_id, version_id, day, created_at) "
            "VALUES (%(team)s, %(version)s, %(day)s, %(now)s) "
            "ON CONFLICT (team_id, version_id, day) DO NOTHING RETURNING id",
            {"team": team.pk, "version": version.pk, "day": today, "now": timezone.now()},
        )
        is not None
    )
    if counted:
        AgentVersion.objects.filter(pk=version.pk).update(download_count=F("download_count") + 1)
        Agent.objects.filter(pk=version.agent_id).update(download_count=F("download_count") + 1)
        _bump_daily(version.agent_id, downloads=1, day=today)
    return counted


# --- ratings ----------------------------------------------------------------------------------


def _histogram_delta(stars: int, delta: int) -> dict:
    return {f"rating_{stars}": F(f"rating_{stars}") + delta}


@transaction.atomic
def rating_set(*, agent: Agent, user, team, stars, review: str = "") -> tuple[Rating, bool]:
    """One rating (1-5) and optional review per user and agent; re-rating replaces it.

    Only members of a team that installed the agent may rate, and never the publisher's own
    members. Returns (rating, created). Average, count and histogram move in the database under a
    lock on the agent row, so concurrent ratings stay exact."""
    if user is None or not getattr(user, "pk", None):
        raise PermissionDenied("Ratings belong to a person: use a session or an API key created by a user.")
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise ValidationError({"stars": "A rating is a whole number of stars from 1 to 5."})
    review = _clean_text(review, "review", limits.REVIEW_CHARS)
    if not Membership.objects.filter(user=user, team=team).exists():
        raise PermissionDenied("You are not a member of this team.")
    if Membership.objects.filter(user=user, team_id=agent.team_id).exists() or team.pk == agent.team_id:
        raise PermissionDenied("Publishers cannot rate their own agent.")
    if not Installation.objects.filter(team=team, agent=agent).exists():
        if not _agent_visible_to(agent, team):
            raise PermissionDenied("This agent is not available to your team.")
        raise ValidationError(
            {"non_field_errors": f"Team '{team.slug}' has not installed this agent; install it before rating it."}
        )
    _lock_agent(agent)
    existing = Rating.objects.filter(agent=agent, user=user).first()
    if existing is None:
        rating = Rating.objects.create(agent=agent, user=user, team=team, stars=stars, review=review)
        Agent.objects.filter(pk=agent.pk).update(
            rating_count=F("rating_count") + 1, rating_sum=F("rating_sum") + stars, **_histogram_delta(stars, 1)
        )
        return rating, True
    if not existing.is_hidden:
        updates = {"rating_sum": F("rating_sum") + (stars - existing.stars)}
        if existing.stars != stars:
            updates |= _histogram_delta(existing.stars, -1) | _histogram_delta(stars, 1)
        Agent.objects.filter(pk=agent.pk).update(**updates)
    existing.stars = stars
    existing.review = review
    existing.team = team
    existing.save(update_fields=["stars", "review", "team", "updated_at"])
    return existing, False


@transaction.atomic
def rating_delete(*, rating: Rating) -> None:
    _lock_agent(rating.agent)
    rating = Rating.objects.select_for_update().get(pk=rating.pk)
    if not rating.is_hidden:
        Agent.objects.filter(pk=rating.agent_id).update(
            rating_count=F("rating_count") - 1,
            rating_sum=F("rating_sum") - rating.stars,
            **_histogram_delta(rating.stars, -1),
        )
    rating.delete()


@transaction.atomic
def rating_set_hidden(*, rating: Rating, hidden: bool) -> Rating:
    """Moderators hide a review: it is no longer shown nor counted in the agent's rating."""
    _lock_agent(rating.agent)
    rating = Rating.objects.select_for_update().get(pk=rating.pk)
    if rating.is_hidden == hidden:
        return rating
    delta = -1 if hidden else 1
    Agent.objects.filter(pk=rating.agent_id).update(
        rating_count=F("rating_count") + delta,
        rating_sum=F("rating_sum") + delta * rating.stars,
        **_histogram_delta(rating.stars, delta),
    )
    rating.is_hidden = hidden
    rating.save(update_fields=["is_hidden", "updated_at"])
    return rating


# --- reports and moderation -------------------------------------------------------------------


@transaction.atomic
def report_create(
    *, agent: Agent, reporter, team=None, reason: str, text: str = "", rating: Rating | None = None
) -> Report:
    if reason not in Report.Reason.values:
        raise ValidationError({"reason": f"One of: {', '.join(Report.Reason.values)}."})
    text = _clean_text(text, "text", limits.REVIEW_CHARS)
    if rating is not None and rating.agent_id != agent.pk:
        raise ValidationError({"rating": "That review belongs to another agent."})
    # The same open report (agent or review, reason) from the same team counts once: a repeat
    # returns the report already in the queue, with the newest explanation.
    same = {"agent": agent, "rating": rating, "reporter_team": team, "reason": reason, "status": Report.Status.OPEN}
    existing = Report.objects.filter(**same).first()
    if existing is not None:
        if text and text != existing.text:
            existing.text = text
            existing.save(update_fields=["text"])
        return existing
    try:
        with transaction.atomic():
            return Report.objects.create(
                agent=agent,
                rating=rating,
                reporter=reporter if getattr(reporter, "pk", None) else None,
                reporter_team=team,
                reason=reason,
                text=text,
            )
    except IntegrityError:  # the same report, sent at the same moment
        return Report.objects.get(**same)


@transaction.atomic
def report_resolve(*, report: Report, status: str, by=None, note: str = "") -> Report:
    if status not in (Report.Status.ACTIONED, Report.Status.DISMISSED):
        raise ValidationError({"status": "Resolve a report as 'actioned' or 'dismissed'."})
    report.status = status
    report.resolution_note = _clean_text(note, "note", limits.SHORT_TEXT_CHARS)
    report.resolved_by = by if getattr(by, "pk", None) else None
    report.resolved_at = timezone.now()
    report.save(update_fields=["status", "resolution_note", "resolved_by", "resolved_at"])
    return report


@transaction.atomic
def report_action(*, report: Report, by=None, note: str = "") -> Report:
    """The operator's remedy for a report: hide the reported review, or unlist the agent."""
    if report.rating_id:
        rating_set_hidden(rating=report.rating, hidden=True)
    else:
        agent_set_listed(agent=report.agent, listed=False, reason=note or f"Reported: {report.get_reason_display()}")
    return report_resolve(report=report, status=Report.Status.ACTIONED, by=by, note=note)
