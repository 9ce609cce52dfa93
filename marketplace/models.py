"""Marketplace tables. (Foundation skeleton: the marketplace issue completes these models.)"""

from django.conf import settings
from django.db import models


class Agent(models.Model):
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100)
    summary = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "slug"], name="agent_unique_team_slug")]

    def __str__(self):
        return f"{self.team.slug}/{self.slug}"


class AgentVersion(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=64)
    system_prompt = models.TextField()
    changelog = models.TextField(blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "version"], name="agentversion_unique_agent_version")]

    def __str__(self):
        return f"{self.agent} {self.version}"
