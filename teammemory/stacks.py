"""Stack components: free-form names from clients, normalised so that "Postgres", " postgresql "
and "PG" count as one component when builds are compared.

A build's stack is a mapping {role: name} ("language": "Python", "database": "Postgres").
Normalising lower-cases and trims both, collapses inner whitespace, and maps common aliases to
one canonical name. The stack key (how builds are grouped "by stack") joins the normalised names
in a fixed role order, so the same stack reported with roles in another order is one stack.
"""

from __future__ import annotations

import re

ROLE_ORDER = ["language", "framework", "database", "frontend", "hosting"]

ROLE_ALIASES = {
    "lang": "language",
    "languages": "language",
    "db": "database",
    "datastore": "database",
    "storage": "database",
    "ui": "frontend",
    "front-end": "frontend",
    "front end": "frontend",
    "web framework": "framework",
    "backend": "framework",
    "host": "hosting",
    "deploy": "hosting",
    "deployment": "hosting",
    "cloud": "hosting",
    "infra": "hosting",
}

ALIASES = {
    "postgres": "postgresql",
    "pg": "postgresql",
    "psql": "postgresql",
    "postgre": "postgresql",
    "postgre sql": "postgresql",
    "mongo": "mongodb",
    "mongo db": "mongodb",
    "mysql db": "mysql",
    "maria db": "mariadb",
    "sqlite3": "sqlite",
    "redis db": "redis",
    "js": "javascript",
    "ecmascript": "javascript",
    "ts": "typescript",
    "py": "python",
    "python3": "python",
    "python 3": "python",
    "golang": "go",
    "node": "node.js",
    "nodejs": "node.js",
    "node js": "node.js",
    "reactjs": "react",
    "react.js": "react",
    "react js": "react",
    "vuejs": "vue",
    "vue.js": "vue",
    "vue js": "vue",
    "nextjs": "next.js",
    "next": "next.js",
    "nuxtjs": "nuxt",
    "angularjs": "angular",
    "svelte kit": "sveltekit",
    "expressjs": "express",
    "express.js": "express",
    "rails": "ruby on rails",
    "ror": "ruby on rails",
    "dotnet": ".net",
    "asp.net core": ".net",
    "c sharp": "c#",
    "csharp": "c#",
    "k8s": "kubernetes",
    "kube": "kubernetes",
    "amazon web services": "aws",
    "google cloud": "gcp",
    "google cloud platform": "gcp",
    "microsoft azure": "azure",
    "fly": "fly.io",
    "flyio": "fly.io",
    "drf": "django rest framework",
}

_SPACES = re.compile(r"\s+")


def _clean(value: str) -> str:
    return _SPACES.sub(" ", str(value).strip().lower())


def normalize_component(name: str) -> str:
    """'  Postgres ' -> 'postgresql'; unknown names are only lower-cased and trimmed."""
    cleaned = _clean(name)
    return ALIASES.get(cleaned, cleaned)


def normalize_role(role: str) -> str:
    cleaned = _clean(role)
    return ROLE_ALIASES.get(cleaned, cleaned)


def role_rank(role: str) -> tuple[int, str]:
    return (ROLE_ORDER.index(role), "") if role in ROLE_ORDER else (len(ROLE_ORDER), role)


def normalize_stack(stack: dict[str, str]) -> dict[str, str]:
    """{role: name} with both normalised, in canonical role order."""
    pairs = [(normalize_role(role), normalize_component(name)) for role, name in stack.items()]
    return dict(sorted(pairs, key=lambda pair: role_rank(pair[0])))


def stack_components(normalized: dict[str, str]) -> list[str]:
    """The normalised component names of a normalised stack, in role order, without repeats."""
    seen: list[str] = []
    for name in normalized.values():
        if name not in seen:
            seen.append(name)
    return seen


def stack_key(normalized: dict[str, str]) -> str:
    """'python + django + postgresql': how builds are grouped by stack."""
    return " + ".join(stack_components(normalized))


def normalize_components(names) -> list[str]:
    out: list[str] = []
    for name in names or []:
        value = normalize_component(name)
        if value and value not in out:
            out.append(value)
    return out
