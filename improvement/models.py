"""Improvement tables. (Foundation skeleton: the improvement issue completes these models.)"""

from django.db import models


class Experiment(models.Model):
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=100)
    agent = models.ForeignKey("marketplace.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="experiments")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="experiment_unique_team_name")]

    def __str__(self):
        return self.name


class Variant(models.Model):
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="variants")
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=100)
    prompt = models.TextField()
    is_control = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["experiment", "name"], name="variant_unique_experiment_name")]

    def __str__(self):
        return f"{self.experiment.name}/{self.name}"
