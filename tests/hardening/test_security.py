"""Security settings the pages and the API keep: CSP without inline scripts, CSRF on every form,
HTTPS cookies and HSTS in production, login throttling, hashed API keys compared in constant time,
and secrets from the environment."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.urls import reverse

from crucible import services as core
from crucible.models import ApiKey
from tests.hardening import discovery
from tests.hardening.htmlcheck import inspect
from tests.hardening.registry import values_for_route

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db

# Pages that only answer POST (GET is 405) are reached through the forms of other pages.
EXTRA_PAGES = ["api-docs"]


def page_urls(world):
    for route in discovery.page_routes():
        if route.name in (None, "logout", "healthz"):
            continue
        if route.params:
            values = values_for_route(world, route.name, route.params, route.view_class)
            assert values is not None, f"{route.name}: cannot fill {route.params}"
            yield route.name, reverse(route.name, kwargs=values)
        else:
            yield route.name, reverse(route.name)
    for name in EXTRA_PAGES:
        yield name, reverse(name)


def assert_page_is_clean(name, response):
    html = response.content.decode()
    facts = inspect(html)
    assert facts.inline_scripts == [], f"{name}: inline <script> (CSP forbids it): {facts.inline_scripts}"
    assert facts.event_handlers == [], f"{name}: inline event handlers: {facts.event_handlers}"
    assert facts.javascript_urls == [], f"{name}: javascript: URLs: {facts.javascript_urls}"
    assert facts.post_forms_without_csrf == [], (
        f"{name}: POST forms without a CSRF token: {facts.post_forms_without_csrf}"
    )
    policy = response["Content-Security-Policy"]
    script_src = policy.split("script-src")[1].split(";")[0]
    assert "'self'" in script_src and "unsafe-inline" not in script_src and "unsafe-eval" not in script_src, policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    return facts


@pytest.mark.parametrize("who", ["owner_a", "viewer_a"])
def test_every_page_keeps_the_csp_and_puts_csrf_in_every_post_form(world, client, who):
    client.force_login(getattr(world, who))
    seen = 0
    forms = 0
    for name, url in page_urls(world):
        response = discovery.read(client.get(url))  # the executions export streams a file
        if response.status_code == 405:  # POST-only endpoints behind a form of another page
            continue
        assert response.status_code == 200, (name, url, response.status_code)
        forms += assert_page_is_clean(name, response).post_forms
        seen += 1
    assert seen >= 6
    assert forms >= 1  # the team switcher and logout forms are on every page


def test_public_pages_keep_the_csp(client):
    for url in [reverse("login"), "/api-auth/login/", "/no-such-page/"]:
        response = client.get(url)
        assert response.status_code in (200, 404)
        assert_page_is_clean(url, response)


def test_browsable_api_keeps_the_csp(world, client):
    client.force_login(world.owner_a)
    response = client.get("/api/v1/teams/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert "text/html" in response["Content-Type"]
    facts = inspect(response.content.decode())
    assert facts.inline_scripts == [], facts.inline_scripts


def test_browsable_api_logs_out_without_inline_script(world):
    # Issue 15, item 11: DRF's "Log out" was a link with an inline onclick, which the CSP blocks.
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.owner_a)
    html = client.get("/api/v1/teams/", HTTP_ACCEPT="text/html").content.decode()
    facts = inspect(html)
    assert facts.event_handlers == [] and facts.javascript_urls == [] and facts.post_forms_without_csrf == []
    form = re.search(r'<form method="post" action="(/api-auth/logout/[^"]*)"[^>]*>(.*?)</form>', html, re.S)
    assert form is not None and 'type="submit"' in form.group(2)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(2)).group(1)
    response = client.post(form.group(1).replace("&amp;", "&"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert client.get("/api/v1/teams/").status_code == 401


def test_api_docs_load_nothing_from_the_internet(client):
    # ReDoc fetched fonts, a logo and its search worker from the internet: it is gone.
    assert client.get("/api/v1/redoc/").status_code == 404
    response = client.get(reverse("api-docs"))
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(src.startswith("/") and not src.startswith("//") for src in sources), sources
    script = client.get(reverse("api-docs") + "?script=").content.decode()
    assert "https://" not in script.replace("https://swagger.io", "")


def test_csrf_is_enforced_on_pages_and_session_api(world):
    from django.test import Client
    from rest_framework.test import APIClient

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.owner_a)
    response = client.post(reverse("api-keys"), {"name": "csrf-less", "role": "member"})
    assert response.status_code == 403
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(world.owner_a)
    response = api.post("/api/v1/api-keys/", {"name": "csrf-less"}, format="json")
    assert response.status_code == 403
    assert not ApiKey.objects.filter(name="csrf-less").exists()
    # With the token from the page, the same form works.
    page = client.get(reverse("api-keys"))
    token = page.cookies["csrftoken"].value
    ok = client.post(reverse("api-keys"), {"name": "with-token", "role": "member", "csrfmiddlewaretoken": token})
    assert ok.status_code == 302
    assert ApiKey.objects.filter(name="with-token").exists()


# --- production settings (a subprocess reads them from the environment) -------------------------

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
c = Client()
r = c.get("/login/", secure=True)
plain = Client().get("/login/")
print(json.dumps({
    "hsts": r.get("Strict-Transport-Security"),
    "csrf_cookie_secure": bool(r.cookies["csrftoken"]["secure"]),
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "session_httponly": settings.SESSION_COOKIE_HTTPONLY,
    "redirect": plain.status_code, "location": plain.get("Location"),
    "debug": settings.DEBUG,
}))
"""


def _settings_probe(**env):
    full = dict(os.environ, CRUCIBLE_DEBUG="0", CRUCIBLE_TESTING="1", DJANGO_SETTINGS_MODULE="crucible.settings", **env)
    full["CRUCIBLE_DB_NAME"] = os.environ.get("CRUCIBLE_TEST_DB_NAME", "test_hardening")
    full.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_https_mode_sets_secure_cookies_hsts_and_redirects():
    facts = _settings_probe(CRUCIBLE_HTTPS="1", CRUCIBLE_SECRET_KEY="s" * 60 + "-from-env")
    assert facts["hsts"] is not None and "max-age=31536000" in facts["hsts"]
    assert "includeSubDomains" in facts["hsts"] and "preload" in facts["hsts"]
    assert facts["csrf_cookie_secure"] and facts["session_cookie_secure"] and facts["session_httponly"]
    assert facts["redirect"] == 301 and facts["location"].startswith("https://")
    assert facts["debug"] is False


def test_plain_http_mode_keeps_cookies_usable_locally():
    facts = _settings_probe(CRUCIBLE_HTTPS="0")
    assert facts["hsts"] is None and facts["redirect"] == 200
    assert facts["csrf_cookie_secure"] is False


def test_check_deploy_refuses_the_development_secret_key():
    """Secrets come from the environment: production settings with the built-in development key
    must fail `check --deploy` (Django's own check does not recognise our development key)."""
    env = dict(os.environ, CRUCIBLE_DEBUG="0", CRUCIBLE_HTTPS="1", CRUCIBLE_ALLOWED_HOSTS="crucible.example.com")
    env.pop("CRUCIBLE_SECRET_KEY", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env["CRUCIBLE_DB_NAME"] = os.environ.get("CRUCIBLE_TEST_DB_NAME", "test_hardening")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "crucible.E001" in result.stdout + result.stderr


# --- login throttling -------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/login/", "/api-auth/login/", "/admin/login/"])
def test_every_login_form_is_throttled(client, world, settings, url):
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    username = world.owner_a.username
    for _ in range(3):
        assert client.post(url, {"username": username, "password": "wrong"}).status_code == 200
    blocked = client.post(url, {"username": username, "password": "pw-for-tests-1"})
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


def test_admin_login_is_limited(client, make_user):
    # Issue 15, item 3: 35 wrong passwords, then the right one logged in to /admin/.
    make_user("root", is_staff=True, is_superuser=True)
    codes = {
        client.post("/admin/login/", {"username": "root", "password": f"guess-{i}"}).status_code for i in range(35)
    }
    assert codes == {200, 429}
    response = client.post("/admin/login/", {"username": "root", "password": "pw-for-tests-1"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_throttle_is_per_username_and_per_address(client, world, settings):
    # Changed by issue 15, item 3: the limit used to be keyed on username *and* address, so
    # rotating usernames from one address, or one username from many addresses, was unlimited.
    settings.LOGIN_THROTTLE_ATTEMPTS = 2
    settings.LOGIN_THROTTLE_ADDRESS_ATTEMPTS = 5
    for _ in range(3):
        client.post("/login/", {"username": world.owner_a.username, "password": "wrong"})
    # Another account from the same address still logs in (the address has 3 of its 5) ...
    assert (
        client.post("/login/", {"username": world.viewer_a.username, "password": "pw-for-tests-1"}).status_code == 302
    )
    client.logout()
    # ... but the guessed username is refused from any address, in any letter case.
    for name, address in [(world.owner_a.username, "10.9.9.9"), (world.owner_a.username.upper(), "127.0.0.1")]:
        response = client.post("/login/", {"username": name, "password": "pw-for-tests-1"}, REMOTE_ADDR=address)
        assert response.status_code == 429
    # Rotating usernames from one address uses up that address: then nobody logs in from it.
    for i in range(5):
        client.post("/login/", {"username": f"nobody-{i}", "password": "wrong"}, REMOTE_ADDR="10.1.1.2")
    response = client.post(
        "/login/", {"username": world.viewer_a.username, "password": "pw-for-tests-1"}, REMOTE_ADDR="10.1.1.2"
    )
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_throttled_login_hashes_no_password(client, world, settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 1
    client.post("/login/", {"username": world.owner_a.username, "password": "wrong"})
    with mock.patch("django.contrib.auth.hashers.check_password") as check:
        assert client.post("/login/", {"username": world.owner_a.username, "password": "x"}).status_code == 429
        assert client.post("/admin/login/", {"username": world.owner_a.username, "password": "x"}).status_code == 429
    check.assert_not_called()


def test_the_backend_refuses_a_throttled_username_whatever_the_form(world, settings):
    from django.contrib.auth import authenticate

    settings.LOGIN_THROTTLE_ATTEMPTS = 2
    for _ in range(2):
        assert authenticate(username=world.owner_a.username, password="wrong") is None
    assert authenticate(username=world.owner_a.username, password="pw-for-tests-1") is None


# --- API keys ----------------------------------------------------------------------------------


def test_api_keys_are_stored_as_sha256_only(world):
    key, raw = core.api_key_create(team=world.team_a, name="hash check")
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert row["key_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    secret = raw.split("_", 2)[2]
    assert all(secret not in str(value) for value in row.values())


def test_api_key_comparison_is_constant_time(world):
    import hmac

    raw = world.keys["member_a"]
    with mock.patch("crucible.services.hmac.compare_digest", wraps=hmac.compare_digest) as compare:
        assert core.api_key_authenticate(raw=raw) is not None
        assert core.api_key_authenticate(raw=raw[:-2] + "zz") is None
    assert compare.call_count == 2


@pytest.mark.parametrize(
    "header",
    [
        "Bearer crk_",
        "Bearer crk__",
        "Bearer crk_\u00e9\u00e9_x",
        "Bearer " + "crk_" + "a" * 5000,
        "Basic Zm9vOmJhcg==",
        "Bearer crk_%00_x",
    ],
)
def test_odd_authorization_headers_are_refused_cleanly(api_client, header):
    response = api_client.get("/api/v1/teams/", HTTP_AUTHORIZATION=header)
    assert response.status_code in (401, 403)
    assert response.json()["code"] in {"not_authenticated", "authentication_failed"}
