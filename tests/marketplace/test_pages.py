"""Server-rendered pages: browse/search, agent page, forms, installed list, actions."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crucible.models import Role
from marketplace import services
from marketplace.models import Agent, AgentVersion, Installation, Rating, Report

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(member):
    client = Client()
    client.force_login(member)
    return client


def test_browse_search_filters_and_sort(web, make_agent, other_team, django_assert_max_num_queries):
    make_agent(other_team, "Meeting Summarizer", category="product", tags=["notes"])
    make_agent(other_team, "Secret", visibility="private")
    for i in range(5):
        make_agent(other_team, f"Filler {i}", category="testing")
    with django_assert_max_num_queries(12):
        response = web.get("/marketplace/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Meeting Summarizer" in html and "Filler 4" in html and "Secret" not in html
    response = web.get("/marketplace/?q=sumarizer&sort=relevance")
    html = response.content.decode()
    assert "Meeting Summarizer" in html and "Filler" not in html
    response = web.get("/marketplace/?category=testing&sort=newest")
    assert "Meeting Summarizer" not in response.content.decode()
    response = web.get("/marketplace/?verified=true")
    assert "Meeting Summarizer" not in response.content.decode()  # Globex is not verified
    response = web.get("/marketplace/?min_rating=12")
    assert response.status_code == 200 and "min_rating" in response.content.decode()


def test_agent_page_shows_versions_schemas_histogram_and_chart(web, public_agent):
    services.version_publish(
        agent=public_agent, system_prompt="v2", input_schema={"type": "object", "title": "Payload"}, changelog="Faster"
    )
    response = web.get(f"/marketplace/agents/{public_agent.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "1.1.0" in html and "1.0.0" in html and "Faster" in html and "Payload" in html
    assert 'id="histogram"' in html and 'data-chart-source="chart-installs"' in html
    assert 'id="install-button"' in html
    assert "Install the agent to rate it." in html


def test_install_form_suggests_the_newest_versions_yanked_ones_marked(web, public_agent):
    services.version_publish(agent=public_agent, system_prompt="v2", changelog="Faster")
    services.version_yank(version=public_agent.versions.get(version="1.0.0"), reason="typo in prompt")
    html = web.get(f"/marketplace/agents/{public_agent.pk}/").content.decode()
    assert 'placeholder="latest (1.1.0)"' in html
    suggested = html.split('<datalist id="install-versions">', 1)[1].split("</datalist>", 1)[0]
    assert suggested == ('<option value="1.1.0"></option><option value="1.0.0" label="1.0.0 (yanked)"></option>')


def test_install_form_suggests_twenty_and_installs_any_typed_version(web, public_agent, team):
    for n in range(1, 25):
        services.version_publish(agent=public_agent, system_prompt=f"v{n}", changelog=f"n{n}")
    html = web.get(f"/marketplace/agents/{public_agent.pk}/").content.decode()
    suggested = html.split('<datalist id="install-versions">', 1)[1].split("</datalist>", 1)[0]
    assert suggested.count("<option") == 20 and 'value="1.24.0"' in suggested and 'value="1.4.0"' not in suggested
    assert "any version of the 25 in the table below" in html
    # A version older than the suggestions, typed with spaces around it, installs pinned.
    response = web.post(f"/marketplace/agents/{public_agent.pk}/install/", {"version": " 1.0.0 "}, follow=True)
    assert "Installed Test Writer 1.0.0." in response.content.decode()
    installation = public_agent.installations.get(team=team)
    assert installation.version.version == "1.0.0" and installation.pinned


def test_install_form_unknown_version_is_refused_with_a_message(web, public_agent, team):
    response = web.post(f"/marketplace/agents/{public_agent.pk}/install/", {"version": "9.9.9"}, follow=True)
    assert "This agent has no version 9.9.9." in response.content.decode()
    assert not public_agent.installations.filter(team=team).exists()


def test_description_is_sanitized_on_the_page(web, make_agent, other_team):
    agent = make_agent(
        other_team, "Sneaky", description="Hi <script>alert('x')</script><a href=\"javascript:alert(1)\">click</a>"
    )
    html = web.get(f"/marketplace/agents/{agent.pk}/").content.decode()
    # Raw HTML in Markdown is left out (CommonMark, cmark's safe mode); what was inside it is text.
    card = html.split('<div class="markdown card">')[1].split("</div>")[0]
    assert "<script" not in card and "<a href" not in card
    assert "javascript:alert" not in html


def test_private_agent_page_of_other_team_is_404(web, make_agent, other_team):
    agent = make_agent(other_team, "Hidden", visibility="private")
    assert web.get(f"/marketplace/agents/{agent.pk}/").status_code == 404


def test_install_rate_upgrade_uninstall_from_the_page(web, public_agent, team):
    url = f"/marketplace/agents/{public_agent.pk}"
    web.post(f"{url}/install/", {"version": ""})
    installation = Installation.objects.get(team=team, agent=public_agent)
    assert installation.version.version == "1.0.0"
    html = web.get(f"{url}/").content.decode()
    assert 'id="rate-form"' in html and "Installed 1.0.0" in html
    response = web.post(f"{url}/rate/", {"stars": "4", "review": "Nice"}, follow=True)
    assert "your rating is saved" in response.content.decode()
    assert Rating.objects.get().stars == 4
    response = web.post(f"{url}/rate/", {"stars": "9"}, follow=True)
    assert Rating.objects.get().stars == 4 and "stars" in response.content.decode()
    services.version_publish(agent=public_agent, system_prompt="v2")
    assert 'id="upgrade-button"' in web.get(f"{url}/").content.decode()
    assert "Upgrade to 1.1.0" in web.get("/marketplace/installed/").content.decode()
    web.post(f"{url}/upgrade/")
    assert Installation.objects.get(pk=installation.pk).version.version == "1.1.0"
    assert 'id="upgrade-button"' not in web.get(f"{url}/").content.decode()
    installed_html = web.get("/marketplace/installed/").content.decode()
    assert "1.1.0" in installed_html and "Upgrade to" not in installed_html
    web.post(f"{url}/uninstall/")
    assert not Installation.objects.get(pk=installation.pk).is_active
    assert "Nothing installed yet" in web.get("/marketplace/installed/").content.decode()


def test_create_edit_and_new_version_forms(web, team):
    response = web.post(
        "/marketplace/agents/new/",
        {
            "name": "Form Agent",
            "summary": "Made in a form",
            "description": "**hi**",
            "category": "coding",
            "tags": "a, b",
            "visibility": "public",
            "version": "0.1.0",
            "system_prompt": "Be brief.",
            "input_schema": '{"type": "object"}',
        },
    )
    agent = Agent.objects.get(name="Form Agent")
    assert response.status_code == 302 and response["Location"] == f"/marketplace/agents/{agent.pk}/"
    assert agent.tags == ["a", "b"] and agent.latest_version.version == "0.1.0"
    bad = web.post(
        "/marketplace/agents/new/",
        {
            "name": "Bad",
            "category": "coding",
            "visibility": "public",
            "version": "1",
            "system_prompt": "x",
            "input_schema": '{"type": "nope"}',
        },
    )
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    assert not Agent.objects.filter(name="Bad").exists()
    web.post(
        f"/marketplace/agents/{agent.pk}/edit/",
        {
            "name": "Form Agent",
            "summary": "Edited",
            "category": "coding",
            "tags": "a",
            "visibility": "private",
            "description": "",
        },
    )
    agent.refresh_from_db()
    assert agent.summary == "Edited" and agent.visibility == "private"
    response = web.post(
        f"/marketplace/agents/{agent.pk}/versions/new/", {"system_prompt": "Be briefer.", "changelog": "shorter"}
    )
    assert response.status_code == 302
    version = AgentVersion.objects.get(agent=agent, version="0.2.0")
    assert version.input_schema == {"type": "object"}  # kept from the previous version
    duplicate = web.post(f"/marketplace/agents/{agent.pk}/versions/new/", {"system_prompt": "x", "version": "0.2.0"})
    assert duplicate.status_code == 200 and "never reused" in duplicate.content.decode()
    # A form error (bad JSON) and a service error (a reused number) come back in one round.
    both = web.post(
        f"/marketplace/agents/{agent.pk}/versions/new/",
        {"system_prompt": "x", "version": "0.2.0", "input_schema": "{not json"},
    )
    assert set(both.context["form"].errors) == {"version", "input_schema"}
    web.post(f"/marketplace/agents/{agent.pk}/versions/{version.pk}/yank/", {"reason": "typo in prompt"})
    assert AgentVersion.objects.get(pk=version.pk).is_yanked


def test_other_teams_cannot_edit_or_yank(web, public_agent):
    assert web.get(f"/marketplace/agents/{public_agent.pk}/edit/").status_code == 403
    assert web.post(f"/marketplace/agents/{public_agent.pk}/versions/new/", {"system_prompt": "x"}).status_code == 403
    v = public_agent.latest_version
    web.post(f"/marketplace/agents/{public_agent.pk}/versions/{v.pk}/yank/", {"reason": "mine now"})
    assert not AgentVersion.objects.get(pk=v.pk).is_yanked


def test_viewer_cannot_install(client, viewer, public_agent):
    client.force_login(viewer)
    assert client.post(f"/marketplace/agents/{public_agent.pk}/install/").status_code == 403
    assert not Installation.objects.exists()


def test_report_from_the_page(web, public_agent):
    web.post(f"/marketplace/agents/{public_agent.pk}/report/", {"reason": "spam", "text": "ads"})
    assert Report.objects.get().reason == "spam"


def test_home_card(web, agent, public_agent, team):
    services.agent_install(agent=public_agent, team=team)
    html = web.get("/").content.decode()
    assert "Marketplace" in html and "Installed agents" in html


def test_admin_moderation_actions(admin_client, public_agent, make_team, make_user):
    team = make_team()
    user = make_user(team=team, role=Role.MEMBER)
    services.agent_install(agent=public_agent, team=team)
    rating, _ = services.rating_set(agent=public_agent, user=user, team=team, stars=1, review="spam")
    report = services.report_create(agent=public_agent, rating=rating, reporter=user, reason="spam")
    for url in (
        "/admin/marketplace/agent/",
        "/admin/marketplace/agentversion/",
        "/admin/marketplace/rating/",
        "/admin/marketplace/report/",
        "/admin/marketplace/installation/",
        f"/admin/marketplace/agent/{public_agent.pk}/change/",
    ):
        assert admin_client.get(url).status_code == 200, url
    admin_client.post("/admin/marketplace/report/", {"action": "take_action", "_selected_action": [report.pk]})
    assert Rating.objects.get(pk=rating.pk).is_hidden
    assert Report.objects.get(pk=report.pk).status == "actioned"
    admin_client.post("/admin/marketplace/agent/", {"action": "unlist", "_selected_action": [public_agent.pk]})
    assert not Agent.objects.get(pk=public_agent.pk).is_listed
    version = public_agent.latest_version
    admin_client.post("/admin/marketplace/agentversion/", {"action": "deprecate", "_selected_action": [version.pk]})
    assert AgentVersion.objects.get(pk=version.pk).is_yanked


@pytest.mark.parametrize("model", ["installation", "installevent", "download"])
def test_admin_lists_do_not_query_per_row(admin_client, make_agent, make_team, model):
    """The version column names its agent and team: they come in the list's own query."""

    def queries(n_teams):
        for _ in range(n_teams):
            team = make_team()
            agent = make_agent(make_team())
            services.agent_install(agent=agent, team=team)
            services.version_download(version=agent.latest_version, team=team)
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(f"/admin/marketplace/{model}/").status_code == 200
        return len(captured)

    assert queries(1) == queries(4)


def test_new_version_form_starts_from_the_latest_prompt_with_empty_schema_boxes(web, team, make_agent):
    agent = make_agent(team, "Prefilled", system_prompt="You review <code> carefully.", input_schema={"type": "object"})
    response = web.get(f"/marketplace/agents/{agent.pk}/versions/new/")
    html = response.content.decode()
    assert response.status_code == 200
    # The prompt box holds the latest version's prompt (escaped), and is marked required.
    assert "You review &lt;code&gt; carefully.</textarea>" in html
    assert 'for="id_system_prompt">System prompt <span class="required">(required)</span>' in html
    # Empty schema and hint boxes (not the text "null"), as their help says: empty keeps.
    for name in ("input_schema", "output_schema", "model_hints"):
        assert f'id="id_{name}">\n</textarea>' in html, name
    assert "null</textarea>" not in html and "Empty: keep the latest version&#x27;s schema." in html
    # Submitting the boxes as they are keeps the schema and publishes the next minor version.
    form = {"system_prompt": "You review carefully.", "input_schema": "", "output_schema": "", "model_hints": ""}
    assert web.post(f"/marketplace/agents/{agent.pk}/versions/new/", form).status_code == 302
    version = AgentVersion.objects.get(agent=agent, version="1.1.0")
    assert version.input_schema == {"type": "object"} and version.system_prompt == "You review carefully."


def test_create_form_shows_every_error_at_once(web, team, make_agent):
    make_agent(team, "Taken Name")
    response = web.post(
        "/marketplace/agents/new/",
        {
            "name": "Taken Name",  # the slug is taken (a service check)
            "category": "coding",
            "visibility": "public",
            "version": "1",  # not a semantic version (a service check)
            "system_prompt": "",  # required (a form check)
            "input_schema": "{not json",  # not JSON (a form check)
            "output_schema": '{"type": "nope"}',  # not a JSON Schema (a service check)
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"slug", "version", "system_prompt", "input_schema", "output_schema"}, errors
    assert Agent.objects.filter(name="Taken Name").count() == 1
    html = response.content.decode()
    assert 'name="input_schema"' in html and "{not json</textarea>" in html  # what was typed stays


def test_yank_asks_for_confirmation_with_a_reason_and_can_be_undone(web, team, make_agent):
    agent = make_agent(team, "Yankable")
    v2 = services.version_publish(agent=agent, system_prompt="v2")
    detail = web.get(f"/marketplace/agents/{agent.pk}/").content.decode()
    yank_url = f"/marketplace/agents/{agent.pk}/versions/{v2.pk}/yank/"
    assert f'href="{yank_url}"' in detail  # a link to the confirmation page, not an inline form
    page = web.get(yank_url)
    html = page.content.decode()
    assert page.status_code == 200 and "Yank 1.1.0" in html and "undo the yank later" in html
    assert "<script" not in html.split("</footer>")[0]  # no inline script (the CSP forbids them)
    assert not AgentVersion.objects.get(pk=v2.pk).is_yanked  # looking is not yanking
    missing = web.post(yank_url, {"reason": " "})
    assert missing.status_code == 200 and "errorlist" in missing.content.decode()
    assert not AgentVersion.objects.get(pk=v2.pk).is_yanked
    done = web.post(yank_url, {"reason": "Regression in tool calls"}, follow=True)
    assert done.redirect_chain[-1][0] == f"/marketplace/agents/{agent.pk}/"
    assert AgentVersion.objects.get(pk=v2.pk).yanked_reason == "Regression in tool calls"
    assert Agent.objects.get(pk=agent.pk).latest_version.version == "1.0.0"
    html = done.content.decode()
    unyank_url = f"/marketplace/agents/{agent.pk}/versions/{v2.pk}/unyank/"
    assert f'action="{unyank_url}"' in html and "data-confirm=" in html
    web.post(unyank_url)
    assert not AgentVersion.objects.get(pk=v2.pk).is_yanked
    assert Agent.objects.get(pk=agent.pk).latest_version.version == "1.1.0"


def test_viewers_and_other_teams_cannot_yank_or_unyank_in_pages(client, web, viewer, team, make_agent, public_agent):
    other = public_agent.latest_version
    services.version_yank(version=other, reason="theirs")
    assert web.get(f"/marketplace/agents/{public_agent.pk}/versions/{other.pk}/yank/").status_code == 403
    assert web.post(f"/marketplace/agents/{public_agent.pk}/versions/{other.pk}/unyank/").status_code == 403
    assert AgentVersion.objects.get(pk=other.pk).is_yanked
    agent = make_agent(team, "Ours")
    ours = agent.latest_version
    client.force_login(viewer)
    page = client.get(f"/marketplace/agents/{agent.pk}/versions/{ours.pk}/yank/").content.decode()
    assert "read-only" in page and 'name="reason"' not in page  # no form to submit
    assert client.post(f"/marketplace/agents/{agent.pk}/versions/{ours.pk}/yank/", {"reason": "x"}).status_code == 403
    assert not AgentVersion.objects.get(pk=ours.pk).is_yanked


def test_schemas_and_model_hints_are_shown_as_json(web, public_agent):
    """Issue 10: they were shown as Python repr ({'type': 'object', ...}, True, None)."""
    services.version_publish(
        agent=public_agent,
        system_prompt="v2",
        input_schema={"type": "object", "properties": {"q": {"type": "string"}}, "additionalProperties": False},
        output_schema={"type": "object", "title": "Ünïcode"},
        model_hints={"model": "gpt-4o", "temperature": None},
    )
    html = web.get(f"/marketplace/agents/{public_agent.pk}/").content.decode()
    pre = "<h3>Input schema</h3><pre>"
    shown = html.split(pre)[1].split("</pre>")[0]
    assert shown == (
        "{\n  &quot;type&quot;: &quot;object&quot;,\n  &quot;properties&quot;: {\n    &quot;q&quot;: {\n"
        "      &quot;type&quot;: &quot;string&quot;\n    }\n  },\n  &quot;additionalProperties&quot;: false\n}"
    )
    assert "&quot;title&quot;: &quot;Ünïcode&quot;" in html
    assert "&quot;temperature&quot;: null" in html
    assert "&#x27;type&#x27;" not in html and "False" not in html and "None" not in html
