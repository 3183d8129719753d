"""Building blocks of a self-contained HTML page: one file that opens anywhere, offline.

Pictures are embedded as base64 `data:` URIs and the style sheet is inline, so a report can be
mailed or archived alone, and opening it makes no network request.

Every text is escaped unless it is `Html`, which only the functions of this module make. Prompts
are written by language models, so a prompt that reads `<script>...` must show as text, never
run: passing a plain `str` anywhere here is always safe.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Collection, Iterable, Sequence


class Html(str):
    """Markup that is safe to insert as it is (made by this module, from escaped parts)."""


def escape(text: str | Html) -> Html:
    """`text` as markup: unchanged if it already is, else with `<`, `&`, quotes escaped."""
    return text if isinstance(text, Html) else Html(html.escape(str(text), quote=True))


def join(parts: Iterable[str | Html]) -> Html:
    return Html("".join(escape(part) for part in parts))


def element(tag: str, *children: str | Html, **attributes: str) -> Html:
    """`<tag attr="...">children</tag>`; `class_` stands for the `class` attribute."""
    attrs = "".join(f' {name.rstrip("_")}="{escape(value)}"' for name, value in attributes.items())
    return Html(f"<{tag}{attrs}>{join(children)}</{tag}>")


def png_image(png: bytes, alt: str) -> Html:
    """An `<img>` holding the PNG itself, as a data URI."""
    data = base64.b64encode(png).decode("ascii")
    return Html(f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">')


def table(headers: Sequence[str], rows: Iterable[Sequence[str | Html]], *, numbers: Collection[int] = ()) -> Html:
    """A table (without a header row if `headers` is empty); the columns listed in `numbers`
    (by index) are aligned right, as numbers read."""

    def cell(tag: str, index: int, content: str | Html) -> Html:
        return element(tag, content, class_="number") if index in numbers else element(tag, content)

    head = element("thead", element("tr", *(cell("th", index, header) for index, header in enumerate(headers))))
    body = [element("tr", *(cell("td", index, content) for index, content in enumerate(row))) for row in rows]
    return element("table", head if headers else Html(""), element("tbody", *body))


def prompt_text(prompt: str, *, changed: bool = False) -> Html:
    """A prompt as the model sees it: line breaks and spaces kept."""
    return element("div", prompt, class_="prompt changed" if changed else "prompt")


def section(title: str, *parts: str | Html) -> Html:
    return element("section", element("h2", title), *parts)


def note(text: str) -> Html:
    return element("p", text, class_="note")


def page(title: str, *parts: str | Html) -> str:
    """A whole HTML document."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>{element('h1', title)}{join(parts)}</body></html>\n"
    )


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1150px; padding: 0 1em;
       color: #1b1b1b; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin: 1em 0 0.3em; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.charts { display: flex; flex-wrap: wrap; gap: 0.5em; }
.charts img { max-width: 560px; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f5f8; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
.prompt { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 0.95em;
          max-height: 12em; overflow: auto; }
.prompt.changed { background: #fff6d6; }
.meta { color: #555; font-size: 0.85em; }
.note { color: #8a4b00; }
.chosen { font-weight: bold; }
"""
