"""A URL converter for ids that are any text (session ids, end-user ids, trace ids): "/", "%",
"?", "#", spaces and any Unicode letter round-trip through ``reverse`` and back.

``reverse`` percent-encodes what is not safe in a path but keeps "/" as it is, and browsers remove
"." and ".." segments. So ``to_url`` first escapes "%" as ``%25``, "/" as ``%2F`` and an id made
only of dots as ``%2E`` each (``reverse`` then encodes those "%" again); the server decodes the
path once and ``to_python`` undoes the escapes in one pass. A hand-typed id with a plain "/" is
read as it is (the pattern takes any text)."""

from __future__ import annotations

import re

ESCAPES = {"%25": "%", "%2F": "/", "%2E": "."}
UNESCAPE = re.compile("|".join(ESCAPES), re.IGNORECASE)


class AnyTextIdConverter:
    regex = ".+"

    def to_python(self, value: str) -> str:
        return UNESCAPE.sub(lambda m: ESCAPES[m.group(0).upper()], value)

    def to_url(self, value) -> str:
        text = str(value).replace("%", "%25").replace("/", "%2F")
        return text.replace(".", "%2E") if text and set(text) == {"."} else text
