"""True floors that the benchmarks serve beside our pages and requests, from outside our code.

``minimal_page_url()`` adds, once per process, a view rendering a small template (no database
read of its own) to the project's URLs, so it is served by the same middleware, session and test
client as the page it is compared with: a page of ours can only be slower by what it does itself.
Import after ``django.setup()``.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.template import engines
from django.urls import clear_url_caches, path

from crucible import urls as root_urls

MINIMAL_PAGE = "/__bench_minimal_page__/"
_TEMPLATE = engines["django"].from_string(
    "<!doctype html><html><head><title>{{ title }}</title></head><body><h1>{{ title }}</h1>"
    "<ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul></body></html>"
)


def minimal_view(request):
    return HttpResponse(_TEMPLATE.render({"title": "Minimal", "items": range(10)}, request))


def minimal_page_url() -> str:
    route = MINIMAL_PAGE.strip("/") + "/"
    if not any(str(getattr(p, "pattern", "")) == route for p in root_urls.urlpatterns):
        root_urls.urlpatterns.append(path(route, minimal_view))
        clear_url_caches()
    return MINIMAL_PAGE
