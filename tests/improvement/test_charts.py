"""Chart labels are text (issue 15 item 9): variant names reach plotly escaped."""

import pytest
from django.urls import reverse

from tests.chart_checks import EVIL, assert_evil_name_escaped, chart_specs

pytestmark = pytest.mark.django_db


def test_variant_names_are_escaped_in_every_chart(client, member, make_experiment, feed):
    experiment = make_experiment(variants=("control", EVIL))
    for variant in experiment.variants.all():
        feed(variant, 20)
    client.force_login(member)
    html = client.get(reverse("improvement:experiment-detail", args=[experiment.pk])).content.decode()
    specs = chart_specs(html)
    assert set(specs) == {"chart-objective", "chart-traffic", "chart-cumulative"}
    assert_evil_name_escaped(specs, expected_in=list(specs))
