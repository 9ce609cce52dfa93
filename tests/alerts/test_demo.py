import random

import pytest

from alerts import demo
from alerts.models import AlertRule
from crucible.demo import DemoContext

pytestmark = pytest.mark.django_db


def test_demo_rules_are_created_through_the_service_for_every_team(team, other_team):
    demo.seed(DemoContext(teams={"a": team, "b": other_team}, users={}, rng=random.Random(1), quiet=True))
    assert AlertRule.objects.filter(team=team).count() == len(demo.RULES)
    assert AlertRule.objects.filter(team=other_team).count() == len(demo.RULES)
