from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Marketplace"

    def ready(self):
        post_migrate.connect(_apply_rating_prior, sender=self)


def _apply_rating_prior(sender, using="default", plan=None, **kwargs):
    """The Bayesian prior lives in settings; the indexed SQL function follows it after each migrate."""
    from django.db import connections

    from marketplace.search import rating_function_apply

    if "marketplace_agent" in connections[using].introspection.table_names():
        rating_function_apply(using=using)
