"""The floor: render deckbuilder card files with bare Python-Markdown and Pygments and
pack them with bare genanki, in one process, doing nothing else.

No checks, no ids worth keeping, no math handling, no diagnostics: the least any
Markdown-to-Anki tool built on these libraries has to do. One Markdown instance is
built once and reset per field, as the fast way to use the library. Every deck goes
into one package. Not a test: `builds.py` runs it, or run it by hand:

    python benchmarks/floor.py CARDS_FOLDER OUT.apkg
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import genanki
import markdown

_HEADING = re.compile(r"^## ", re.MULTILINE)


def main() -> None:
    folder, out = Path(sys.argv[1]), Path(sys.argv[2])
    renderer = markdown.Markdown(extensions=["tables", "fenced_code", "codehilite"])
    model = genanki.Model(
        1_607_392_319,
        "floor",
        fields=[{"name": "Front"}, {"name": "Back"}],
        templates=[
            {"name": "Card 1", "qfmt": "{{Front}}", "afmt": "{{FrontSide}}{{Back}}"}
        ],
        css=".card { font-family: sans-serif; }",
    )
    decks = []
    for path in sorted(folder.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        front_matter, _, body = text.removeprefix("---\n").partition("\n---\n")
        name = re.search(r"^deck: (.*)$", front_matter, re.MULTILINE)
        deck_name = name.group(1) if name else path.stem
        deck = genanki.Deck(_id(deck_name), deck_name)
        for chunk in _HEADING.split(body)[1:]:
            question, _, answer = chunk.partition("\n")
            fields = [_render(renderer, question), _render(renderer, answer)]
            deck.add_note(genanki.Note(model=model, fields=fields))
        decks.append(deck)
    genanki.Package(decks).write_to_file(str(out))


def _render(renderer: markdown.Markdown, text: str) -> str:
    html = renderer.convert(text)
    renderer.reset()
    return html


def _id(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


if __name__ == "__main__":
    main()
