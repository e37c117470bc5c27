"""The parsed form of card sources: files, cards, code blocks and their locations."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from deckbuilder.notetypes import NoteType

NOTE_TYPES = ("basic", "reversed", "cloze", "type-in")
"""Note types a card may name; the first is the default."""


@dataclass(frozen=True)
class Location:
    """A place in a source file: 1-based line and column."""

    path: Path
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"

    def moved(self, lines: int) -> Location:
        """Return this place `lines` lines further down its file."""
        return _changed(self, line=self.line + lines)


@dataclass(frozen=True)
class CodeBlock:
    """A fenced code block as written, with its info string split into parts."""

    location: Location
    """Where the opening fence is."""
    language: str
    """First word of the info string, or "" for a block with no language."""
    options: dict[str, str]
    """`key` or `key=value` words after the language; a bare key maps to ""."""
    code: str
    """The block's text, without fences, ending in a newline unless empty."""
    info: str = ""
    """The whole info string, as written."""

    @property
    def first_code_line(self) -> int:
        """Return the source line of the block's first line of code."""
        return self.location.line + 1


@dataclass(frozen=True)
class Field:
    """A named field of a card whose note type is an Anki note type file."""

    name: str
    text: str
    """Markdown of the field."""
    line: int
    """Source line where the field's Markdown starts."""


@dataclass(frozen=True)
class Card:
    """One card: a question, an answer and what the source says about them."""

    location: Location
    """Where the card's heading is."""
    question: str
    """Markdown of the question: the heading text, then any lines before `???`."""
    answer: str
    """Markdown of the answer, with the card's metadata comment removed."""
    deck: str
    tags: tuple[str, ...]
    note_type: str
    explicit_id: str | None = None
    question_line: int = 0
    """Source line where the question's Markdown starts (the heading line)."""
    answer_line: int = 0
    """Source line where the answer's Markdown starts."""
    blocks: tuple[CodeBlock, ...] = ()
    """Every fenced code block in the card, question first, in source order."""
    setup: tuple[str, ...] = ()
    """Names of hidden setup modules the card's code builds on."""
    metadata_line: int | None = None
    """Source line of the card's metadata comment, if it has one."""
    css: str = ""
    """The deck's own CSS from the front matter's `css`, scoped to the deck."""
    guid: str | None = None
    """The Anki GUID the card's note keeps, when the source gives one."""
    anki_note_type: NoteType | None = None
    """The Anki note type file the card names, if any; else deckbuilder's own."""
    fields: tuple[Field, ...] = ()
    """Further fields of an Anki note type, after the question and the answer."""
    deck_line: int = dataclasses.field(default=0, repr=False, compare=False)
    """Line of the front matter's `deck`; 0 when the path names the deck. For
    messages only, so not part of the card's key (its `repr`)."""
    tag_lines: tuple[int, ...] = dataclasses.field(
        default=(), repr=False, compare=False
    )
    """The line each tag is written on (front matter or metadata), for messages."""

    @property
    def id(self) -> str:
        """Return the card's stable id: the explicit one, or one derived from text."""
        if self.explicit_id is not None:
            return self.explicit_id
        if self.guid is not None:
            # The note's identity in Anki, so editing the question keeps the id.
            digest = hashlib.sha256(f"anki guid\x1f{self.guid}".encode()).hexdigest()
            return digest[:12]
        return derive_id(self.deck, self.question)

    @property
    def title(self) -> str:
        """Return the question's first line, for messages."""
        return self.question.strip().splitlines()[0] if self.question.strip() else ""

    @property
    def has_question(self) -> bool:
        return bool(self.question.strip())

    @property
    def has_answer(self) -> bool:
        return bool(self.answer.strip())

    @property
    def is_complete(self) -> bool:
        # A cloze card's question holds the clozes; its answer is optional extra.
        if self.note_type == "cloze":
            return self.has_question
        if self.anki_note_type is not None and len(self.anki_note_type.fields) < 2:
            return self.has_question  # a note type with one field has no answer
        return self.has_question and self.has_answer

    def replace(self, **changes: object) -> Card:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def moved(self, lines: int) -> Card:
        """Return the card as it parses `lines` lines further down its file: every
        line it holds moves, nothing else changes."""
        return _changed(
            self,
            location=self.location.moved(lines),
            question_line=self.question_line + lines,
            answer_line=self.answer_line + lines,
            blocks=tuple(
                _changed(block, location=block.location.moved(lines))
                for block in self.blocks
            ),
            metadata_line=(
                None if self.metadata_line is None else self.metadata_line + lines
            ),
            fields=tuple(
                _changed(field, line=field.line + lines) for field in self.fields
            ),
        )


_Frozen = TypeVar("_Frozen", Location, CodeBlock, Field, Card)


def _changed(value: _Frozen, **changes: object) -> _Frozen:
    """Return a copy of `value` with `changes`: `dataclasses.replace` for these
    classes, which check nothing when made, without its per-call look at the
    fields (every build moves every card it keys, see `Card.moved`)."""
    copy = object.__new__(type(value))
    copy.__dict__.update(value.__dict__, **changes)
    return copy


@dataclass(frozen=True)
class CardFile:
    """A parsed card source file."""

    path: Path
    deck: str
    tags: tuple[str, ...]
    note_type: str
    cards: tuple[Card, ...] = ()
    setup: tuple[str, ...] = ()
    """Hidden setup modules for every card in the file."""
    preamble: str = ""
    """Markdown before the first card; never part of a card."""
    preamble_blocks: tuple[CodeBlock, ...] = ()
    """Fenced blocks of the preamble; `python setup` ones run before every card."""


def location_at(path: Path, text: str | bytes, offset: int) -> Location:
    """Return the line and column of `offset` in `text` (characters or bytes)."""
    newline = "\n" if isinstance(text, str) else b"\n"
    line = text.count(newline, 0, offset) + 1  # type: ignore[arg-type]
    column = offset - (text.rfind(newline, 0, offset) + 1) + 1  # type: ignore[arg-type]
    return Location(path, line, column)


def derive_id(deck: str, question: str) -> str:
    """Return the id of a card that has none: a short hash of deck and question.

    Whitespace is normalised so that re-wrapping a question keeps its id; the card's
    position is deliberately not an input, so inserting a card leaves the others alone.
    """
    normalised = " ".join(question.split())
    digest = hashlib.sha256(f"{deck}\x1f{normalised}".encode()).hexdigest()
    return digest[:12]


@dataclass(frozen=True)
class CardSummary:
    """What the checks across cards and the cache need of a card that was not parsed:
    its file is unchanged since a build that parsed it (see `cache`)."""

    location: Location
    deck: str
    tags: tuple[str, ...]
    note_type: str
    explicit_id: str | None
    id: str
    title: str
    question: str
    """The question's words, whitespace normalised: all the checks compare."""
    has_question: bool
    has_answer: bool
    is_complete: bool
    css: str
    key: str
    """The cache key of the card's note."""
    deck_line: int = 0
    tag_lines: tuple[int, ...] = ()


@dataclass(frozen=True)
class FileSummary:
    """A card file the build did not parse, and the summaries of its cards."""

    path: Path
    cards: tuple[CardSummary, ...]
