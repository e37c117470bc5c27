"""Turn a parsed card into its Anki note: the fields its note type has, rendered."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from deckbuilder.cloze import cloze_numbers
from deckbuilder.media import MediaFile, link_media
from deckbuilder.model import Card, Location
from deckbuilder.report import Diagnostic, Severity

if TYPE_CHECKING:
    from deckbuilder.package import Note
    from deckbuilder.render import Renderer

INCOMPLETE_TAG = "incomplete"


def card_note(card: Card, renderer: Renderer) -> tuple[Note, list[Diagnostic]]:
    """Render `card` into the note its note type asks for, with what went wrong."""
    from deckbuilder.package import Note

    included = {
        block.location.line: block.code
        for block in card.blocks
        if "include" in block.options
    }
    diagnostics: list[Diagnostic] = []
    media: dict[str, MediaFile] = {}

    def render(text: str, line: int, *, cloze: bool = False) -> str:
        path = card.location.path
        rendered = renderer.render(
            text, path=path, first_line=line, code=included, cloze=cloze
        )
        linked = link_media(rendered.html, source=text, path=path, first_line=line)
        diagnostics.extend((*rendered.diagnostics, *linked.diagnostics))
        media.update((file.name, file) for file in linked.files)
        return linked.html

    cloze = card.note_type == "cloze"
    front = render(card.question, card.question_line, cloze=cloze)
    back, extra = "", ""
    fields: tuple[str, ...] = ()
    if card.anki_note_type is not None:
        back = render(card.answer, card.answer_line, cloze=cloze)
        given = {
            field.name: render(field.text, field.line, cloze=cloze)
            for field in card.fields
        }
        names = card.anki_note_type.fields
        fields = (front, back, *(given.get(name, "") for name in names[2:]))
        # A field of one paragraph goes in bare, as Anki's editor writes it: an
        # Anki template may put fields inline (`{{Article}} {{Noun}}`).
        front, back, *others = map(_bare_paragraph, fields)
        fields = (front, back, *others)[: len(names)]
    elif card.note_type == "type-in":
        typed, _, rest = card.answer.partition("\n")
        if any(block.location.line == card.answer_line for block in card.blocks):
            diagnostics.append(_typed_answer_is_code(card))
        # Anki compares what the learner types with the field's text, so the field
        # is the line as written, not Markdown rendered.
        back = html.escape(typed.strip(), quote=False)
        extra = render(rest, card.answer_line + 1)
    else:
        back = render(card.answer, card.answer_line)
    # A cloze that is never closed has been reported; "no cloze" would repeat it.
    reported = any(d.severity is Severity.ERROR for d in diagnostics)
    if card.note_type == "cloze" and card.has_question and not reported:
        if not cloze_numbers(front) and not any(map(cloze_numbers, fields[1:])):
            diagnostics.append(_no_cloze(card, in_answer=bool(cloze_numbers(back))))

    tags = card.tags
    if not card.is_complete:
        banner = _incomplete_banner(card)
        tags = (*tags, INCOMPLETE_TAG)
        front = banner + front
        if card.note_type == "type-in":
            extra = banner + extra
        else:
            back = banner + back
        if fields:
            fields = (front, *fields[1:])
    note = Note(
        card_id=card.id,
        deck=card.deck,
        note_type=card.note_type,
        front=front,
        back=back,
        extra=extra,
        location=card.location,
        tags=tags,
        media=tuple(media[name] for name in sorted(media)),
        css=card.css,
        guid=card.guid,
        anki_note_type=card.anki_note_type,
        fields=fields,
    )
    return note, diagnostics


def _bare_paragraph(field: str) -> str:
    match = _ONE_PARAGRAPH.fullmatch(field)
    return match["inner"] if match and "<p>" not in match["inner"] else field


_ONE_PARAGRAPH = re.compile(r"<p>(?P<inner>.*)</p>", re.DOTALL)


def _incomplete_banner(card: Card) -> str:
    if card.note_type == "cloze":
        # A cloze note without a cloze has no card; this one shows the banner.
        return '<div class="incomplete">Incomplete card: {{c1::no question yet}}</div>'
    missing = " and ".join(
        side
        for side, present in (
            ("question", card.has_question),
            ("answer", card.has_answer),
        )
        if not present
    )
    return f'<div class="incomplete">Incomplete card: no {missing} yet</div>'


def _no_cloze(card: Card, *, in_answer: bool) -> Diagnostic:
    remedy = (
        "the clozes are in the answer; put a `???` line below the text that holds them"
        if in_answer
        else "hide part of the question, e.g. `{{c1::Paris}}`"
    )
    return Diagnostic(card.location, Severity.ERROR, "cloze card has no cloze", remedy)


def _typed_answer_is_code(card: Card) -> Diagnostic:
    return Diagnostic(
        Location(card.location.path, card.answer_line),
        Severity.ERROR,
        "a type-in card's answer must start with the text to type",
        "write the expected answer on the answer's first line, notes below it",
    )
