"""Search facets kept in the database: how many agents carry each tag (docs/marketplace.md › Search).

``TagCount`` is maintained by statement-level triggers on ``marketplace_agent`` (migration 0009,
``marketplace.tag_counts``): every insert, update and delete moves the counts in the same
statement, whichever code path wrote the agents (services, admin actions, bulk loads). Imported
by ``marketplace.models``.
"""

from __future__ import annotations

from django.db import models


class TagCount(models.Model):
    """Agents carrying ``tag``: the public, listed ones (``team`` empty) and, per team, that team's
    other agents (private or unlisted), so a caller's count is the public row plus its teams' rows."""

    tag = models.CharField(max_length=40)
    # A plain id, no foreign key: deleting a team deletes its agents, and their trigger moves these rows.
    team_id = models.BigIntegerField(null=True, blank=True)
    agents = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tag", "team_id"], nulls_distinct=False, name="tagcount_tag_team"),
        ]

    def __str__(self):
        return f"{self.tag}: {self.agents}"
