"""Team memory tables. (Foundation skeleton: the team memory issue completes these models.)"""

from django.db import models


class Build(models.Model):
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="builds")
    client_build_id = models.CharField(max_length=200)
    project_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "client_build_id"], name="build_unique_team_client_id")]

    def __str__(self):
        return f"{self.project_name or 'build'} {self.client_build_id}"
