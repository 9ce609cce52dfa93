"""Ratings: set, delete, hide (average, count and histogram kept exact in the database)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F

from crucible import limits
from crucible import validation as v
from crucible.models import Membership
from marketplace.models import Agent, Installation, Rating
from marketplace.services._common import _agent_visible_to, _lock_agent
from marketplace.services.validation import _clean_text


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
    errors = v.Errors()
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        errors.add("stars", "A rating is a whole number of stars from 1 to 5.")
    review = errors.check(None, _clean_text, review, "review", limits.REVIEW_CHARS)
    errors.raise_if_any()
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
