"""Installs, upgrades, uninstalls and downloads, with their counters and daily statistics."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crucible import sql
from marketplace.models import Agent, AgentVersion, Download, Installation, InstallEvent, Visibility
from marketplace.services._common import _agent_visible_to
from marketplace.services.validation import parse_version


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


@transaction.atomic
def installation_pin(*, team, agent: Agent, version: AgentVersion) -> Installation:
    """Pin ``team``'s active installation of ``agent`` to ``version`` (an experiment's winner)."""
    installation = Installation.objects.filter(team=team, agent=agent, uninstalled_at__isnull=True).first()
    if installation is None:
        raise ValidationError({"agent": "Your team has not installed this agent; install it first."})
    return installation_upgrade(installation=installation, version=version)
