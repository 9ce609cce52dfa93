"""Semantic versions (https://semver.org): parsing and a sort key PostgreSQL can order by.

A version is stored as its text plus sortable columns: ``major``, ``minor``, ``patch``,
``is_release`` (False for pre-releases, which sort below the release) and ``prerelease_key``
(a byte-comparable rendering of the pre-release identifiers, stored with the "C" collation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = r"0|[1-9]\d*"
_IDENT = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
SEMVER_RE = re.compile(
    rf"^(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<prerelease>{_IDENT}(?:\.{_IDENT})*))?"
    rf"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
MAX_COMPONENT = 2**31 - 1
MAX_LENGTH = 64


class InvalidVersion(ValueError):
    pass


@dataclass(frozen=True)
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: str = ""
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> SemVer:
        if not isinstance(text, str):
            raise InvalidVersion("A version is a string such as '1.2.0'.")
        text = text.strip()
        if text[:1] in ("v", "V"):
            text = text[1:]
        if len(text) > MAX_LENGTH:
            raise InvalidVersion(f"A version has at most {MAX_LENGTH} characters.")
        match = SEMVER_RE.match(text)
        if not match:
            raise InvalidVersion(
                f"'{text}' is not a semantic version: use MAJOR.MINOR.PATCH such as '1.4.0' "
                "(optionally with a pre-release such as '2.0.0-beta.1')."
            )
        parts = [int(match[name]) for name in ("major", "minor", "patch")]
        if any(part > MAX_COMPONENT for part in parts):
            raise InvalidVersion(f"Each number of a version is at most {MAX_COMPONENT}.")
        return cls(*parts, prerelease=match["prerelease"] or "", build=match["build"] or "")

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text

    @property
    def is_release(self) -> bool:
        return not self.prerelease

    @property
    def prerelease_key(self) -> str:
        """Numeric identifiers sort numerically and below alphanumeric ones; a shorter list of
        identifiers sorts first when all earlier ones are equal (semver rule 11)."""
        out = []
        for ident in self.prerelease.split(".") if self.prerelease else []:
            out.append("0" + ident.zfill(10) if ident.isdigit() else "1" + ident)
        return " ".join(out)  # space sorts below every identifier character in the C collation

    def sort_key(self) -> tuple:
        return (self.major, self.minor, self.patch, self.is_release, self.prerelease_key)

    def next_minor(self) -> SemVer:
        return SemVer(self.major, self.minor + 1, 0)
