"""Parse card files into the model: front matter, cards, metadata, code blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deckbuilder.block_options import OPTIONS, PYTHON, option_problem, unknown_words
from deckbuilder.deckcss import read_deck_css
from deckbuilder.errors import SourceError
from deckbuilder.fences import Fence, fenced_line_mask, find_fences, split_info
from deckbuilder.frontmatter import key_line, read_front_matter
from deckbuilder.layout import layout_warnings
from deckbuilder.metadata import (
    deck_name,
    merge_tags,
    module_names,
    read_guid,
    read_note_type,
    read_tags,
)
from deckbuilder.model import (
    NOTE_TYPES,
    Card,
    CardFile,
    CodeBlock,
    Field,
    Location,
    location_at,
)
from deckbuilder.notetypes import NoteType, load_note_type
from deckbuilder.options import Options
from deckbuilder.regions import included_code
from deckbuilder.report import Diagnostic, Severity
from deckbuilder.sources import decode_utf8, default_deck, read_input

_HEADING = re.compile(r"^ {0,3}##(?=[ \t]|$)(?P<text>.*)$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_METADATA = re.compile(r"^\s*<!--(?P<body>.*?)-->\s*$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SEPARATOR = "???"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_METADATA_KEYS = ("id", "tags", "type", "setup", "guid", "note-type")
_FIELD = re.compile(r"^\s*<!--\s*field:(?P<name>.*?)-->\s*$")
_METADATA_START = re.compile(
    rf"^\s*<!--\s*(?:{'|'.join(_METADATA_KEYS)})\s*:", re.IGNORECASE
)
"""The start of card metadata, for metadata written wrong."""


@dataclass(frozen=True)
class Parsed:
    """A parsed file and the problems found in it that did not stop the parse."""

    file: CardFile
    diagnostics: tuple[Diagnostic, ...]


def read_card_file(path: Path, options: Options | None = None) -> Parsed:
    """Read and parse one card file; without a `deck` key its path names the deck.

    `options` give the card folders that name decks and the default note type.
    """
    return parse_card_bytes(read_input(path, SourceError, "card file"), path, options)


def parse_card_bytes(data: bytes, path: Path, options: Options | None = None) -> Parsed:
    """Parse the contents of the card file at `path`, as `read_card_file` does."""
    options = options or Options()
    return parse_text(
        decode(data, path),
        path,
        default_deck=default_deck(path, options.deck_folders),
        default_note_type=options.note_type,
        theme=options.theme,
    )


def decode(data: bytes, path: Path) -> str:
    """Decode a card file as UTF-8 (a byte-order mark is allowed), with \\n newlines."""
    return decode_utf8(data, path, SourceError, "file", "save the file as UTF-8")


def parse_text(
    text: str,
    path: Path,
    *,
    default_deck: str,
    default_note_type: str = NOTE_TYPES[0],
    theme: Path | None = None,
) -> Parsed:
    """Parse the text of a card file; `theme` is the project's stylesheet."""
    _refuse_control_characters(text, path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    settings, body_start = read_front_matter(lines, path)
    fences = find_fences(lines)
    for fence in fences:
        if fence.end is None:
            raise SourceError(
                "code block is never closed",
                Location(path, fence.start + 1, fence.indent + 1),
                f"close it with a line holding {fence.marker}",
            )
    in_fence = fenced_line_mask(lines, fences)
    headings = [
        index
        for index in range(body_start, len(lines))
        if not in_fence[index] and _HEADING.match(lines[index])
    ]
    settings.setdefault("type", default_note_type)
    builder = _FileParser(
        path, lines, fences, in_fence, settings, default_deck, body_start, theme
    )
    return builder.parse(body_start, headings)


def _refuse_control_characters(text: str, path: Path) -> None:
    # Anki separates a note's fields with U+001F and drops other control characters,
    # so any of them in a card would corrupt or silently change the note.
    match = _CONTROL.search(text)
    if match is None:
        return
    raise SourceError(
        f"file holds the control character U+{ord(match[0]):04X}",
        location_at(path, text, match.start()),
        "delete it; Anki cannot store it in a note",
    )


class _FileParser:
    def __init__(
        self,
        path: Path,
        lines: list[str],
        fences: list[Fence],
        in_fence: list[bool],
        settings: dict[str, Any],
        default_deck: str,
        front_end: int,
        theme: Path | None = None,
    ) -> None:
        self.path = path
        self.lines = lines
        # Keys are looked for in the front matter only: a card's `type:` line is
        # text, and looking through the whole file for each key cost a pass per key.
        self.front_end = front_end
        self.fences = fences
        self.in_fence = in_fence
        self.diagnostics: list[Diagnostic] = []
        where = Location(path, key_line(lines, front_end, "deck"))
        self.deck = deck_name(settings.get("deck", default_deck), where)
        self.deck_line = where.line if "deck" in settings else 0
        self.tags = read_tags(settings.get("tags"), self._at_key("tags"))
        self._tags_line = self._at_key("tags").line
        self.note_type = read_note_type(
            settings.get("type", NOTE_TYPES[0]), self._at_key("type")
        )
        self._note_types: dict[str, NoteType] = {}
        self.anki_note_type: NoteType | None = None
        if "note-type" in settings:
            self.anki_note_type = self._load_note_type(
                settings["note-type"], self._at_key("note-type")
            )
            if self._at_key("type").line > 1:
                raise SourceError(
                    "front matter sets both `type` and `note-type`",
                    self._at_key("type"),
                    "delete `type`: the note type file says what kind of card it is",
                )
        self.setup = module_names(settings.get("setup"), self._at_key("setup"), "setup")
        # The project's theme comes first, so that a deck's own rules win.
        self.css = "".join(
            read_deck_css(value, path, self.deck, where)
            for value, where in (
                (str(theme) if theme else None, Location(path, 1)),
                (settings.get("css"), self._at_key("css")),
            )
            if value is not None
        )

    def _at_key(self, key: str) -> Location:
        return Location(self.path, key_line(self.lines, self.front_end, key))

    def parse(self, body_start: int, headings: list[int]) -> Parsed:
        self.diagnostics += layout_warnings(
            self.path, self.lines, self.in_fence, body_start
        )
        preamble_end = headings[0] if headings else len(self.lines)
        ends = [*headings[1:], len(self.lines)] if headings else []
        cards = tuple(
            card
            for start, end in zip(headings, ends, strict=True)
            if (card := self._card(start, end)) is not None
        )
        if not cards and not self.diagnostics:
            empty = not any(line.strip() for line in self.lines)
            self.diagnostics.append(
                Diagnostic(
                    Location(self.path, 1),
                    Severity.WARNING,
                    "file is empty" if empty else "file has no cards",
                    "start each card with a `## question` heading"
                    + (", or delete the file" if empty else ""),
                )
            )
        file = CardFile(
            path=self.path,
            deck=self.deck,
            tags=self.tags,
            note_type=self.note_type,
            cards=cards,
            setup=self.setup,
            preamble="\n".join(self.lines[body_start:preamble_end]).strip(),
            preamble_blocks=self._blocks(body_start, preamble_end, preamble=True),
        )
        return Parsed(file, tuple(self.diagnostics))

    def _card(self, start: int, end: int) -> Card | None:
        heading = _HEADING.match(self.lines[start])
        assert heading is not None
        title = _CLOSING_HASHES.sub("", heading["text"].strip()).strip()
        location = Location(self.path, start + 1)
        body = start + 1
        while body < end and not self.lines[body].strip():
            body += 1
        metadata: dict[str, str] = {}
        metadata_line = None
        if body < end and (comment := _METADATA.match(self.lines[body])):
            metadata = self._metadata(comment["body"], Location(self.path, body + 1))
            metadata_line = body + 1
            body += 1
        elif body < end and _METADATA_START.match(self.lines[body]):
            place = Location(self.path, body + 1)
            if "-->" in self.lines[body]:
                self._error(
                    SourceError(
                        "text after the card metadata on its line",
                        place,
                        "move the text to a line of its own below",
                    )
                )
            else:
                self._error(
                    SourceError(
                        "card metadata must be on one line",
                        place,
                        "put its entries on this line, separated by `;`, and close "
                        "the comment with `-->` on it",
                    )
                )
        markers = [
            index
            for index in range(body, end)
            if not self.in_fence[index] and _FIELD.match(self.lines[index])
        ]
        question, answer, answer_start = self._split_question(
            title, body, markers[0] if markers else end, location
        )
        # Problems with the card's own tags are on its metadata line.
        where = Location(self.path, metadata_line) if metadata_line else location
        try:
            anki_note_type = self._anki_note_type(metadata, where)
            if anki_note_type is None:
                written = metadata.get("type", self.note_type)
                note_type = read_note_type(written, where)
            else:
                note_type = "cloze" if anki_note_type.cloze else NOTE_TYPES[0]
            own_tags = read_tags(metadata.get("tags"), where)
            tags = merge_tags(self.tags, own_tags)
            return Card(
                location=location,
                question=question,
                answer=answer,
                deck=self.deck,
                tags=tags,
                note_type=note_type,
                explicit_id=self._explicit_id(metadata, where),
                guid=read_guid(metadata.get("guid"), where),
                anki_note_type=anki_note_type,
                fields=self._fields(markers, end, anki_note_type, bool(answer)),
                question_line=start + 1,
                answer_line=answer_start + 1,
                blocks=self._blocks(start, end),
                setup=self.setup
                + module_names(metadata.get("setup"), location, "setup"),
                metadata_line=metadata_line,
                css=self.css,
                deck_line=self.deck_line,
                tag_lines=tuple(
                    self._tags_line if tag in self.tags else where.line for tag in tags
                ),
            )
        except SourceError as error:
            self._error(error)
            return None

    def _anki_note_type(
        self, metadata: dict[str, str], where: Location
    ) -> NoteType | None:
        if "note-type" not in metadata:
            return self.anki_note_type
        if "type" in metadata:
            raise SourceError(
                "card metadata sets both `type` and `note-type`",
                where,
                "delete `type`: the note type file says what kind of card it is",
            )
        return self._load_note_type(metadata["note-type"], where)

    def _load_note_type(self, value: object, location: Location) -> NoteType:
        # Cards of one file often name the same note type: it is read once.
        key = str(value)
        if key not in self._note_types:
            self._note_types[key] = load_note_type(value, self.path, location)
        return self._note_types[key]

    def _fields(
        self,
        markers: list[int],
        end: int,
        note_type: NoteType | None,
        has_answer: bool,
    ) -> tuple[Field, ...]:
        if note_type is not None and len(note_type.fields) < 2 and has_answer:
            raise SourceError(
                f"note type {note_type.name!r} has one field, so the card has no "
                "answer",
                Location(self.path, markers[0] + 1 if markers else end),
                "move the text into the question, above a `???` line",
            )
        fields: list[Field] = []
        for marker, stop in zip(markers, [*markers[1:], end], strict=False):
            location = Location(self.path, marker + 1)
            match = _FIELD.match(self.lines[marker])
            assert match is not None
            name = match["name"].strip()
            if note_type is None:
                raise SourceError(
                    "field sections need an Anki note type",
                    location,
                    "name a note type file with `note-type:` in the front matter or "
                    "the card's metadata, or delete the `<!-- field: ... -->` line",
                )
            if name not in note_type.fields[2:]:
                raise SourceError(
                    f"note type {note_type.name!r} has no field {name!r} after its "
                    "first two",
                    location,
                    "the question and the answer fill the first two fields; name one "
                    f"of: {', '.join(note_type.fields[2:]) or '(none)'}",
                )
            if any(field.name == name for field in fields):
                raise SourceError(
                    f"field {name!r} is given twice", location, "keep one section"
                )
            text_line = self._first_text_line(marker + 1, stop)
            fields.append(Field(name, self._text(marker + 1, stop), text_line + 1))
        return tuple(fields)

    def _split_question(
        self, title: str, body: int, end: int, location: Location
    ) -> tuple[str, str, int]:
        separators = [
            index
            for index in range(body, end)
            if not self.in_fence[index] and self.lines[index].strip() == _SEPARATOR
        ]
        for extra in separators[1:]:
            self.diagnostics.append(
                Diagnostic(
                    Location(self.path, extra + 1),
                    Severity.ERROR,
                    "card has a second `???` line",
                    "a card has one `???`, between its question and its answer",
                )
            )
        if not separators:
            return title, self._text(body, end), self._first_text_line(body, end)
        split = separators[0]
        more_start = self._first_text_line(body, split)
        more = self._text(body, split)
        # Pad with blank lines so that line N of the question text is source line
        # heading + N: render warnings then point at the right line.
        gap = "\n" * (more_start - (location.line - 1))
        question = f"{title}{gap}{more}" if more else title
        return (
            question,
            self._text(split + 1, end),
            self._first_text_line(split + 1, end),
        )

    def _text(self, start: int, end: int) -> str:
        start = self._first_text_line(start, end)
        return "\n".join(self.lines[start:end]).rstrip()

    def _first_text_line(self, start: int, end: int) -> int:
        while start < end and not self.lines[start].strip():
            start += 1
        return start

    def _metadata(self, body: str, location: Location) -> dict[str, str]:
        entries: dict[str, str] = {}
        for entry in filter(None, (part.strip() for part in body.split(";"))):
            key, colon, value = entry.partition(":")
            key = key.strip()
            if not colon or key not in _METADATA_KEYS:
                self._error(
                    SourceError(
                        f"unknown card metadata entry {entry!r}",
                        location,
                        f"write `key: value` entries separated by `;`, with keys "
                        f"{', '.join(_METADATA_KEYS)}",
                    )
                )
                continue
            if key in entries:
                self._error(
                    SourceError(
                        f"card metadata sets {key!r} twice",
                        location,
                        "keep one of the entries",
                    )
                )
            entries[key] = value.strip()
        return entries

    def _explicit_id(self, metadata: dict[str, str], location: Location) -> str | None:
        if "id" not in metadata:
            return None
        card_id = metadata["id"]
        if not _ID.match(card_id):
            raise SourceError(
                f"card id {card_id!r} is not valid",
                location,
                "use letters, digits, `.`, `_` and `-`, starting with a letter or digit",  # noqa: E501
            )
        return card_id

    def _blocks(
        self, start: int, end: int, preamble: bool = False
    ) -> tuple[CodeBlock, ...]:
        blocks = []
        for fence in self.fences:
            if not start <= fence.start < end:
                continue
            location = Location(self.path, fence.start + 1, fence.indent + 1)
            try:
                language, options = split_info(fence.info)
            except ValueError as error:
                self._error(
                    SourceError(
                        f"cannot read the code block's info string: {error}",
                        location,
                        'close every quote, e.g. skip="needs a GPU"',
                    )
                )
                language, options = fence.language, {}
            code = fence.code
            if "include" in options:
                try:
                    code = included_code(options["include"], code, location)
                except SourceError as error:
                    self._error(error)
            block = CodeBlock(location, language, options, code, fence.info)
            self._check_options(block, preamble)
            blocks.append(block)
        return tuple(blocks)

    def _check_options(self, block: CodeBlock, preamble: bool) -> None:
        # A Python block's options are checked as its test checks them; other blocks
        # take only `hide` and `norun` to heart, so a word that is no option at all
        # (`hdie`) is worth a warning there.
        if block.language in PYTHON:
            problem = option_problem(block, preamble)
            if problem is not None:
                self._error(problem)
            return
        unknown = [key for key in block.options if key not in OPTIONS]
        if unknown:
            self._error(unknown_words(unknown, block), Severity.WARNING)

    def _error(self, error: SourceError, severity: Severity = Severity.ERROR) -> None:
        assert error.location is not None
        self.diagnostics.append(
            Diagnostic(error.location, severity, error.message, error.remedy)
        )
