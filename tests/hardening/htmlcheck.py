"""Reading rendered HTML for the things a Content Security Policy and CSRF protection rely on."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


@dataclass
class PageFacts:
    inline_scripts: list[str] = field(default_factory=list)  # code in <script> without src
    external_scripts: list[str] = field(default_factory=list)
    event_handlers: list[str] = field(default_factory=list)  # onclick=... attributes
    javascript_urls: list[str] = field(default_factory=list)  # href="javascript:..."
    post_forms_without_csrf: list[str] = field(default_factory=list)
    post_forms: int = 0
    inline_styles_blocks: int = 0


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.facts = PageFacts()
        self._script = None  # attrs of the open <script>
        self._script_text = []
        self._form = None  # [description, has_csrf]

    def handle_starttag(self, tag, attrs):
        attr = {k.lower(): (v or "") for k, v in attrs}
        for name, value in attr.items():
            if name.startswith("on"):
                self.facts.event_handlers.append(f"<{tag} {name}={value[:60]!r}>")
            if name in ("href", "src", "action", "formaction", "xlink:href") and value.strip().lower().replace(
                "\t", ""
            ).replace("\n", "").startswith(("javascript:", "vbscript:", "data:text/html")):
                self.facts.javascript_urls.append(f"<{tag} {name}={value[:60]!r}>")
        if tag == "script":
            self._script = attr
            self._script_text = []
        elif tag == "form":
            if attr.get("method", "get").lower() == "post":
                self.facts.post_forms += 1
                self._form = [f"<form action={attr.get('action', '')!r}>", False]
        elif (
            tag == "input"
            and self._form is not None
            and attr.get("name") == "csrfmiddlewaretoken"
            and attr.get("value")
        ):
            self._form[1] = True

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            attrs, text = self._script, "".join(self._script_text).strip()
            if attrs.get("src"):
                self.facts.external_scripts.append(attrs["src"])
            elif attrs.get("type", "").lower() not in DATA_SCRIPT_TYPES:
                self.facts.inline_scripts.append(text[:120] or "<empty inline script>")
            self._script = None
        elif tag == "form" and self._form is not None:
            if not self._form[1]:
                self.facts.post_forms_without_csrf.append(self._form[0])
            self._form = None

    def handle_data(self, data):
        if self._script is not None:
            self._script_text.append(data)


def inspect(html: str) -> PageFacts:
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.facts
