"""What changed between two versions of an agent: system prompt, schemas and model hints.

Plain ``difflib`` unified diffs, line by line. Pages render the lines as text (escaped by the
template engine like any user text); the API gives the same lines and the unified diff as text.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass

# What a version is made of, in the order the diff shows it.
DIFF_FIELDS = (
    ("system_prompt", "System prompt"),
    ("input_schema", "Input schema"),
    ("output_schema", "Output schema"),
    ("model_hints", "Model hints"),
)
CONTEXT_LINES = 3
# Lines compared per field: a longer text is cut, so a huge prompt cannot stall a request.
MAX_LINES = 5000


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "hunk" (@@ header), "add", "remove" or "same"
    text: str


def _lines(value) -> list[str]:
    if value is None:
        return []
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return text.splitlines()[:MAX_LINES]


def _kind(line: str) -> str:
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "remove"}.get(line[:1], "same")


def field_diff(old, new, *, old_label: str, new_label: str) -> dict:
    """One field's unified diff: ``changed``, ``lines`` (DiffLine list without the file headers),
    ``unified`` (the text, headers included), ``added`` and ``removed`` line counts."""
    raw = list(
        difflib.unified_diff(
            _lines(old), _lines(new), fromfile=old_label, tofile=new_label, n=CONTEXT_LINES, lineterm=""
        )
    )
    body = [DiffLine(_kind(line), line) for line in raw[2:]]
    return {
        "changed": bool(body),
        "lines": body,
        "unified": "\n".join(raw),
        "added": sum(1 for line in body if line.kind == "add"),
        "removed": sum(1 for line in body if line.kind == "remove"),
    }


def version_diff(*, old, new) -> dict:
    """The diff between two versions (any order the caller likes: ``old`` is the left side)."""
    fields = []
    for name, label in DIFF_FIELDS:
        diff = field_diff(
            getattr(old, name), getattr(new, name), old_label=f"{name} {old.version}", new_label=f"{name} {new.version}"
        )
        fields.append({"field": name, "label": label, **diff})
    return {
        "from_version": old.version,
        "to_version": new.version,
        "changed": any(f["changed"] for f in fields),
        "fields": fields,
    }
