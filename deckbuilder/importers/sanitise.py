"""Remove what is active from imported HTML: scripts, event handlers, unsafe links.

Imported fields come from someone else's package or export, so anything that could
run code, load a page or take input in Anki's webview is removed before the field is
converted, and each removal is reported.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import PreformattedString, Tag

_ACTIVE = frozenset(
    {
        "script", "noscript", "style", "template", "iframe", "frame", "frameset",
        "object", "embed", "applet", "param", "form", "input", "button", "select",
        "textarea", "link", "meta", "base", "svg",
    }
)  # fmt: skip
"""Elements removed with everything inside: they run code, load pages or take input,
and none of them has a Markdown form (styling is lost in Markdown anyway)."""

_BAD_SCHEMES = ("javascript", "vbscript", "data")
_URL_ATTRIBUTES = ("href", "src")
# Browsers ignore control characters and whitespace anywhere in a scheme.
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]+")


def sanitise(soup: BeautifulSoup) -> list[str]:
    """Remove what could run code, load pages or take input from parsed HTML.

    Returns one phrase per removal, such as "<script> element" or "onclick
    attribute of <img>"; comments and processing instructions go silently.
    """
    removed: list[str] = []
    for element in list(soup.descendants):
        if isinstance(element, PreformattedString):
            element.extract()  # comments, <!DOCTYPE>, <?...?>, CDATA: never shown
    for tag in soup.find_all(True):
        if tag.decomposed:
            continue  # inside an element removed already
        if tag.name in _ACTIVE:
            removed.append(f"<{tag.name}> element")
            tag.decompose()
            continue
        removed += _sanitise_attributes(tag)
    return removed


def _sanitise_attributes(tag: Tag) -> list[str]:
    removed: list[str] = []
    for name in list(tag.attrs):
        if name.lower().startswith("on"):
            removed.append(f"{name} attribute of <{tag.name}>")
            del tag[name]
        elif name.lower() in _URL_ATTRIBUTES:
            scheme = _bad_scheme(str(tag.get(name, "")))
            if scheme is not None:
                kind = "image" if tag.name == "img" else "link"
                removed.append(f"{scheme}: {kind}")
                del tag[name]
    return removed


def _bad_scheme(url: str) -> str | None:
    # The parser has unescaped character references (`jav&#x09;ascript:`) already.
    normalised = _IGNORED_IN_SCHEME.sub("", url).lower()
    for scheme in _BAD_SCHEMES:
        if normalised.startswith(scheme + ":"):
            return scheme
    return None
