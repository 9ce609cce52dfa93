"""Chart labels are text (issue 15 item 9): stack names reach plotly escaped."""

import pytest

from tests.chart_checks import EVIL, assert_evil_name_escaped, chart_specs

pytestmark = pytest.mark.django_db


def test_stack_names_are_escaped_in_every_chart(client, member, make_build):
    for _ in range(3):
        make_build(stack={"framework": EVIL})
    client.force_login(member)
    specs = chart_specs(client.get("/teammemory/").content.decode())
    assert set(specs) == {"chart-quality-trend", "chart-success-by-stack"}
    assert_evil_name_escaped(specs, expected_in=["chart-success-by-stack"])
