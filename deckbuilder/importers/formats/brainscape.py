"""Read a Brainscape text export: decks of a title line, then numbered `Q`/`A` cards.

Each card in the export reads

    3
    Q

    How to create the Generator Inputs in TF

    A
    ...answer lines...
    How well did you know this?
    1
    Not at all
    2
    3
    4
    5
    Perfectly

The last eight lines are the site's self-rating prompt, not part of the card. They are
dropped only as that whole sequence, so an answer that is just "1" keeps its "1". An
export without the prompt is read too: a number line followed by a `Q` line then starts
the next card. A question line reading only "A" cannot be told from the marker; it ends
the question. Questions and answers may span lines; a line is never joined to another.

An export of several decks starts each with its title. A line is a deck title when it
is followed, after blank lines, by a card's start and either comes after a card's
rating prompt, or (in an export without prompts) the card it is followed by does not
follow on from the number of the card before (each deck numbers its cards from 1).
So in an export without prompts, a title between two decks numbered on without a
restart stays the last line of an answer: the text is kept, and the deck can be
split by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from deckbuilder.errors import ExportFormatError
from deckbuilder.importers import (
    Imported,
    ImportedCard,
    ImportedDeck,
    empty_side_warnings,
    read_text,
)
from deckbuilder.importers.plaintext import to_markdown
from deckbuilder.model import Location
from deckbuilder.options import Progress
from deckbuilder.report import Diagnostic

_RATING = (
    "How well did you know this?",
    "1",
    "Not at all",
    "2",
    "3",
    "4",
    "5",
    "Perfectly",
)
_NUMBER = re.compile(r"[0-9]+")
_REMEDY = (
    "import a Brainscape text export: a title line, then cards that each start with "
    "their number on one line and `Q` on the next"
)


def read(path: Path, progress: Progress | None = None) -> Imported:
    """Read the Brainscape text export at `path`."""
    return parse(read_text(path), path)


def parse(text: str, source: Path) -> Imported:
    """Read the text of a Brainscape export; `source` names it in messages."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    index = _skip_blank(lines, 0)
    if index == len(lines):
        raise ExportFormatError("export is empty", Location(source, 1), _REMEDY)
    decks: list[_Deck] = [_Deck("")]
    if not _starts_card(lines, index):
        decks[0].title, title_line = lines[index].strip(), index + 1
        index = _skip_blank(lines, index + 1)
        if index == len(lines):
            raise ExportFormatError(
                "export has no cards after its title",
                Location(source, title_line),
                _REMEDY,
            )

    while index < len(lines):
        if _is_title(lines, index):
            decks.append(_Deck(lines[index].strip()))
            index = _skip_blank(lines, index + 1)
        if not _starts_card(lines, index):
            raise ExportFormatError(
                "expected a card number line then a `Q` line, "
                f"found {lines[index].strip()!r}",
                Location(source, index + 1),
                _REMEDY,
            )
        card, index, warning = _read_card(lines, index, source)
        decks[-1].cards.append(card)
        decks[-1].diagnostics += warning
        index = _skip_blank(lines, index)
    # One deck is named by --deck, the --out file or its title, as before; several
    # are named by their titles.
    named = len(decks) > 1
    return Imported(
        tuple(
            ImportedDeck(
                deck.title,
                tuple(deck.cards),
                tuple(deck.diagnostics),
                name=deck.title if named else "",
            )
            for deck in decks
        )
    )


@dataclass
class _Deck:
    title: str
    cards: list[ImportedCard] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _read_card(
    lines: list[str], start: int, source: Path
) -> tuple[ImportedCard, int, list[Diagnostic]]:
    """Read the card whose number is on line `start`; return it and where it ends."""
    number = int(lines[start].strip())
    location = Location(source, start + 1)
    marker = start + 2
    while marker < len(lines) and not (
        lines[marker].strip() == "A" or _ends_card(lines, marker)
    ):
        marker += 1
    if marker == len(lines) or lines[marker].strip() != "A":
        raise ExportFormatError(
            f"card {number} has no `A` line after its question",
            location,
            "every card needs a line holding only `A` between question and answer",
        )
    end = marker + 1
    while end < len(lines) and not _ends_card(lines, end):
        end += 1
    end = _title_before(lines, marker + 1, end, number)

    question = lines[start + 2 : marker]
    card = ImportedCard(
        number, to_markdown(question), to_markdown(lines[marker + 1 : end]), start + 1
    )
    title = next((line.strip() for line in question if line.strip()), "")
    if _is_rating(lines, end):
        end += len(_RATING)
    return card, end, empty_side_warnings(card, location, title=title)




def _title_before(lines: list[str], start: int, end: int, number: int) -> int:
    """Return where the answer in `lines[start:end]` ends: before a deck title.

    Without a rating block, the last line before the next card is the next deck's
    title when that card's number does not follow on (each deck numbers its cards
    from 1, under its title): otherwise it is the answer's last line.
    """
    if end == len(lines) or not _starts_card(lines, end):
        return end
    if int(lines[end].strip()) > number:
        return end
    last = end - 1
    while last >= start and not lines[last].strip():
        last -= 1
    return last if last >= start else end


def _is_title(lines: list[str], index: int) -> bool:
    """Tell whether `lines[index]` is a deck title: a line of its own, not a card's
    start, followed (after blank lines) by a card's start."""
    return (
        bool(lines[index].strip())
        and not _starts_card(lines, index)
        and _starts_card(lines, _skip_blank(lines, index + 1))
    )


def _ends_card(lines: list[str], index: int) -> bool:
    return _is_rating(lines, index) or _starts_card(lines, index)


def _starts_card(lines: list[str], index: int) -> bool:
    return (
        index + 1 < len(lines)
        and _NUMBER.fullmatch(lines[index].strip()) is not None
        and lines[index + 1].strip() == "Q"
    )


def _is_rating(lines: list[str], index: int) -> bool:
    block = lines[index : index + len(_RATING)]
    return tuple(line.strip() for line in block) == _RATING


def _skip_blank(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index
