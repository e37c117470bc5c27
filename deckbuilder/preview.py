"""Write a static HTML page per deck showing its cards as the package's templates do."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deckbuilder.cloze import ClozeError, cloze_numbers, find_clozes
from deckbuilder.errors import OutputError
from deckbuilder.files import commit, replace_file, stage
from deckbuilder.notes import INCOMPLETE_TAG
from deckbuilder.options import Options
from deckbuilder.report import Report

if TYPE_CHECKING:
    from deckbuilder.package import Note

PHONE_WIDTH = 390
"""Width in CSS pixels of the phone view: an iPhone 12 to 15 held upright."""

_SECTION = re.compile(r"\{\{([#^])([\w ]+)\}\}(.*?)\{\{/\2\}\}", re.DOTALL)
_REPLACEMENT = re.compile(r"\{\{(?:(\w+):)?([\w ]+)\}\}")
_SOUND = re.compile(r"\[sound:([^\]]+)\]")

# Anki's own colours around the card: its stylesheet sets the night background and
# text, the note type's CSS (ours) only what lies on top of them.
_PAGE_CSS = f"""
body.preview {{ margin: 0; background: #f0f0f0; color: #000; font-family: sans-serif; }}
body.preview.nightMode {{ background: #1e1e1e; color: #fcfcfc; }}
.toolbar {{ position: sticky; top: 0; z-index: 1; display: flex; flex-wrap: wrap;
  gap: 0.5em 1.5em; align-items: center; padding: 0.5em 1em; background: inherit;
  border-bottom: 1px solid rgba(127, 127, 127, 0.4); }}
.nightMode .toolbar a {{ color: #8ab4f8; }}
.toolbar h1 {{ font-size: 1.2em; margin: 0; }}
.preview-card {{ margin: 1em; padding: 0.5em; border-radius: 0.4em;
  border: 1px solid rgba(127, 127, 127, 0.4); }}
.preview-card.is-incomplete {{ border: 3px solid #d9822b; }}
.preview-label {{ font-size: 0.9em; margin: 0 0 0.5em; font-weight: normal; }}
.badge {{ background: #d9822b; color: #000; padding: 0.1em 0.5em; border-radius: 1em;
  font-weight: bold; }}
.sides {{ display: flex; flex-wrap: wrap; gap: 1em; }}
.side {{ flex: 1 1 20em; min-width: 0; }}
body.phone .side {{ flex: 0 0 {PHONE_WIDTH}px; max-width: {PHONE_WIDTH}px; }}
.side-label {{ font-size: 0.8em; opacity: 0.7; }}
.side > .card {{ background: #fff; color: #000; padding: 0.5em; min-width: 0; }}
.nightMode .side > .card {{ background: #2c2c2c; color: #fcfcfc; }}
"""

# Checkboxes set the classes; `#night,phone` in the address ticks them at load (the
# boxes' ids differ from those words, or the browser would scroll to them).
_SCRIPT = """
<script>
const boxes = { night: "nightMode night_mode", phone: "phone" };
const box = (name) => document.getElementById("switch-" + name);
function apply() {
  for (const [name, classes] of Object.entries(boxes)) {
    const on = box(name).checked;
    for (const c of classes.split(" ")) document.body.classList.toggle(c, on);
  }
}
for (const name of location.hash.slice(1).split(",")) {
  if (name in boxes) box(name).checked = true;
}
for (const name in boxes) box(name).addEventListener("change", apply);
apply();
</script>
"""


def preview(paths: Sequence[Path], options: Options) -> Report:
    """Write `out/preview/NAME.html` per deck and an index; list them in the report.

    Incomplete cards are shown, first and marked, whatever the options say about
    shipping them; nothing is written when the cards have errors.
    """
    # The pipeline's own compile step, so that cards fail here as they fail a build.
    from deckbuilder.pipeline import _compile, _group, _stylesheet

    report = Report()
    # The preview shows what is missing rather than failing on it.
    seen = dataclasses.replace(
        options, include_incomplete=True, strict=False, bundle=None
    )
    notes = _compile(paths, seen, report)
    decks = _group(notes, seen, report)
    if report.errors:
        return report

    folder = options.out / "preview"
    css = _stylesheet(notes)
    try:
        _copy_media(notes, folder / "media")
        pages: list[tuple[str, str, int]] = []
        for name, group in sorted(decks.items()):
            page = folder / f"{name}.html"
            replace_file(page, deck_page(group, css).encode())
            report.packages.append(str(page))
            pages.append((group[0].deck, page.name, len(group)))
        index = folder / "index.html"
        replace_file(index, _index_page(pages).encode())
        report.packages.append(str(index))
    except OutputError as error:
        assert error.location is not None
        report.error(error.location, error.message, error.remedy)
    return report


def deck_page(notes: Sequence[Note], css: str) -> str:
    """Return the preview page of one deck's notes, incomplete ones first."""
    ordered = sorted(notes, key=lambda note: INCOMPLETE_TAG not in note.tags)
    cards = [card for note in ordered for card in _card_sections(note)]
    deck = html.escape(notes[0].deck)
    incomplete = sum(INCOMPLETE_TAG in note.tags for note in notes)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{deck}: deckbuilder preview</title>\n"
        f"<style>\n{css}</style>\n<style>{_PAGE_CSS}</style>\n</head>\n"
        '<body class="preview">\n<header class="toolbar">'
        '<a href="index.html">all decks</a>'
        f"<h1>{deck}</h1><span>{len(cards)} cards of {len(notes)} notes, "
        f"{incomplete} incomplete</span>"
        '<label><input type="checkbox" id="switch-night"> night mode</label>'
        '<label><input type="checkbox" id="switch-phone"> phone width '
        f"({PHONE_WIDTH} px)</label></header>\n<main>\n"
        + "\n".join(cards)
        + "\n</main>\n"
        f"{_SCRIPT}</body></html>\n"
    )


def _card_sections(note: Note) -> list[str]:
    media = {file.name for file in note.media}
    box = '<input id="typeans" type="text" placeholder="type the answer">'
    typed = f'<code id="typeans">{note.back}</code>'
    return [
        _section(
            note,
            label,
            _linked(front.replace("[[type:Back]]", box), media),
            _linked(back.replace("[[type:Back]]", typed), media),
        )
        for label, front, back in card_sides(note)
    ]


def card_sides(note: Note) -> list[tuple[str, str, str]]:
    """Return each card of `note` as its label, front HTML and back HTML.

    The HTML is what Anki's template engine gives: media keep their names in the
    package, and a type-in card has `[[type:Back]]` where the reviewer puts the box.
    """
    from deckbuilder.package import (
        _BACK,
        _CLOZE_BACK,
        _CLOZE_FRONT,
        _FRONT,
        _REVERSE_BACK,
        _REVERSE_FRONT,
        _TYPE_IN_BACK,
        _TYPE_IN_FRONT,
    )

    # The templates are package.py's own, so the preview shows what Anki will.
    # As Anki fills them: the deck name goes in as it is, not escaped.
    fields = {"Deck": note.deck, "Source": note.source}
    sides: list[tuple[str, str, str]] = []
    if note.note_type == "cloze":
        fields |= {"Text": note.front, "Extra": note.back}
        for number in cloze_numbers(note.front) or [1]:
            front = render_template(_CLOZE_FRONT, fields, cloze=number)
            back = render_template(_CLOZE_BACK, fields, cloze=number, answer=True)
            sides.append((f"cloze {number}", front, back))
    elif note.note_type == "type-in":
        fields |= {"Front": note.front, "Back": note.back, "Extra": note.extra}
        front = render_template(_TYPE_IN_FRONT, fields)
        back = render_template(_TYPE_IN_BACK, fields, answer=True)
        sides.append(("card 1", front, back))
    else:
        reverse = "y" if note.note_type == "reversed" else ""
        fields |= {"Front": note.front, "Back": note.back, "Reverse": reverse}
        templates = [
            ("card 1", _FRONT, _BACK),
            ("card 2", _REVERSE_FRONT, _REVERSE_BACK),
        ]
        for label, question, answer in templates:
            front = render_template(question, fields)
            if front.strip():  # as Anki, which makes no card whose front is empty
                back = render_template(answer, fields, front_side=front, answer=True)
                sides.append((label, front, back))
    return sides


def render_template(
    template: str,
    fields: Mapping[str, str],
    *,
    cloze: int = 0,
    front_side: str = "",
    answer: bool = False,
) -> str:
    """Fill an Anki card template as Anki does for the features ours use.

    Sections `{{#F}}...{{/F}}` (and `{{^F}}`), fields, `{{FrontSide}}`,
    `{{cloze:F}}` for cloze number `cloze`, and `{{type:F}}`, left as Anki leaves it
    for its reviewer: `[[type:F]]`.
    """

    def section(match: re.Match[str]) -> str:
        filled = bool(fields.get(match[2], "").strip())
        return match[3] if filled == (match[1] == "#") else ""

    def replace(match: re.Match[str]) -> str:
        kind, name = match[1], match[2]
        if name == "FrontSide" and kind is None:
            return front_side
        value = fields.get(name, "")
        if kind == "cloze":
            return _cloze_side(value, cloze, answer=answer)
        if kind == "type":
            return f"[[type:{name}]]"  # as Anki, whose reviewer fills in the box
        return value

    # Fields are put in after the sections are resolved and are never scanned again,
    # so braces in a card's text stay text.
    return _REPLACEMENT.sub(replace, _SECTION.sub(section, template))


def _cloze_side(text: str, number: int, *, answer: bool) -> str:
    # Anki hides the card's own cloze as [...] (or [hint]) and shows the others' text,
    # each in a span as Anki writes it.
    try:
        clozes = sorted(find_clozes(text), key=lambda cloze: (cloze.start, -cloze.end))
    except ClozeError:
        return text

    def emit(start: int, end: int) -> str:
        pieces = []
        done = start
        for cloze in clozes:
            if cloze.start < done or cloze.end > end:
                continue
            pieces.append(text[done : cloze.start])
            inner = emit(cloze.text_start, cloze.text_end)
            ordinal = f'data-ordinal="{cloze.number}"'
            if cloze.number != number:
                inner = f'<span class="cloze-inactive" {ordinal}>{inner}</span>'
            elif answer:
                inner = f'<span class="cloze" {ordinal}>{inner}</span>'
            else:
                hidden = f'data-cloze="{_attribute(inner)}"'
                shown = f"[{cloze.hint or '...'}]"
                inner = f'<span class="cloze" {hidden} {ordinal}>{shown}</span>'
            pieces.append(inner)
            done = cloze.end
        pieces.append(text[done:end])
        return "".join(pieces)

    return emit(0, len(text))


def _attribute(text: str) -> str:
    # Anki escapes the hidden text as the htmlescape crate's encode_attribute does:
    # every character below U+0100 but ASCII letters and digits becomes an entity.
    named = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
    return "".join(
        char
        if (char.isascii() and char.isalnum()) or ord(char) > 0xFF
        else named.get(char, f"&#x{ord(char):X};")
        for char in text
    )


def _linked(side: str, media: set[str]) -> str:
    # Anki looks media up by bare name in its media folder; the page keeps them in
    # media/ beside it.
    def image(match: re.Match[str]) -> str:
        name = html.unescape(match[2])
        return f"{match[1]}media/{match[2]}" if name in media else match[0]

    def sound(match: re.Match[str]) -> str:
        name = html.unescape(match[1])
        if name not in media:
            return match[0]
        return f'<audio controls src="media/{html.escape(name)}"></audio>'

    linked = re.sub(r'(\bsrc=")([^"]+)(?=")', image, side)
    return _SOUND.sub(sound, linked)


def _section(note: Note, label: str, front: str, back: str) -> str:
    incomplete = INCOMPLETE_TAG in note.tags
    badge = '<span class="badge">incomplete</span> ' if incomplete else ""
    where = html.escape(note.source)
    return (
        f'<section class="preview-card{" is-incomplete" * incomplete}">'
        f'<h2 class="preview-label">{badge}{where} · {note.note_type} · {label}</h2>'
        '<div class="sides">'
        f'<div class="side side-front"><div class="side-label">front</div>'
        f'<div class="card">{front}</div></div>'
        f'<div class="side side-back"><div class="side-label">back</div>'
        f'<div class="card">{back}</div></div>'
        "</div></section>"
    )


def _index_page(pages: Sequence[tuple[str, str, int]]) -> str:
    items = "".join(
        f'<li><a href="{html.escape(file)}">{html.escape(deck)}</a> '
        f"({count} notes)</li>\n"
        for deck, file, count in pages
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>deckbuilder preview</title></head>\n"
        f"<body><h1>Decks</h1>\n<ul>\n{items}</ul>\n</body></html>\n"
    )


def _copy_media(notes: Sequence[Note], folder: Path) -> None:
    files = {file.name: file.path for note in notes for file in note.media}
    for name, source in sorted(files.items()):
        target = folder / name
        if not target.exists():  # a media file's name comes from its content
            commit(stage(target, _copier(source)), target)


def _copier(source: Path) -> Callable[[Path], object]:
    return lambda staged: shutil.copyfile(source, staged)
