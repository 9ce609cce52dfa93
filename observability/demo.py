"""Demo data for Observability (called by `manage.py seed_demo`)."""


def seed(ctx) -> None:
    """Fill the app with realistic data for the demo teams in ``ctx``."""
