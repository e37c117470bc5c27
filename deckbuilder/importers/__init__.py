"""Read decks exported by other flashcard tools, to be written out as a card file.

An importer turns the text of one export into an `ImportedDeck` whose questions and
answers are already Markdown; `to_markdown` then writes that deck as a card file in the
format of docs/card-format.md. Importers keep every word of the export and add none:
a card that is empty on one side stays empty and is reported as a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from deckbuilder.errors import ExportFormatError
from deckbuilder.importers.write import to_markdown
from deckbuilder.report import Diagnostic
from deckbuilder.sources import decode_utf8, read_input

__all__ = [
    "ImportedCard",
    "ImportedDeck",
    "Importer",
    "read_export",
    "to_markdown",
]


@dataclass(frozen=True)
class ImportedCard:
    """One card of an export, its two sides converted to Markdown."""

    number: int
    """The card's number in the export."""
    question: str
    """Markdown of the question, "" when the export has none."""
    answer: str
    """Markdown of the answer, "" when the export has none."""
    line: int
    """The 1-based line of the export where the card starts."""


@dataclass(frozen=True)
class ImportedDeck:
    """What an importer read from one export."""

    title: str
    """The export's title as plain text, "" when it has none."""
    cards: tuple[ImportedCard, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    """Warnings about the export's content, such as cards with an empty side."""


class Importer(Protocol):
    """Read the text of one export; `source` is only used to locate problems.

    Raises ExportFormatError, located in `source`, when the text is not in the
    importer's format.
    """

    def __call__(self, text: str, source: Path) -> ImportedDeck: ...


def read_export(path: Path, importer: Importer) -> ImportedDeck:
    """Read the export at `path` with `importer`: UTF-8, a byte-order mark allowed."""
    data = read_input(path, ExportFormatError, "export")
    text = decode_utf8(
        data,
        path,
        ExportFormatError,
        "export",
        "export the deck again as UTF-8 text, or convert the file to UTF-8",
    )
    return importer(text, path)
