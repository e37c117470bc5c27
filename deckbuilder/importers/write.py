"""Write an imported deck as a card file in the format of docs/card-format.md."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import yaml

from deckbuilder.importers.plaintext import escape

if TYPE_CHECKING:
    from deckbuilder.importers import ImportedCard, ImportedDeck

# CommonMark drops a heading's closing `#`s when a space precedes them.
_CLOSING_HASHES = re.compile(r"(?<=\s)#(?=#*\s*$)")


def to_markdown(deck: ImportedDeck, *, deck_name: str, tags: Sequence[str]) -> str:
    """Return the card file for `deck`: front matter, the title, then one card each.

    A card whose question spans lines keeps its heading on the first line and puts
    `???` before the answer; an empty side stays empty, so builds report the card as
    incomplete. The same deck and arguments always give the same text.
    """
    lines = ["---", f"deck: {_yaml_scalar(deck_name)}"]
    if tags:
        words = ", ".join(_yaml_scalar(tag, in_list=True) for tag in tags)
        lines.append(f"tags: [{words}]")
    lines.append("---")
    if deck.title:
        lines += ["", _heading("#", escape(deck.title))]
    for card in deck.cards:
        lines += ["", *_card(card)]
    return "\n".join(lines) + "\n"


def _card(card: ImportedCard) -> list[str]:
    first, _, rest = card.question.partition("\n")
    lines = [_heading("##", first.strip())]
    if rest.strip():
        lines += ["", rest.strip("\n"), "", "???"]
    if card.answer.strip():
        lines += ["", card.answer.strip("\n")]
    return lines


def _heading(hashes: str, text: str) -> str:
    if not text:
        return hashes
    return f"{hashes} " + _CLOSING_HASHES.sub(r"\\#", text)


def _yaml_scalar(value: str, *, in_list: bool = False) -> str:
    """Return `value` as a YAML scalar: plain when it reads back unchanged."""
    plain, expected = (f"[{value}]", [value]) if in_list else (value, value)
    try:
        loaded = yaml.safe_load(plain)
    except yaml.YAMLError:
        loaded = None
    if value.strip() == value and value.isprintable() and loaded == expected:
        return value
    return json.dumps(value, ensure_ascii=not value.isprintable())
