"""Agent descriptions: Markdown to sanitised HTML, once, when the text is written.

Rendering is bounded for any input (issue 15, item 1: Python-Markdown took 171 s on 50,000 nested
``[``). cmark-gfm (GitHub's C implementation of CommonMark, through ``cmarkgfm``) parses in time
linear in the input and caps reference-link expansion itself; what it cannot bound is checked
here, each in one linear pass:

- table cells: a GFM table pads every row to the header's width, so a wide header followed by
  many short lines becomes megabytes of ``<td>``; the cells a text can make are counted first;
- nesting depth of the HTML (quotes, lists, emphasis): the sanitiser (nh3) slows down with depth
  squared, so deeper texts are refused;
- the size of the HTML, as a last guard.

A text past a bound is refused with a message naming the description. The HTML then goes through
nh3, an allow-list sanitiser: scripts, event handlers and ``javascript:`` links never survive.
"""

from __future__ import annotations

import re

import cmarkgfm
import nh3
from django.core.exceptions import ValidationError
from django.utils.html import escape

from marketplace import conf

MAX_NESTING = 24
# GitHub's extensions. Raw HTML is left out (cmark's safe default): only Markdown makes markup.
EXTENSIONS = ["table", "strikethrough", "autolink", "tagfilter"]
TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
}
_VOID = {"br", "hr", "img", "input"}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*?(/?)>")
_CONTAINER_PREFIX = re.compile(r"^[\s>]*")


def table_cells(text: str) -> int:
    """An upper bound of the cells the GFM tables of ``text`` render: for each delimiter row,
    its columns times the lines up to the next blank line (every row is padded to the header)."""
    cells = 0
    columns = 0
    for line in text.splitlines():
        content = _CONTAINER_PREFIX.sub("", line)
        if not content.strip():
            columns = 0
        elif "-" in content and "|" in content and not content.strip(" \t|:-"):  # a delimiter row: |--|:-:|
            columns = content.strip().strip("|").count("|") + 1
            cells += 2 * columns  # the header row and this one
        elif columns:
            cells += columns
    return cells


def html_nesting(html: str) -> int:
    """The deepest element nesting of well-formed HTML (cmark's output) in one pass."""
    depth = deepest = 0
    for closing, name, self_closing in _TAG.findall(html):
        if name.lower() in _VOID or self_closing:
            continue
        if closing:
            depth -= 1
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def markdown_render(text: str, *, field: str = "description") -> str:
    """``text`` (Markdown) as sanitised HTML; a ``ValidationError`` naming ``field`` when the text
    would render past a bound (table cells, nesting, size)."""
    text = text or ""
    if table_cells(text) > conf.MAX_DESCRIPTION_TABLE_CELLS:
        raise ValidationError({field: f"Tables may have at most {conf.MAX_DESCRIPTION_TABLE_CELLS:,} cells in all."})
    html = cmarkgfm.markdown_to_html_with_extensions(text, extensions=EXTENSIONS)
    if len(html) > conf.MAX_DESCRIPTION_HTML_CHARS:
        raise ValidationError({field: "This text renders to too much HTML; shorten it."})
    if html_nesting(html) > MAX_NESTING:
        raise ValidationError({field: f"Lists, quotes and emphasis may nest at most {MAX_NESTING} levels deep."})
    return sanitize(html)


def markdown_render_or_text(text: str) -> str:
    """For rows written before the bounds: the rendered HTML, or the text itself, escaped."""
    try:
        return markdown_render(text)
    except ValidationError:
        return f"<p>{escape(text)}</p>" if text else ""
