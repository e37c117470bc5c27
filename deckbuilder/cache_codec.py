"""Turn cached notes, card summaries and diagnostics into JSON and back.

Reading checks what it reads against the types a note holds, and that the files a
note names are unchanged, so that a damaged or stale entry is never taken for a note.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, Union

from deckbuilder.inputs import file_digest
from deckbuilder.model import CardSummary, Location
from deckbuilder.report import Diagnostic, Severity

if TYPE_CHECKING:
    from deckbuilder.media import MediaFile
    from deckbuilder.package import Note

Rendered: TypeAlias = tuple["Note", list[Diagnostic]]
"""A card's note and the diagnostics rendering it gave."""


def digest(*parts: str) -> str:
    """Return the SHA-256 of `parts`, each ended by a NUL byte."""
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(part.encode("utf-8", "surrogatepass"))
        hashed.update(b"\0")
    return hashed.hexdigest()


@dataclass(frozen=True)
class NoteEntry:
    """What the cache keeps of a rendered note, encoded where it was rendered."""

    contents: str
    """Digest of the note's contents, of which package keys are made."""
    note: str | None
    """The note and its diagnostics as JSON; None for a note the file cannot hold."""
    summary: str
    """The note's summary as JSON: contents digest, media and diagnostics."""


def note_entry(note: Note, diagnostics: list[Diagnostic]) -> NoteEntry:
    """Return the cache's entry for `note`, rendered with `diagnostics`."""
    # A note is keyed on its card, but its contents also depend on the media files
    # it shows: those are fingerprinted now, as they were when rendered, and
    # packages are keyed on the notes' contents themselves.
    files = {str(path): fingerprint(path) for path in files_of(note)}
    contents = digest(repr(note))
    text = None
    try:
        entry = encode_rendered((note, diagnostics))
    except TypeError:
        pass
    else:
        entry.update(files=files, contents=contents)
        text = json.dumps(entry)
    summary = {
        "files": files,
        "contents": contents,
        "line": note.location.line,
        "media": encode(note.media),
        "diagnostics": [encode_diagnostic(d) for d in diagnostics],
    }
    return NoteEntry(contents, text, json.dumps(summary))


# The file holds notes as JSON: strings and numbers as they are, tuples, paths and
# dataclasses (locations, media files) tagged. Reading goes by the type hints of the
# note's own fields, so a damaged file cannot make anything but what a note holds, and
# never a number where the package expects text. Files a note refers to (its media)
# are keyed by their contents: a note is found again only while they are unchanged.


def encode_rendered(rendered: Rendered) -> dict[str, Any]:
    """Return a note and its diagnostics as JSON data."""
    note, diagnostics = rendered
    return {
        "note": encode(note),
        "diagnostics": [encode_diagnostic(diagnostic) for diagnostic in diagnostics],
    }


def encode_diagnostic(diagnostic: Diagnostic) -> list[object]:
    """Return a diagnostic as JSON data."""
    return [
        encode(diagnostic.location),
        diagnostic.severity.value,
        diagnostic.message,
        diagnostic.remedy,
    ]


def card_summary(
    path: Path, deck: str, css: str, row: list[Any], deck_line: int = 0
) -> CardSummary:
    """Return the summary of a card from a cached file's row."""
    (key, line, tags, note_type, explicit_id, card_id, title, question) = row[:8]
    flags, tag_lines = row[8:-1], row[-1]
    if not isinstance(tags, list):
        raise TypeError(f"{tags!r} are not tags")
    if (
        not isinstance(tag_lines, list)
        or len(tag_lines) != len(tags)
        or not all(type(number) is int for number in tag_lines)
    ):
        raise TypeError(f"{tag_lines!r} are not the lines of tags")
    texts = (key, note_type, card_id, title, question, *tags)
    if (
        not all(type(text) is str for text in texts)
        or type(line) is not int
        or not (explicit_id is None or type(explicit_id) is str)
        or len(flags) != 3
        or not all(type(flag) is bool for flag in flags)
    ):
        raise TypeError(f"{row!r} is not a card summary")
    has_question, has_answer, is_complete = flags
    return CardSummary(
        location=Location(path, line),
        deck=deck,
        tags=tuple(tags),
        note_type=note_type,
        explicit_id=explicit_id,
        id=card_id,
        title=title,
        question=question,
        has_question=has_question,
        has_answer=has_answer,
        is_complete=is_complete,
        css=css,
        key=key,
        deck_line=deck_line,
        tag_lines=tuple(tag_lines),
    )


def decode_rendered(entry: dict[str, Any]) -> Rendered:
    """Return the note and diagnostics of a cache entry; raise if damaged or stale."""
    from deckbuilder.package import Note

    check_files(entry["files"])
    note: Note = decode(entry["note"], Note)
    return note, decode_diagnostics(entry["diagnostics"])


def check_files(files: dict[str, object]) -> None:
    """Raise ValueError if a file an entry names has changed since."""
    for name, recorded in files.items():
        if not unchanged(Path(name), recorded):
            raise ValueError(f"{name} has changed")


def decode_diagnostics(entries: list[Any]) -> list[Diagnostic]:
    """Return the diagnostics of cached JSON data; raise if damaged."""
    diagnostics = []
    for location, severity, message, remedy in entries:
        diagnostics.append(
            Diagnostic(
                decode(location, Location),
                Severity(severity),
                decode(message, str),
                decode(remedy, str),
            )
        )
    return diagnostics


def decode_media(value: object) -> tuple[MediaFile, ...]:
    """Return the media files of cached JSON data, checked unchanged."""
    from deckbuilder.media import MediaFile

    media: tuple[MediaFile, ...] = decode(value, tuple[MediaFile, ...])
    return media


_PLAIN = (str, int, float, bool, type(None))
"""Types that JSON holds as they are."""


def encode(value: object) -> object:
    """Return `value` (text, numbers, tuples, paths, dataclasses) as JSON data."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, tuple):
        return {"tuple": [encode(item) for item in value]}
    if isinstance(value, Path):
        return {"path": str(value)}
    names = _field_names(type(value))
    if names is not None:
        return {"fields": {name: encode(getattr(value, name)) for name in names}}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def files_of(value: object) -> Iterator[Path]:
    """Yield the files a note refers to; a location's path is the card's own file,
    which the card's key covers."""
    if type(value) in _PLAIN:
        return  # most of a note: its fields' text
    if isinstance(value, Path):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from files_of(item)
    elif not isinstance(value, Location):
        for name in _field_names(type(value)) or ():
            yield from files_of(getattr(value, name))


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    """Return the fields of a dataclass, None for any other type; asked of every
    value of every note, so answered once per type."""
    if kind not in _FIELD_NAMES:
        _FIELD_NAMES[kind] = (
            tuple(field.name for field in dataclasses.fields(kind))
            if dataclasses.is_dataclass(kind)
            else None
        )
    return _FIELD_NAMES[kind]


def decode(value: object, kind: Any) -> Any:
    """Return a value of type `kind` read back from JSON data; raise if not one."""
    return _decoder(kind)(value)


Decoder: TypeAlias = Callable[[object], object]


@cache
def _decoder(kind: Any) -> Decoder:
    """Return the function that reads a value of type `kind` back from JSON; made
    once per type, as a build reads thousands of notes."""
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if kind in (str, int, bool):
        return functools.partial(_exactly, kind)
    if origin in (Union, types.UnionType) and type(None) in arguments:
        (inner,) = [argument for argument in arguments if argument is not type(None)]
        return functools.partial(_optional, _decoder(inner))
    if origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        return functools.partial(_tuple, _decoder(arguments[0]))
    if kind is Path:
        return _path
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        fields = {name: _decoder(hint) for name, hint in _hints(kind).items()}
        return functools.partial(_dataclass, kind, fields)
    return functools.partial(_refuse, kind)


def _optional(decode: Decoder, value: object) -> object:
    return None if value is None else decode(value)


def _exactly(kind: type, value: object) -> object:
    if type(value) is not kind:
        raise TypeError(f"{value!r} is not a {kind}")
    return value


def _tuple(item: Decoder, value: object) -> object:
    if not isinstance(value, dict) or not isinstance(value.get("tuple"), list):
        raise TypeError(f"{value!r} is not a tuple")
    return tuple(item(element) for element in value["tuple"])


def _path(value: object) -> object:
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        raise TypeError(f"{value!r} is not a path")
    return _shared_path(value["path"])


@functools.lru_cache(maxsize=4096)
def _shared_path(text: str) -> Path:
    # The notes of a card file share its path; paths are immutable.
    return Path(text)


def _dataclass(kind: type, fields: dict[str, Decoder], value: object) -> object:
    written = value.get("fields") if isinstance(value, dict) else None
    if not isinstance(written, dict) or written.keys() != fields.keys():
        raise TypeError(f"{value!r} is not a {kind.__name__}")
    return kind(**{name: read(written[name]) for name, read in fields.items()})


def _refuse(kind: object, value: object) -> object:
    raise TypeError(f"cannot read a {kind} back")


@cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def fingerprint(path: Path) -> list[object]:
    """Return a file's size, modification time, digest and the file it is once
    symbolic links are resolved; [] if it is gone."""
    try:
        stat = path.stat()
    except OSError:
        return []
    return [stat.st_size, stat.st_mtime_ns, file_digest(path), os.path.realpath(path)]


def unchanged(path: Path, recorded: object) -> bool:
    """Tell whether the file has the contents it had when `recorded`.

    The contents are compared even when the size and modification time are the
    same: an edit may keep both (a tool that restores the time, a coarse clock), and
    the note would then name the file by its old contents.
    """
    if not isinstance(recorded, list) or len(recorded) != 4:
        return False
    return bool(
        recorded[3] == os.path.realpath(path) and recorded[2] == file_digest(path)
    )
