"""What the marketplace tells teams (crucible.notifications): a new version of an agent they
installed, a yank of the version they use, a new rating or report of their own agent. Each event
has a dedupe key, so a repeated call publishes nothing more."""

from __future__ import annotations

from django.urls import reverse

from crucible.notifications import notification_publish
from marketplace.models import AgentVersion, Installation, Rating, Report


def _agent_url(agent) -> str:
    return reverse("marketplace:agent-detail", kwargs={"pk": agent.pk})


def version_published_notify(*, version: AgentVersion) -> int:
    """Every team with an active installation of the agent; how many were told."""
    agent = version.agent
    installs = Installation.objects.filter(agent=agent, uninstalled_at__isnull=True).select_related("team", "version")
    for install in installs:
        notification_publish(
            team=install.team,
            kind="marketplace.version_published",
            title=f"{agent.name} {version.version} is out",
            body=f"You use {install.version.version}. {version.changelog}".strip(),
            url=_agent_url(agent),
            payload={"agent": agent.pk, "version": version.version, "installed_version": install.version.version},
            dedupe_key=f"version-published:{version.pk}",
        )
    return len(installs)


def version_yanked_notify(*, version: AgentVersion) -> int:
    """Every team whose active installation uses that version."""
    agent = version.agent
    installs = Installation.objects.filter(version=version, uninstalled_at__isnull=True).select_related("team")
    for install in installs:
        notification_publish(
            team=install.team,
            kind="marketplace.version_yanked",
            title=f"{agent.name} {version.version}, which you use, was yanked",
            body=version.yanked_reason,
            url=_agent_url(agent),
            payload={"agent": agent.pk, "version": version.version, "reason": version.yanked_reason},
            dedupe_key=f"version-yanked:{version.pk}:{version.yanked_at.isoformat()}",
        )
    return len(installs)


def rating_notify(*, rating: Rating) -> None:
    agent = rating.agent
    notification_publish(
        team=agent.team,
        kind="marketplace.rating",
        title=f"{agent.name} was rated {rating.stars} of 5",
        body=rating.review[:1000],
        url=_agent_url(agent),
        payload={"agent": agent.pk, "stars": rating.stars, "rating": rating.pk},
        dedupe_key=f"rating:{rating.pk}",
    )


def report_notify(*, report: Report) -> None:
    agent = report.agent
    notification_publish(
        team=agent.team,
        kind="marketplace.report",
        title=f"{agent.name} was reported: {report.get_reason_display()}",
        body=report.text[:1000],
        url=_agent_url(agent),
        payload={"agent": agent.pk, "reason": report.reason, "report": report.pk},
        dedupe_key=f"report:{report.pk}",
    )
