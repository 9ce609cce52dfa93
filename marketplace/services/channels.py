"""Release channels (like npm dist-tags): ``stable`` is the default; a ``candidate`` is published
beside it and given to a share of default-channel runs while a guarded rollout (driven by the
improvement app) watches it. Completing the rollout moves ``stable``; a breach yanks the candidate."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from marketplace.models import Agent, AgentVersion, Channel
from marketplace.services._common import _lock_agent
from marketplace.services.versions import refresh_latest_version, version_publish, version_yank


@transaction.atomic
def candidate_publish(
    *, agent: Agent, system_prompt: str, version: str | None = None, changelog: str = "", published_by=None
):
    """Publish a version on the ``candidate`` channel (one open candidate per agent); it gets no
    runs until ``candidate_share_set`` gives it a share."""
    _lock_agent(agent)
    if AgentVersion.objects.filter(agent=agent, channel=Channel.CANDIDATE, is_yanked=False).exists():
        raise ValidationError({"channel": "This agent already has a candidate under rollout; finish or stop it first."})
    return version_publish(
        agent=agent,
        system_prompt=system_prompt,
        version=version,
        changelog=changelog,
        published_by=published_by,
        channel=Channel.CANDIDATE,
    )


def _check_candidate(version: AgentVersion) -> None:
    if version.channel != Channel.CANDIDATE or version.is_yanked:
        raise ValidationError({"version": "This version is not an open candidate."})


@transaction.atomic
def candidate_share_set(*, version: AgentVersion, share: float) -> None:
    """Give the candidate ``share`` (0 to 1) of the runs of installs on the default channel."""
    _check_candidate(version)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
        raise ValidationError({"share": "A share is a number from 0 to 1."})
    _lock_agent(version.agent)
    Agent.objects.filter(pk=version.agent_id).update(candidate_share=float(share))


@transaction.atomic
def candidate_promote(*, version: AgentVersion) -> AgentVersion:
    """The rollout completed: the candidate becomes ``stable`` (the default for installs)."""
    _check_candidate(version)
    agent = _lock_agent(version.agent)
    AgentVersion.objects.filter(pk=version.pk).update(channel=Channel.STABLE)
    Agent.objects.filter(pk=agent.pk).update(candidate_share=0.0)
    version.channel = Channel.STABLE
    refresh_latest_version(agent)
    return version


@transaction.atomic
def candidate_yank(*, version: AgentVersion, reason: str) -> AgentVersion:
    """The rollout was stopped: no more runs for the candidate, and the version is yanked with the reason."""
    _check_candidate(version)
    Agent.objects.filter(pk=version.agent_id).update(candidate_share=0.0)
    return version_yank(version=version, reason=reason)
