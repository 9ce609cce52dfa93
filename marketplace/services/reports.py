"""Reports and moderation: report an agent or a review, resolve, act on a report."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from crucible import limits
from marketplace.models import Agent, Rating, Report
from marketplace.services import notices
from marketplace.services.agents import agent_set_listed
from marketplace.services.ratings import rating_set_hidden
from marketplace.services.validation import _clean_text


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
            report = Report.objects.create(
                agent=agent,
                rating=rating,
                reporter=reporter if getattr(reporter, "pk", None) else None,
                reporter_team=team,
                reason=reason,
                text=text,
            )
    except IntegrityError:  # the same report, sent at the same moment
        return Report.objects.get(**same)
    notices.report_notify(report=report)
    return report


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
