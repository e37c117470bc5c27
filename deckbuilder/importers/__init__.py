"""Read decks exported by other flashcard tools, to be written out as card files.

Each export format is one module in `deckbuilder.importers.formats`, named after the
format (`anki_text.py` is the format `anki-text`), with a `read(path, progress)`
function that returns an `Imported`: decks whose questions and answers are already
Markdown, plus the Anki note types and media files they use. `write_import` then
writes that as card files in the format of docs/card-format.md. Adding a format is
adding one module there.

Importers keep every word of the export and add none: a card that is empty on one
side stays empty and is reported as a warning. Imported content is untrusted: active
HTML is removed and reported, and nothing is written outside the output folder.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

from deckbuilder.errors import ExportFormatError
from deckbuilder.model import Location
from deckbuilder.notetypes import NoteType
from deckbuilder.options import Progress
from deckbuilder.report import Diagnostic, Severity
from deckbuilder.sources import decode_utf8, read_input

__all__ = [
    "Imported",
    "ImportedCard",
    "ImportedDeck",
    "ImportedMedia",
    "Importer",
    "empty_side_warnings",
    "format_names",
    "importer",
    "read_text",
]


@dataclass(frozen=True)
class ImportedCard:
    """One card (or Anki note) of an export, its sides converted to Markdown."""

    number: int
    """The card's number in the export (its position, from 1, where it has none)."""
    question: str
    """Markdown of the question, "" when the export has none."""
    answer: str
    """Markdown of the answer, "" when the export has none."""
    line: int
    """The 1-based line of the export where the card starts; 0 in an export without
    lines (a package), whose `diagnostics` then name the card file written."""
    tags: tuple[str, ...] = ()
    type: str = ""
    """deckbuilder's note type for the card (`reversed`, `cloze`, ...); "" for the
    default. Ignored when `note_type` names an Anki note type."""
    guid: str = ""
    """The Anki GUID to keep, so that building the card updates the same note."""
    note_type: int = 0
    """The id of the Anki note type (in `Imported.note_types`) the card keeps; 0 for
    deckbuilder's own note types."""
    fields: tuple[tuple[str, str], ...] = ()
    """Further fields of the Anki note type, after the first two: (name, Markdown)."""
    diagnostics: tuple[Diagnostic, ...] = ()
    """Warnings about the card, such as an empty side. Where the export has no
    lines they are located at its first, and `write_import` moves them to the
    card's heading in the card file it writes."""


@dataclass(frozen=True)
class ImportedDeck:
    """One deck of an export."""

    title: str
    """The export's title as plain text, "" when it has none."""
    cards: tuple[ImportedCard, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    """Warnings about the deck's content, such as cards with an empty side."""
    name: str = ""
    """The deck's full name (`Languages::Spanish`), "" when the export names none."""


@dataclass(frozen=True)
class ImportedMedia:
    """A media file the cards use: its name under `media/`, and how to read it."""

    name: str
    read: Callable[[], bytes]


@dataclass(frozen=True)
class Imported:
    """Everything an importer read from one export."""

    decks: tuple[ImportedDeck, ...]
    note_types: tuple[NoteType, ...] = ()
    """Anki note types the cards keep; each `path` is only a placeholder."""
    media: tuple[ImportedMedia, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    """Warnings about the export as a whole, such as removed scripts."""

    @property
    def card_count(self) -> int:
        return sum(len(deck.cards) for deck in self.decks)

    @property
    def all_diagnostics(self) -> tuple[Diagnostic, ...]:
        """Return every warning, each located in the export."""
        decks = tuple(d for deck in self.decks for d in deck.diagnostics)
        cards = tuple(
            d for deck in self.decks for card in deck.cards for d in card.diagnostics
        )
        return (*self.diagnostics, *decks, *cards)


MEDIA_FOLDER = "media"
"""Where media files go, relative to the card files that use them."""
NOTE_TYPE_FOLDER = "note-types"
"""Where Anki note type files go, relative to the card files."""


class Importer(Protocol):
    """Read one export; `progress(step, done, total)` hears about long steps.

    Raises ExportFormatError, located in `path`, when the file is not in the
    importer's format.
    """

    def __call__(self, path: Path, progress: Progress | None = None) -> Imported: ...


def format_names() -> list[str]:
    """Return the names of the export formats there are importers for."""
    package = importlib.import_module("deckbuilder.importers.formats")
    return sorted(
        module.name.replace("_", "-")
        for module in pkgutil.iter_modules(package.__path__)
        if not module.name.startswith("_")
    )


def importer(name: str) -> Importer:
    """Return the importer of the format called `name` (see `format_names()`)."""
    if name not in format_names():
        raise ExportFormatError(
            f"unknown export format {name!r}",
            None,
            f"use one of: {', '.join(format_names())}",
        )
    module = importlib.import_module(
        f"deckbuilder.importers.formats.{name.replace('-', '_')}"
    )
    return cast(Importer, module.read)


def empty_side_warnings(
    card: ImportedCard,
    location: Location,
    *,
    title: str = "",
    needs_answer: bool = True,
) -> list[Diagnostic]:
    """Return the warning for a card that an export left empty on a side, if any.

    `title` names the card in the message, by default its question's first line;
    `needs_answer` is False for cards that are whole without one (cloze cards).
    """
    title = title or card.question.partition("\n")[0].strip()
    if not card.question and not card.answer:
        message = f"card {card.number} has no question and no answer"
        remedy = "it is imported as a bare `##` card; write both sides or delete it"
    elif not card.answer and needs_answer:
        message = f'card {card.number} "{title}" has no answer'
        remedy = "it is imported without one; write the answer below its heading"
    elif not card.question:
        message = f"card {card.number} has no question"
        remedy = "it is imported under a bare `##`; write the question there"
    else:
        return []
    return [Diagnostic(location, Severity.WARNING, message, remedy)]


def read_text(path: Path) -> str:
    """Return the text of a text export: UTF-8, a byte-order mark allowed, with
    `\\n` line endings."""
    data = read_input(path, ExportFormatError, "export")
    return decode_utf8(
        data,
        path,
        ExportFormatError,
        "export",
        "export the deck again as UTF-8 text, or convert the file to UTF-8",
    )

