"""A 1,000-span trace in a real browser: the tree and waterfall render, selecting spans shows their
input and output, and nothing breaks the Content Security Policy."""

import pytest

from crucible.models import Role
from observability.models import Execution
from tests.observability.trace_factory import make_trace, span_hex

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_thousand_span_trace_selects_spans(page, login, make_user, team):
    make_user("tracer", team=team, role=Role.MEMBER)
    make_trace(
        team,
        spans=1000,
        error_at=500,
        payload_text="refund the kettle",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Refund my kettle"}],
        answer="Refund issued.",
    )
    login("tracer")
    page.goto(f"/observability/traces/{'a' * 32}/")
    assert page.locator("#span-tree tbody tr").count() == 1000
    assert page.locator("#span-tree rect.bar").count() == 1000
    detail = page.locator("#span-detail")
    assert "Refund my kettle" in detail.locator("#span-input").inner_text()
    assert "Refund issued." in detail.locator("#span-output").inner_text()

    llm = Execution.objects.get(team=team, span_id=span_hex(999))
    with page.expect_navigation():
        page.click(f"#span-{llm.pk} a.span-link")
    assert page.locator(f"#span-{llm.pk}.span-selected").count() == 1
    tree, row = page.locator(".trace-tree").bounding_box(), page.locator(f"#span-{llm.pk}").bounding_box()
    assert tree["y"] <= row["y"] <= tree["y"] + tree["height"]  # the last span's row is scrolled into view
    assert f"refund the kettle call {span_hex(999)}" in page.locator("#span-input").inner_text()
    assert "finish_reason" in page.locator("#span-output pre").inner_text()  # JSON, pretty-printed
    page.click("#span-output details summary")  # and foldable
    assert not page.locator("#span-output pre").is_visible()

    failing = Execution.objects.get(team=team, span_id=span_hex(500))
    with page.expect_navigation():
        page.click(f"#span-{failing.pk} a.span-link")
    assert "Traceback" in page.locator("#span-detail .error-message").inner_text()
    assert page.console_errors == []
