"""Benchmark: what one API request costs in-process, before and inside its view (issue 16).

Calls Django's WSGI handler directly (no HTTP server, no client library), with an API key, for
``GET /api/v1/teams/`` and the three ``select`` forms (by name, by id, by id with a unit key),
beside the minimal DRF endpoint of ``benchmarks/reference_app.py`` (the same ``APIView`` with no
middleware, authentication, throttling or database) called the same way, interleaved round by
round. For each it prints the CPU per request of this process (Python) and of its PostgreSQL
backend (from ``/proc``, as ``benchmarks/_measure.py``), the wall time, and the statements and
round trips per request. ``--profile NAME`` prints a cProfile of that path instead.

    CRUCIBLE_DB_NAME=bench_api_path .venv/bin/python benchmarks/api_path.py
    CRUCIBLE_DB_NAME=bench_api_path .venv/bin/python benchmarks/api_path.py --profile unit

The ratios over HTTP come from ``benchmarks/server.py`` and ``benchmarks/improvement.py``; this
script says where the time of one request goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _measure import CpuMeter, load_average  # noqa: E402

DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_api_path")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_api_path.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")
os.environ.setdefault("CRUCIBLE_THROTTLE_API_KEY", "100000000/min")

import django  # noqa: E402

django.setup()

from _seed import select_experiment  # noqa: E402  (benchmarks/_seed.py)
from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.urls import clear_url_caches, path  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible import urls as root_urls  # noqa: E402
from crucible.models import Team  # noqa: E402
from improvement.models import Experiment  # noqa: E402

REFERENCE = "/__bench_reference_ping__/"


class Ping(APIView):
    """``benchmarks/reference_app.py``'s view with that application's DRF settings."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    renderer_classes = [JSONRenderer]

    def get(self, request):
        return Response({"id": 1, "name": "reference", "ok": True})


def _binding(on: bool) -> None:
    """psycopg's server-side binding with statements prepared on their second run, or Django's
    default (client-side binding, nothing prepared): ``CRUCIBLE_DB_SERVER_SIDE_BINDING``."""
    options = connection.settings_dict["OPTIONS"]
    options.pop("server_side_binding", None)
    options.pop("prepare_threshold", None)
    if on:
        options.update(server_side_binding=True, prepare_threshold=PREPARE_THRESHOLD[0])
    connection.close()


def _static_fields(on: bool) -> None:
    """Output serializers' fields built once per process (``StaticFieldsMixin``), or by DRF for
    every response."""
    from crucible.api.serializers import StaticFieldsMixin

    if on:
        vars(StaticFieldsMixin).get("_bench_saved") and setattr(
            StaticFieldsMixin, "static_fields", StaticFieldsMixin._bench_saved
        )
    else:
        StaticFieldsMixin._bench_saved = vars(StaticFieldsMixin)["static_fields"]
        StaticFieldsMixin.static_fields = classmethod(lambda cls: None)


TOGGLES = {"binding": _binding, "static": _static_fields}
PREPARE_THRESHOLD = [settings.DB_PREPARE_THRESHOLD]  # --prepare-threshold (default: the app's setting)


def prepare() -> tuple[str, int]:
    call_command("migrate", verbosity=0)
    team, _ = Team.objects.get_or_create(slug="bench-api-path", defaults={"name": "Bench API path"})
    experiment = Experiment.objects.filter(team=team, name="bench-select").first()
    if experiment is None:
        experiment = select_experiment(team=team, name="bench-select")
    _, raw = core.api_key_create(team=team, name="bench")
    return raw, experiment.pk


def environ(method: str, url: str, key: str | None, body: dict | None) -> dict:
    payload = json.dumps(body).encode() if body is not None else b""
    path_info, _, query = url.partition("?")
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(payload),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(payload)) if payload else "",
        "CONTENT_TYPE": "application/json" if payload else "",
        "HTTP_ACCEPT": "*/*",
    }
    if key:
        env["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return env


def call(handler, method, url, key, body) -> int:
    status = []
    response = handler(environ(method, url, key, body() if callable(body) else body), lambda s, h: status.append(s))
    try:
        b"".join(response)
    finally:
        response.close()
    return int(status[0].split()[0])


def profile(run, args) -> None:
    h, method, url, k, body, _ = run
    profiler = cProfile.Profile(time.process_time)  # CPU, not waits for the database
    profiler.enable()
    for _ in range(args.requests):
        call(h, method, url, k, body)
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats(args.sort)
    if args.profile_dump:
        stats.dump_stats(args.profile_dump)
    stats.print_stats(args.profile_lines)


def statements_of(paths) -> dict[str, list[str]]:
    statements = {}
    for name, (h, method, url, k, body, _) in paths.items():
        seen = []

        def counting(execute, sql, params, many, context, seen=seen):
            seen.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counting):
            call(h, method, url, k, body)
        statements[name] = seen
    return statements


def measure(paths, args) -> tuple[dict[tuple[str, str], list[CpuMeter]], list[str]]:
    toggle = TOGGLES.get(args.compare)
    settings_ = ["off", "on"] if toggle else [""]
    meters: dict[tuple[str, str], list[CpuMeter]] = {(setting, name): [] for setting in settings_ for name in paths}
    loads = [load_average()]
    for round_ in range(args.rounds):
        for setting in settings_[round_ % len(settings_) :] + settings_[: round_ % len(settings_)]:
            if toggle:
                toggle(setting == "on")
            for name in list(paths)[round_ % len(paths) :] + list(paths)[: round_ % len(paths)]:
                h, method, url, k, body, _ = paths[name]
                call(h, method, url, k, body)  # a new connection (after a toggle) outside the meter
                with CpuMeter() as meter:
                    for _ in range(args.requests):
                        call(h, method, url, k, body)
                meters[(setting, name)].append(meter)
        loads.append(load_average())
    return meters, loads


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="requests per path per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", default="", help="print a cProfile of this path (teams, select, by_id, unit)")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key")
    parser.add_argument("--profile-lines", type=int, default=45)
    parser.add_argument("--profile-dump", default="", help="also write the profile's stats to this file")
    parser.add_argument(
        "--prepare-threshold",
        default=str(settings.DB_PREPARE_THRESHOLD),
        help="with --compare binding ('off': none prepared; default: CRUCIBLE_DB_PREPARE_THRESHOLD)",
    )
    parser.add_argument(
        "--compare",
        choices=sorted(TOGGLES),
        default="",
        help="measure each path with this switched off and on, interleaved round by round",
    )
    args = parser.parse_args()
    connection.settings_dict["CONN_MAX_AGE"] = None  # one backend for the whole run (its /proc entry)
    PREPARE_THRESHOLD[0] = None if args.prepare_threshold == "off" else int(args.prepare_threshold)

    key, experiment_id = prepare()
    root_urls.urlpatterns.append(path(REFERENCE.strip("/") + "/", Ping.as_view()))
    clear_url_caches()
    handler = WSGIHandler()
    with override_settings(MIDDLEWARE=[]):
        bare = WSGIHandler()  # the reference application has no middleware
    paths = {
        "reference": (bare, "GET", REFERENCE, None, None, 200),
        "teams": (handler, "GET", "/api/v1/teams/", key, None, 200),
        "select": (handler, "POST", "/api/v1/improvement/select/", key, {"experiment": "bench-select"}, 201),
        "by_id": (handler, "POST", f"/api/v1/improvement/experiments/{experiment_id}/select/", key, {}, 201),
        "unit": (
            handler,
            "POST",
            f"/api/v1/improvement/experiments/{experiment_id}/select/",
            key,
            lambda: {"unit": f"user-{random.randrange(5000)}"},
            201,
        ),
    }
    for name, (h, method, url, k, body, expected) in paths.items():  # warm-up
        for _ in range(50):
            got = call(h, method, url, k, body)
            assert got == expected, (name, got)

    if args.profile:
        profile(paths[args.profile], args)
        return
    statements = statements_of(paths)
    meters, loads = measure(paths, args)
    n = args.requests
    print(f"database {DB_NAME}; {args.rounds} interleaved rounds of {n} requests per path, medians per request")
    print("load average around the rounds: " + "; ".join(loads))
    print(f"{'path':16}{'python ms':>11}{'postgres ms':>13}{'wall ms':>9}{'statements':>12}")
    for (setting, name), rows in meters.items():
        python = statistics.median(m.python for m in rows) / n * 1000
        database = None if any(m.database is None for m in rows) else statistics.median(m.database for m in rows)
        wall = statistics.median(m.wall for m in rows) / n * 1000
        db = "-" if database is None else f"{database / n * 1000:.3f}"
        label = f"{name} {args.compare} {setting}" if setting else name
        print(f"{label:16}{python:>11.3f}{db:>13}{wall:>9.3f}{len(statements[name]):>12}")
    for name, seen in statements.items():
        for sql in seen:
            print(f"  {name}: {' '.join(sql.split())[:150]}")


if __name__ == "__main__":
    main()
