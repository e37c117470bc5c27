"""Read Anki's "Notes in Plain Text" export: a `#key:value` header, then a note a row.

Anki writes (File > Export > Notes in Plain Text)

    #separator:tab
    #html:true
    #guid column:1
    #notetype column:2
    #deck column:3
    #tags column:6
    j}|@#)_YBn<TAB>Basic<TAB>Lang::Spanish<TAB>perro<TAB>dog<TAB>es animals

with a header line for each column the user ticked. Fields are quoted as in CSV when
they hold the separator, a quote, a `#` or a line break, so a row may span lines; a
note type with fewer fields than another in the export gets empty fields up to the
widest. This module reads what Anki's own text import reads: `#separator:` by name or
as the character, `#html:`, `#columns:` (names, separated like a row), fixed
`#deck:`, `#notetype:` and `#tags:` values, and the older `tags:` first line; other
`#` lines are comments, as Anki skips them.

The export has no note type definitions, so its notes become deckbuilder's own note
types, picked by the note type's name; GUIDs are not kept, since notes of another note
type under the same GUID would conflict with the originals in Anki.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deckbuilder.errors import ExportFormatError
from deckbuilder.importers import (
    Imported,
    ImportedCard,
    ImportedDeck,
    empty_side_warnings,
    plaintext,
    read_text,
)
from deckbuilder.importers.write import media_path
from deckbuilder.model import Location
from deckbuilder.options import Progress
from deckbuilder.report import Diagnostic, Severity

_SEPARATORS = {
    # Anki's order, which it also tries when the header names no separator.
    "tab": "\t",
    "pipe": "|",
    "semicolon": ";",
    "colon": ":",
    "comma": ",",
    "space": " ",
}
# Anki guesses `#html` from whether any field looks like a tag or a comment.
_LOOKS_HTML = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
_CLOZE = re.compile(r"\{\{c\d+::")
# What the converters escape inside a line, and the line starts that our card format
# would read as a new card, the `???` separator or a code fence.
_INLINE_ESCAPE = re.compile(r"\\([\\`*_$#>+\-.\[\]!|~])")
_STRUCTURE = re.compile(r"#|\?\?\?|```|~~~|<!--")
_REMEDY = (
    "import a file written by Anki's File > Export > Notes in Plain Text: a "
    "`#separator:` header, then one note a row"
)


@dataclass
class _Header:
    """What the `#` lines at the top of the export say; column numbers are 1-based."""

    separator: str = ""
    html: bool | None = None
    columns: str | None = None
    columns_line: int = 0
    tags: tuple[str, ...] = ()
    deck: str = ""
    notetype: str = ""
    guid_column: int = 0
    notetype_column: int = 0
    deck_column: int = 0
    tags_column: int = 0
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def meta_columns(self) -> set[int]:
        columns = (
            self.guid_column,
            self.notetype_column,
            self.deck_column,
            self.tags_column,
        )
        return {column for column in columns if column}


@dataclass(frozen=True)
class _Row:
    line: int
    values: tuple[str, ...]


@dataclass
class _Deck:
    cards: list[ImportedCard] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def read(path: Path, progress: Progress | None = None) -> Imported:
    """Read the Anki "Notes in Plain Text" export at `path`."""
    return parse(read_text(path), path, progress)


def parse(text: str, source: Path, progress: Progress | None = None) -> Imported:
    """Read the text of an Anki text export; `source` names it in messages."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
    header, body = _read_header(lines, source)
    separator = header.separator or _guess_separator(lines[body:])
    rows = list(_rows(lines, body, separator, source))
    if not rows:
        raise ExportFormatError(
            "export has no notes", Location(source, min(body + 1, len(lines))), _REMEDY
        )
    names = _column_names(header, separator, source)
    width = max((*header.meta_columns, len(names), 1))
    for row in rows:
        if len(row.values) < width:
            raise ExportFormatError(
                f"row has {len(row.values)} columns, the header says {width}",
                Location(source, row.line),
                "every row needs a value for each column the header names; quote "
                'fields that hold the separator or a line break ("a, b")',
            )
    is_html = header.html
    if is_html is None:
        is_html = any(_LOOKS_HTML.search(value) for row in rows for value in row.values)
    reader = _Reader(header, names, is_html, source)
    for done, row in enumerate(rows, start=1):
        reader.add(row, done)
        if progress is not None:
            progress("importing", done, len(rows))
    return reader.imported()


def _read_header(lines: Sequence[str], source: Path) -> tuple[_Header, int]:
    """Return the header and the index of the first line after it."""
    header = _Header()
    index = 0
    if lines and lines[0].startswith("tags:"):
        header.tags = tuple(lines[0].removeprefix("tags:").split())
        index = 1
    while index < len(lines) and lines[index].startswith("#"):
        key, colon, value = lines[index][1:].partition(":")
        if colon:
            _header_entry(header, key.strip().lower(), value, index + 1, source)
        index += 1
    return header, index


def _header_entry(
    header: _Header, key: str, value: str, line: int, source: Path
) -> None:
    if key == "separator":
        name = value.strip().lower()
        if name in _SEPARATORS:
            header.separator = _SEPARATORS[name]
        elif value in _SEPARATORS.values():
            header.separator = value
        else:
            header.warnings.append(
                Diagnostic(
                    Location(source, line),
                    Severity.WARNING,
                    f"unknown separator {value!r}; the separator is guessed, as "
                    "Anki does",
                    f"write one of: {', '.join(_SEPARATORS)}",
                )
            )
    elif key == "html" and value.strip().lower() in ("true", "false"):
        header.html = value.strip().lower() == "true"
    elif key == "columns":
        header.columns, header.columns_line = value, line
    elif key == "tags":
        header.tags = tuple(value.split())
    elif key in ("deck", "notetype") and value.strip().isdigit():
        # Anki reads a number as the id of a deck or note type in the collection
        # the file is imported into; no name can be told from it.
        header.warnings.append(
            Diagnostic(
                Location(source, line),
                Severity.WARNING,
                f"{key} given by its id {value.strip()}, which names nothing outside "
                "the collection it came from: ignored",
                f"write the {key}'s name instead, or pass --deck",
            )
        )
    elif key in ("deck", "notetype"):
        setattr(header, key, value.strip())
    elif key in ("guid column", "notetype column", "deck column", "tags column"):
        if value.strip().isdigit():
            setattr(header, key.replace(" ", "_"), int(value.strip()))


def _guess_separator(lines: Sequence[str]) -> str:
    start = "\n".join(lines)[: 8 * 1024]
    return next((sep for sep in _SEPARATORS.values() if sep in start), " ")


def _column_names(header: _Header, separator: str, source: Path) -> tuple[str, ...]:
    if not header.columns:
        return ()
    values, _ = _record([header.columns], 0, separator, source, header.columns_line - 1)
    return values


def _rows(
    lines: Sequence[str],
    start: int,
    separator: str,
    source: Path,
) -> Iterator[_Row]:
    """Yield the rows from `lines[start]` on, each with the line it starts on."""
    index = start
    while index < len(lines):
        # Anki skips empty lines and lines starting with `#` between rows.
        if not lines[index] or lines[index].startswith("#"):
            index += 1
            continue
        values, end = _record(lines, index, separator, source, 0)
        yield _Row(index + 1, values)
        index = end


def _record(
    lines: Sequence[str], index: int, separator: str, source: Path, offset: int
) -> tuple[tuple[str, ...], int]:
    """Read the row starting on `lines[index]`; return its values and the next line."""
    values: list[str] = []
    text, pos = lines[index], 0
    while True:
        value: list[str] = []
        if text.startswith('"', pos):
            opened = Location(source, index + 1 + offset, pos + 1)
            pos += 1
            while True:
                if pos == len(text):
                    index += 1
                    if index == len(lines):
                        raise ExportFormatError(
                            "quoted field is never closed",
                            opened,
                            'end the field with a `"`, and write a quote inside a '
                            'quoted field as `""`',
                        )
                    text, pos = lines[index], 0
                    value.append("\n")
                elif text.startswith('""', pos):
                    value.append('"')
                    pos += 2
                elif text[pos] == '"':
                    pos += 1
                    break
                else:
                    value.append(text[pos])
                    pos += 1
        # Text after a closing quote, like a quote inside an unquoted field, is kept
        # as written, as Anki's CSV reader does.
        end = text.find(separator, pos)
        end = len(text) if end < 0 else end
        value.append(text[pos:end])
        values.append("".join(value))
        if end == len(text):
            return tuple(values), index + 1
        pos = end + len(separator)


@dataclass
class _Reader:
    """Turns rows into cards, grouped by deck, and collects what to warn about."""

    header: _Header
    names: tuple[str, ...]
    is_html: bool
    source: Path
    decks: dict[str, _Deck] = field(default_factory=dict)
    media: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, list[int]] = field(default_factory=dict)
    extra: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add(self, row: _Row, number: int) -> None:
        header, location = self.header, Location(self.source, row.line)
        value = _column(row, header.notetype_column)
        notetype = value if header.notetype_column else header.notetype
        deck_name = _column(row, header.deck_column) or header.deck
        deck = self.decks.setdefault(deck_name, _Deck())
        tags = (*header.tags, *_column(row, header.tags_column).split())
        columns = [
            (index, value)
            for index, value in enumerate(row.values, start=1)
            if index not in header.meta_columns
        ]
        values = [value for _, value in columns]
        kind = self._kind(notetype, values, row.line)
        if "optional reversed" in notetype.lower() and len(values) > 2:
            # The third field only switches the reverse card on.
            kind = "reversed" if values[2].strip() else ""
            del columns[2]
        question = self._markdown(
            _at(values, 0), "question", deck, location, cloze=kind == "cloze"
        )
        answer = self._markdown(_at(values, 1), "answer", deck, location)
        extras = [
            self._markdown(value, "fields", deck, location)
            for _, value in columns[2:]
            if value.strip()
        ]
        if extras:
            names = [self._name(index) for index, v in columns[2:] if v.strip()]
            self.extra.setdefault((notetype, ", ".join(names)), []).append(row.line)
        if kind == "type-in":
            answer = _typed(answer)
        answer = "\n\n".join(part for part in (answer, *extras) if part)
        card = ImportedCard(
            number, question, answer, row.line, tags=tuple(tags), type=kind
        )
        deck.cards.append(card)
        deck.diagnostics.extend(
            empty_side_warnings(card, location, needs_answer=card.type != "cloze")
        )

    def imported(self) -> Imported:
        decks = tuple(
            ImportedDeck("", tuple(deck.cards), tuple(deck.diagnostics), name=name)
            for name, deck in self.decks.items()
        )
        return Imported(decks, diagnostics=(*self.header.warnings, *self._summary()))

    def _kind(self, notetype: str, values: Sequence[str], line: int) -> str:
        name = notetype.lower()
        if "cloze" in name:
            return "cloze"
        if "type in" in name or "type-in" in name:
            return "type-in"
        if "reversed" in name:
            return "reversed"
        if name == "basic" or name.startswith("basic "):
            return ""
        if _CLOZE.search(_at(values, 0)):
            return "cloze"
        if notetype:
            self.unknown.setdefault(notetype, []).append(line)
        return ""

    def _markdown(
        self,
        value: str,
        side: str,
        deck: _Deck,
        location: Location,
        *,
        cloze: bool = False,
    ) -> str:
        if not self.is_html:
            return plaintext.to_markdown(value.split("\n"))
        from deckbuilder.importers.html import to_markdown

        converted = to_markdown(value, media_path=media_path, cloze=cloze)
        if converted.removed:
            deck.diagnostics.append(
                Diagnostic(
                    location,
                    Severity.WARNING,
                    f"removed {', '.join(converted.removed)} from the {side}",
                    "cards show text and images; scripts and event handlers never run",
                )
            )
        for name in converted.media:
            self.media.setdefault(name, location.line)
        return converted.markdown

    def _name(self, index: int) -> str:
        if index <= len(self.names) and self.names[index - 1]:
            return repr(self.names[index - 1])
        return f"column {index}"

    def _summary(self) -> Iterator[Diagnostic]:
        for notetype, lines in self.unknown.items():
            yield Diagnostic(
                Location(self.source, lines[0]),
                Severity.WARNING,
                f"unknown note type {notetype!r} ({_count(lines)}, the first here): "
                "imported as basic cards",
                "set `type:` where another of deckbuilder's note types fits, or "
                "import the .apkg export to keep the note type",
            )
        for (notetype, fields), lines in self.extra.items():
            kind = f"note type {notetype!r}" if notetype else "the export"
            yield Diagnostic(
                Location(self.source, lines[0]),
                Severity.WARNING,
                f"fields after the question and the answer ({fields}) added to the "
                f"answer in {_count(lines)} of {kind}, the first here",
                "deckbuilder's note types have two sides; import the .apkg export "
                "to keep the note type and its fields",
            )
        if self.media:
            names = sorted(self.media, key=self.media.__getitem__)
            shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
            yield Diagnostic(
                Location(self.source, self.media[names[0]]),
                Severity.WARNING,
                f"the notes use {_plural(len(names), 'media file')} ({shown}), which "
                "a text export does not hold",
                "copy them from Anki's collection.media folder into the media/ folder "
                "beside the card files, or import the .apkg export",
            )


def _column(row: _Row, column: int) -> str:
    return row.values[column - 1] if column and column <= len(row.values) else ""


def _at(values: Sequence[str], index: int) -> str:
    return values[index] if index < len(values) else ""


def _count(lines: Sequence[int]) -> str:
    return _plural(len(lines), "note")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("s" if count != 1 else "")


def _typed(answer: str) -> str:
    """Return a type-in answer whose first line reads as the text to type.

    Anki compares what the learner types with that line as written, so the escapes
    the converters add for Markdown would have to be typed too; they are undone,
    unless the line would then start a new card, the `???` separator or a fence.
    """
    first, newline, rest = answer.partition("\n")
    plain = html.unescape(_INLINE_ESCAPE.sub(r"\1", first))
    if _STRUCTURE.match(plain.lstrip()):
        return answer
    return plain + newline + rest


