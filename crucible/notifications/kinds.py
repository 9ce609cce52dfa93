"""The kinds of events; subscriptions and webhooks filter on them (an empty filter takes all)."""

from __future__ import annotations

KINDS = {
    "alert.firing": "An alert starts firing",
    "alert.resolved": "An alert is resolved",
    "marketplace.version_published": "A new version of an agent the team installed",
    "marketplace.version_yanked": "A version the team uses is yanked",
    "marketplace.rating": "A new rating of the team's agent",
    "marketplace.report": "A new report about the team's agent",
    "improvement.winner": "An experiment reaches a winner",
    "improvement.guardrail": "An experiment breaks a guardrail",
    "improvement.srm": "An experiment's traffic split looks wrong (sample ratio mismatch)",
    "improvement.rollout": "A guarded rollout advances, completes or stops",
    "teammemory.quality_down": "Team memory quality turns down",
    "webhook.disabled": "A webhook was disabled after repeated failures",
}
KIND_CHOICES = list(KINDS.items())
