"""Read an Anki deck package (.apkg): every note, with its note type, deck and media.

Each note keeps its GUID and its Anki note type, so that building the imported cards
and importing the result into the collection the package came from updates the same
notes: Anki matches notes by GUID and note types by id. The note's first field is
the card's question, the second its answer, and the others become field sections.
Notes that deckbuilder built go back to deckbuilder's own note types.
"""

from __future__ import annotations

import dataclasses
import html
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

from deckbuilder.importers import (
    Imported,
    ImportedCard,
    ImportedDeck,
    ImportedMedia,
    empty_side_warnings,
)
from deckbuilder.importers.anki_package import PackageNote, open_package
from deckbuilder.importers.write import media_path
from deckbuilder.metadata import tag_problem
from deckbuilder.model import Location
from deckbuilder.notetypes import NoteType
from deckbuilder.options import Progress
from deckbuilder.report import Diagnostic, Severity


def read(path: Path, progress: Progress | None = None) -> Imported:
    """Read the Anki package at `path`."""
    from deckbuilder.package import CLOZE_MODEL_ID, MODEL_ID, TYPE_IN_MODEL_ID

    with open_package(path) as package:
        own = {MODEL_ID: "basic", CLOZE_MODEL_ID: "cloze", TYPE_IN_MODEL_ID: "type-in"}
        converter = _Converter(path)
        decks: dict[str, list[ImportedCard]] = {}
        used_types: set[int] = set()
        total = len(package.notes)
        for done, note in enumerate(package.notes, 1):
            note_type = package.note_types.get(note.note_type)
            if note_type is None:
                converter.warn(note, "its note type is missing from the package")
                continue
            if note.note_type in own:
                card = converter.own_card(note, note_type, own[note.note_type], done)
            else:
                card = converter.card(note, note_type, done)
                used_types.add(note.note_type)
            decks.setdefault(note.deck, []).append(card)
            if progress is not None:
                progress("importing", done, total)
        media = tuple(
            ImportedMedia(name, package.media[name])
            for name in sorted(converter.media | _template_media(package.media))
            if name in package.media
        )
        for name in sorted(converter.media - set(package.media)):
            converter.diagnostics.append(
                Diagnostic(
                    Location(path, 1),
                    Severity.WARNING,
                    f"media file {name!r} is used by a note but not in the package",
                    "add the file to the media folder beside the card files",
                )
            )
    return Imported(
        decks=tuple(
            ImportedDeck(title="", cards=tuple(cards), name=name)
            for name, cards in sorted(decks.items())
        ),
        note_types=tuple(package.note_types[i] for i in sorted(used_types)),
        media=media,
        diagnostics=tuple(converter.diagnostics),
    )


def _template_media(media: dict[str, Callable[[], bytes]]) -> set[str]:
    # Anki keeps files whose names start with `_` for templates (fonts, scripts);
    # no field names them, but the note types need them.
    return {name for name in media if name.startswith("_")}


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A card file line that is not answer text: a card heading, the question/answer
# separator, a code fence (an error in a type-in answer) or a metadata comment.
_CARD_SYNTAX = re.compile(r" {0,3}##(?:[ \t]|$)|\?\?\?$|```|~~~|<!--")


class _Converter:
    """Turn package notes into imported cards, collecting media and warnings."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.media: set[str] = set()
        self.diagnostics: list[Diagnostic] = []

    def guid(self, note: PackageNote) -> str:
        if not _CONTROL.search(note.guid):
            return note.guid
        self.warn(note, "its GUID holds a control character, so it becomes a new note")
        return ""

    def tags(self, note: PackageNote, tags: tuple[str, ...]) -> tuple[str, ...]:
        kept = []
        for tag in tags:
            problem = tag_problem(unicodedata.normalize("NFC", tag))
            if problem:
                self.warn(
                    note,
                    f"tag {tag!r} cannot be written in a card file ({problem}); it is "
                    "left out, so importing the build drops it from the note: rename "
                    "it in Anki and export again to keep it",
                )
            else:
                kept.append(tag)
        return tuple(kept)

    def card(self, note: PackageNote, note_type: NoteType, number: int) -> ImportedCard:
        names = note_type.fields
        values = [*note.fields, *[""] * (len(names) - len(note.fields))]
        markdown = [
            self.field(note, name, value, cloze=note_type.cloze)
            for name, value in zip(names, values, strict=False)
        ]
        card = ImportedCard(
            number=number,
            question=markdown[0],
            answer=markdown[1] if len(markdown) > 1 else "",
            line=0,
            tags=self.tags(note, note.tags),
            guid=self.guid(note),
            note_type=note.note_type,
            fields=tuple(
                (name, text)
                for name, text in zip(names[2:], markdown[2:], strict=True)
                if text
            ),
        )
        return self.with_warnings(
            card, needs_answer=not note_type.cloze and len(names) > 1
        )

    def own_card(
        self, note: PackageNote, note_type: NoteType, kind: str, number: int
    ) -> ImportedCard:
        fields = dict(zip(note_type.fields, note.fields, strict=False))
        cloze = kind == "cloze"
        question = self.field(
            note, "Front", fields.get("Front") or fields.get("Text", ""), cloze=cloze
        )
        if kind == "type-in":
            answer = self.typed_answer(note, fields.get("Back", ""))
            if fields.get("Extra"):
                if not answer:
                    self.warn(
                        note,
                        "its expected answer is empty, so the first line of its "
                        "notes (field 'Extra') would become the expected answer: "
                        "write the answer above them",
                    )
                answer += "\n\n" + self.field(note, "Extra", fields["Extra"])
        else:
            back = fields.get("Back") or fields.get("Extra", "")
            answer = self.field(note, "Back", back)
        if kind == "basic" and fields.get("Reverse"):
            kind = "reversed"
        card = ImportedCard(
            number=number,
            question=question,
            answer=answer,
            line=0,
            tags=self.tags(note, tuple(t for t in note.tags if t != "incomplete")),
            type=kind,
            guid=self.guid(note),
        )
        return self.with_warnings(card, needs_answer=kind != "cloze")

    def with_warnings(self, card: ImportedCard, *, needs_answer: bool) -> ImportedCard:
        # The card's own warnings, so that the import can name its card file.
        warnings = empty_side_warnings(
            card, Location(self.path, 1), needs_answer=needs_answer
        )
        return dataclasses.replace(card, diagnostics=tuple(warnings))

    def typed_answer(self, note: PackageNote, field: str) -> str:
        """Return a type-in note's expected answer: its Back field as plain text.

        The build puts the answer's first line in the field as written, only
        HTML-escaped, because Anki compares what is typed with the field's text; so
        the card file gets that text back, unescaped, and not as Markdown.
        """
        if "<" not in field:
            text = html.unescape(field)
        else:
            # Formatting added in Anki's editor, which its comparison ignores.
            from bs4 import BeautifulSoup

            soup = BeautifulSoup(field, "html.parser")
            for line_break in soup.find_all("br"):
                line_break.replace_with("\n")
            text = soup.get_text()
            self.warn(
                note,
                "the formatting of its expected answer (field 'Back') is left out: "
                "a type-in card's expected answer is plain text",
            )
        if "\n" in text or text != text.strip() or _CARD_SYNTAX.match(text):
            self.warn(
                note,
                f"its expected answer {text!r} cannot be the first line of a card's "
                "answer as it is, so a build would not give it back: edit the line",
            )
        return text

    def field(
        self, note: PackageNote, name: str, html: str, *, cloze: bool = False
    ) -> str:
        from deckbuilder.importers.html import to_markdown

        converted = to_markdown(html, media_path=media_path, cloze=cloze)
        self.media.update(converted.media)
        for removed in converted.removed:
            self.warn(note, f"removed {removed} from field {name!r}")
        return converted.markdown

    def warn(self, note: PackageNote, message: str) -> None:
        self.diagnostics.append(
            Diagnostic(
                Location(self.path, 1),
                Severity.WARNING,
                f"note {note.id} in deck {note.deck!r}: {message}",
                "check the imported card",
            )
        )
