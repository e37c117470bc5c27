"""Write a static HTML page per deck showing its cards as the package's templates do."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deckbuilder.anki_templates import (
    TemplateError,
    cloze_answers,
    makes_card,
    render_template,
    strip_html,
)
from deckbuilder.cloze import cloze_numbers
from deckbuilder.errors import OutputError
from deckbuilder.files import commit, replace_file, stage
from deckbuilder.notes import INCOMPLETE_TAG
from deckbuilder.options import Options
from deckbuilder.report import Report

if TYPE_CHECKING:
    from deckbuilder.package import Note

PHONE_WIDTH = 390
"""Width in CSS pixels of the phone view: an iPhone 12 to 15 held upright."""

__all__ = ["PHONE_WIDTH", "card_sides", "deck_page", "preview", "render_template"]

# Where Anki's reviewer puts the answer box, and on the back the expected answer.
_TYPE_BOX = re.compile(r"\[\[type:(?:(cloze|nc):)?([^\]]+)\]\]")
_SOUND = re.compile(r"\[sound:([^\]]+)\]")

# Anki's own colours around the card: its stylesheet sets the night background and
# text, the note type's CSS only what lies on top of them; and where that CSS gives
# the card colours of its own, as `.card { color: navy; }`, they win.
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
.side > .card {{ padding: 0.5em; min-width: 0; }}
:where(.side > .card) {{ background: #fff; color: #000; }}
:where(.nightMode .side > .card) {{ background: #2c2c2c; color: #fcfcfc; }}
.preview-error {{ color: #c00; font-family: monospace; }}
"""

# Checkboxes set the classes; `#night,phone` in the address ticks them at load (the
# boxes' ids differ from those words, or the browser would scroll to them). Anki
# puts the night classes on the card's own element too, for `.card.nightMode`.
_SCRIPT = """
<script>
const boxes = { night: "nightMode night_mode", phone: "phone" };
const box = (name) => document.getElementById("switch-" + name);
function apply() {
  for (const [name, classes] of Object.entries(boxes)) {
    const on = box(name).checked;
    const cards = name === "night" ? document.querySelectorAll(".side > .card") : [];
    for (const element of [document.body, ...cards]) {
      for (const c of classes.split(" ")) element.classList.toggle(c, on);
    }
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
    """Return the preview page of one deck's notes, incomplete ones first.

    `css` is the stylesheet of deckbuilder's own note types; a card with an Anki
    note type file is shown with that note type's CSS as its package has it.
    """
    ordered = sorted(notes, key=lambda note: INCOMPLETE_TAG not in note.tags)
    sheets = [_note_css(note, css) for note in ordered]
    styles: dict[str, str] = {}  # each distinct stylesheet, and its class
    for sheet in sheets:
        styles.setdefault(sheet, f"style-{len(styles) + 1}")
    cards = [
        card
        for note, sheet in zip(ordered, sheets, strict=True)
        for card in _card_sections(note, styles[sheet])
    ]
    deck = html.escape(notes[0].deck)
    incomplete = sum(INCOMPLETE_TAG in note.tags for note in notes)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{deck}: deckbuilder preview</title>\n"
        f"{_stylesheets(styles)}<style>{_PAGE_CSS}</style>\n</head>\n"
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


def _note_css(note: Note, css: str) -> str:
    from deckbuilder.package import anki_css

    return css if note.anki_note_type is None else anki_css(note.anki_note_type)


def _stylesheets(styles: Mapping[str, str]) -> str:
    if len(styles) == 1:
        return f"<style>\n{next(iter(styles))}</style>\n"
    # Cards of several note types: each stylesheet reaches only into the sides of
    # its own cards, each side the root of its scope (`.side.style-2`).
    return "".join(
        f"<style>\n@scope (.{name}) {{\n{css}}}\n</style>\n"
        for css, name in styles.items()
    )


@dataclasses.dataclass(frozen=True)
class _Card:
    """One card of a note, as its note type's templates show it."""

    label: str
    front: str
    back: str
    fields: Mapping[str, str]
    """The fields the templates were filled with."""
    cloze: int
    """The card's cloze number; 0 on a note type without clozes."""
    ordinal: int
    """The card's number in Anki's `card1`, `card2`, ... class."""


@dataclasses.dataclass(frozen=True)
class _Kind:
    """What renders a note's cards: its note type's name and templates, its fields."""

    label: str
    """The note type as the preview names it: a card's `type`, or the note type's
    name."""
    name: str
    """The note type's name in Anki."""
    cloze: bool
    fields: Mapping[str, str]
    templates: tuple[tuple[str, str, str], ...]
    """Each template's name, front and back."""


def _card_sections(note: Note, style: str) -> list[str]:
    media = {file.name for file in note.media}
    box = '<input id="typeans" type="text" placeholder="type the answer">'

    def typed(card: _Card) -> Callable[[re.Match[str]], str]:
        def expected(match: re.Match[str]) -> str:
            value = card.fields.get(match[2], "")
            if match[1] == "cloze":
                value = ", ".join(cloze_answers(value, card.cloze))
            shown = html.escape(strip_html(value), quote=False)
            return f'<code id="typeans">{shown}</code>'

        return expected

    return [
        _section(
            note,
            card,
            style,
            _linked(_TYPE_BOX.sub(box, card.front), media),
            _linked(_TYPE_BOX.sub(typed(card), card.back), media),
        )
        for card in _cards(note)
    ]


def card_sides(note: Note) -> list[tuple[str, str, str]]:
    """Return each card of `note` as its label, front HTML and back HTML.

    The cards are those Anki makes of the note, and the HTML is what Anki's template
    engine gives: media keep their names in the package, and a type-in card has
    `[[type:Back]]` where the reviewer puts the box. The label names the note
    type and the template, as `basic · card 1` or `Vocab · Recognise`.
    """
    return [(card.label, card.front, card.back) for card in _cards(note)]


def _cards(note: Note) -> list[_Card]:
    kind = _kind(note)
    # The fields Anki adds to every note's, for templates that show them.
    extra = {
        "Tags": " ".join(sorted(note.tags, key=str.casefold)),
        "Type": kind.name,
        "Deck": note.deck,  # as Anki fills it: the name as it is, not escaped
        "Subdeck": note.deck.rpartition("::")[2],
        "CardFlag": "flag0",
    }
    cards: list[_Card] = []
    for ordinal, (name, question, answer) in enumerate(kind.templates, 1):
        fields = {**kind.fields, **extra, "Card": name}
        shown = name if note.anki_note_type else name.lower()
        chosen: list[tuple[int, int, str]] = []  # cloze number, ordinal, label
        if kind.cloze:
            # One card per cloze number in any field, as the package has them; a
            # note without clozes (an incomplete card) shows its text as it is.
            found = {n for value in kind.fields.values() for n in cloze_numbers(value)}
            chosen = [(n, n, f"{shown} {n}") for n in sorted(found)]
            chosen = chosen or [(0, 1, f"{shown} 1")]
        elif makes_card(question, kind.fields):
            chosen = [(0, ordinal, shown)]
        for number, card_ordinal, label in chosen:
            front = _side(question, fields, cloze=number)
            back = _side(answer, fields, cloze=number, front_side=front, answer=True)
            label = f"{kind.label} · {label}"
            cards.append(_Card(label, front, back, fields, number, card_ordinal))
    return cards


def _kind(note: Note) -> _Kind:
    from deckbuilder import package as p

    if note.anki_note_type is not None:
        note_type = note.anki_note_type
        values = (*note.fields, *[""] * len(note_type.fields))
        return _Kind(
            note_type.name,
            note_type.name,
            note_type.cloze,
            dict(zip(note_type.fields, values, strict=False)),
            tuple((t.name, t.front, t.back) for t in note_type.templates),
        )
    # deckbuilder's own note types, with package.py's templates; labelled by the
    # card's `type`.
    source = {"Source": note.source}
    if note.note_type == "cloze":
        fields = {"Text": note.front, "Extra": note.back, **source}
        templates = [("Cloze", p._CLOZE_FRONT, p._CLOZE_BACK)]
        name = p.CLOZE_MODEL_NAME
    elif note.note_type == "type-in":
        fields = {"Front": note.front, "Back": note.back, "Extra": note.extra}
        fields |= source
        templates = [("Card 1", p._TYPE_IN_FRONT, p._TYPE_IN_BACK)]
        name = p.TYPE_IN_MODEL_NAME
    else:
        reverse = "y" if note.note_type == "reversed" else ""
        fields = {"Front": note.front, "Back": note.back, **source, "Reverse": reverse}
        templates = [
            ("Card 1", p._FRONT, p._BACK),
            ("Card 2", p._REVERSE_FRONT, p._REVERSE_BACK),
        ]
        name = p.MODEL_NAME
    return _Kind(
        note.note_type,
        name,
        note.note_type == "cloze",
        fields,
        tuple(templates),
    )


def _side(
    template: str,
    fields: Mapping[str, str],
    *,
    cloze: int,
    front_side: str = "",
    answer: bool = False,
) -> str:
    try:
        return render_template(
            template, fields, cloze=cloze, front_side=front_side, answer=answer
        )
    except TemplateError as error:  # Anki, too, shows the error instead of the side
        return f'<div class="preview-error">{html.escape(str(error))}</div>'


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


def _section(note: Note, card: _Card, style: str, front: str, back: str) -> str:
    incomplete = INCOMPLETE_TAG in note.tags
    badge = '<span class="badge">incomplete</span> ' if incomplete else ""
    label = html.escape(f"{note.source} · {card.label}")
    # The card's element has the classes Anki gives the card's own: `card card2`.
    element = f'<div class="card card{card.ordinal}">'
    return (
        f'<section class="preview-card{" is-incomplete" * incomplete}">'
        f'<h2 class="preview-label">{badge}{label}</h2>'
        '<div class="sides">'
        f'<div class="side side-front {style}"><div class="side-label">front</div>'
        f"{element}{front}</div></div>"
        f'<div class="side side-back {style}"><div class="side-label">back</div>'
        f"{element}{back}</div></div>"
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
