"""Issue 15, item 1: rendering a description is bounded for any input (Python-Markdown took 171 s
on 50,000 nested ``[``), and happens once, when the text is written.

The bound comes by construction (docs/reliability.md): cmark-gfm parses in linear time and caps
reference expansion; table cells, nesting depth and HTML size are checked in linear passes before
the sanitiser sees the HTML. The test measures the worst inputs we know at the maximum size (CPU
time, best of three) against a bound far above them and checks that time grows linearly with
size."""

from __future__ import annotations

import importlib
import time
from unittest import mock

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from marketplace import conf
from marketplace.markdown import MAX_NESTING, markdown_render
from marketplace.models import Agent

N = conf.MAX_DESCRIPTION_CHARS  # 50,000
# A guard against blow-up, not a speed figure (speed belongs to benchmarks): the worst input
# measured about 65 ms of CPU under load, Python-Markdown took 171 s; a 100 ms bound failed once at
# 100.5 ms at load average 10, so the bound is ten times that and linear growth is checked below.
BOUND_MS = 1000


def worst_cases(n: int) -> dict[str, str]:
    return {
        "nested brackets": "[" * n,
        "nested images": "![" * (n // 2),
        "open links": "[a](" * (n // 4),
        "brackets closed late": "[" * (n // 2) + "]" * (n // 2),
        "emphasis runs": "*a_" * (n // 3),
        "nested emphasis": "*_" * (n // 4) + "a" + "_*" * (n // 4),
        "nested emphasis and strike": "*_~" * (n // 6) + "a" + "~_*" * (n // 6),
        "nested quotes": ">" * n,
        "nested quotes spaced": "> " * (n // 2),
        "nested lists": "".join("  " * i + "- a\n" for i in range(n // 250)),
        "nested ordered lists": "".join("1. " * i + "a\n" for i in range(1, 180)),
        "many reference definitions": "".join(f"[r{i}]: /u{i}\n" for i in range(n // 14)),
        "reference expansion": "[x]: /" + "u" * (n // 2) + "\n\n" + "[x]" * (n // 6),
        "long reference label": "[" + "a" * (n - 10) + "]: /u",
        "wide table": "|a" * (n // 10) + "|\n" + "|-" * (n // 10) + "|\n" + "a\n" * (n // 10),
        "long table": "a|b\n-|-\n" + "a|b\n" * (n // 4),
        "backticks": "`a``" * (n // 4),
        "quote characters": '"' * n,
        "angle brackets": "<" * n,
        "strikethrough": "~~a" * (n // 3),
        "setext headings": "a\n=\n" * (n // 4),
        "mixed": "*[`<" * (n // 4),
    }


def _render_cpu_s(text: str) -> float:
    start = time.process_time()
    try:
        markdown_render(text)
    except ValidationError:
        pass
    return time.process_time() - start


def cpu_ms(*texts: str, rounds: int = 3) -> list[float]:
    """The best CPU time of each text over ``rounds``, the texts run alternately, so that a burst
    of load on a shared machine falls on all of them rather than on one."""
    best = [float("inf")] * len(texts)
    for _ in range(rounds):
        for i, text in enumerate(texts):
            best[i] = min(best[i], _render_cpu_s(text))
    return [b * 1000 for b in best]


@pytest.mark.parametrize("name", list(worst_cases(1)))
def test_rendering_the_worst_inputs_is_bounded(name):
    text = worst_cases(N)[name][:N]
    (full,) = cpu_ms(text)
    assert full <= BOUND_MS, f"{name}: {full:.1f} ms of CPU for {len(text)} characters"
    if full >= 10:
        # Linear: a quarter of the text costs about a quarter; quadratic: a sixteenth. cmark-gfm
        # grows faster than linear at small sizes (its working set leaves the CPU cache), so a
        # linear input measured 4.4-7x between N/4 and N here, and once 8.5x on a loaded CI
        # machine when N and N/4 were timed apart. They are now timed alternately, best of five,
        # and the line is 10x: still far below the 16x of quadratic growth.
        quarter, full = cpu_ms(worst_cases(N // 4)[name][: N // 4], text, rounds=5)
        assert full <= 10 * quarter + 5, f"{name}: {quarter:.1f} ms for N/4, {full:.1f} ms for N"


def test_markdown_still_renders_and_sanitises():
    html = markdown_render(
        "# Usage\n\nFinds *bugs* and **more**; `code`, ~~gone~~.\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n\n"
        "```python\nx = 1\n```\n\n[ok](https://example.com) [bad](javascript:alert(1)) <script>alert(1)</script>"
        ' <img src=x onerror="alert(1)">'
    )
    assert "<h1>Usage</h1>" in html and "<em>bugs</em>" in html and "<strong>more</strong>" in html
    assert "<code>code</code>" in html and "<del>gone</del>" in html and "<table>" in html
    assert '<code class="language-python">' in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">ok</a>' in html
    assert "javascript:" not in html and "<script" not in html and "onerror" not in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("> " * (MAX_NESTING + 1) + "deep", f"nest at most {MAX_NESTING} levels"),
        ("|a" * 200 + "|\n" + "|-" * 200 + "|\n" + "x\n" * 200, "at most 20,000 cells"),
    ],
)
def test_a_text_past_a_bound_is_refused_naming_the_description(text, message, team_key_client):
    response = team_key_client.post(
        "/api/v1/marketplace/agents/",
        {"name": "Deep", "description": text, "system_prompt": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["description"]
    assert message in response.json()["fields"]["description"][0]
    assert not Agent.objects.filter(name="Deep").exists()


@pytest.mark.django_db
def test_every_entry_point_renders_once_on_write_and_never_on_view(team_key_client, client_for, member):
    web = client_for(member)
    evil = "[" * N
    with mock.patch("marketplace.services.agents.markdown_render", wraps=markdown_render) as render:
        started = time.monotonic()
        v1 = team_key_client.post(
            "/api/v1/marketplace/agents/", {"name": "V1", "description": evil, "system_prompt": "x"}, format="json"
        )
        legacy = team_key_client.post(
            "/api/marketplace/create-agent", {"name": "Legacy", "description": evil, "prompt": "x"}, format="json"
        )
        page = web.post(
            "/marketplace/agents/new/",
            {
                "name": "Page",
                "description": evil,
                "category": "coding",
                "visibility": "public",
                "version": "1.0.0",
                "system_prompt": "x",
            },
            format="multipart",
        )
        elapsed = time.monotonic() - started
        assert (v1.status_code, legacy.status_code, page.status_code) == (201, 201, 302)
        assert render.call_count == 3
        agent = Agent.objects.get(name="V1")
        assert (
            team_key_client.get(f"/api/v1/marketplace/agents/{agent.pk}/")
            .json()["description_html"]
            .startswith("<p>[[[")
        )
        assert web.get(f"/marketplace/agents/{agent.pk}/").status_code == 200
        assert render.call_count == 3  # views show the stored HTML
    assert elapsed < 10  # three writes of 50,000 nested "[" (171 s each before)


@pytest.mark.django_db
def test_the_migration_re_renders_stored_descriptions(make_agent, team):
    agent = make_agent(team, "Old", description="*old*")
    deep = make_agent(team, "Deep old", description="x")
    Agent.objects.filter(pk=agent.pk).update(description_html="<p>stale</p>")
    Agent.objects.filter(pk=deep.pk).update(description="> " * 40 + "<b>", description_html="")
    migration = importlib.import_module("marketplace.migrations.0002_render_descriptions_with_cmark")
    migration.rerender(apps, None)
    assert Agent.objects.get(pk=agent.pk).description_html == "<p><em>old</em></p>\n"
    assert Agent.objects.get(pk=deep.pk).description_html == "<p>" + "&gt; " * 40 + "&lt;b&gt;</p>"
