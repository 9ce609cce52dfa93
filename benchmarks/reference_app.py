"""The floor for the HTTP benchmarks: a minimal Django + DRF application in one file.

One DRF ``APIView`` answers ``GET /ping/`` with a small JSON object: no database, no middleware,
no authentication, no throttling, JSON renderer only. It is served exactly as Crucible is (granian,
the same workers and threads, the same buffering front ``crucible.asgi``), so the ratio of an
endpoint of ours to it is what our own code costs on top of the framework and the server.

Run by ``benchmarks/_server.py`` (``start_server(..., reference=True)``): the server imports
``crucible.asgi`` with ``DJANGO_SETTINGS_MODULE=benchmarks.reference_app``, so the front wraps this
application instead of Crucible's. This module is its own settings and URLconf.
"""

from __future__ import annotations

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = __name__
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
MIDDLEWARE: list[str] = []
DATABASES: dict = {}
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
# What crucible.asgi reads from the settings (the same values Crucible runs with by default).
SERVER_THREADS = 4
API_MAX_BODY_BYTES = 2 * 1024 * 1024
SERVER_BODY_TIMEOUT_SECONDS = 30
# The development key: crucible.wsgi's guard against published demo passwords (which needs a
# database) only runs for a production configuration.
from crucible.settings import _DEV_SECRET as SECRET_KEY  # noqa: E402,F401


class Ping(APIView):
    def get(self, request):
        return Response({"id": 1, "name": "reference", "ok": True})


urlpatterns = [path("ping/", Ping.as_view())]
