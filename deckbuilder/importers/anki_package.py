"""Read an Anki package (.apkg or .colpkg): its notes, note types, decks and media.

A package is a zip holding the collection as an SQLite file and the media files
under numbers. Anki has written three layouts, all read here:

- `collection.anki21b`: the current one, the collection compressed with Zstandard in
  schema 18 (note types, fields, templates and decks in tables of their own, their
  settings as protocol buffers), media files compressed too, and a `media` index that
  is a protocol buffer;
- `collection.anki21` and `collection.anki2`: the legacy ones, schema 11 (note types
  and decks as JSON in the `col` table), media as they are, a JSON `media` index.

A current package also holds a legacy `collection.anki2` that only asks the user to
update Anki, so the newest layout present wins. Nothing in the package is trusted:
media names that are not plain file names are refused, and decompression is bounded.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from deckbuilder.errors import ExportFormatError
from deckbuilder.model import Location
from deckbuilder.notetypes import NoteType, Template

_COLLECTIONS = ("collection.anki21b", "collection.anki21", "collection.anki2")
_COMPRESSED = "collection.anki21b"
_LIMIT = 8 << 30
"""The most a package's collection may decompress to: 8 GiB."""
_CHUNK = 1 << 20
_MEDIA_LIMIT = 512 << 20
"""The largest media file an import takes: 512 MiB (AnkiWeb syncs up to 100 MB)."""
_REMEDY = "export the deck again from Anki (File → Export, Anki Deck Package)"


@dataclass(frozen=True)
class PackageNote:
    """A note as the package stores it."""

    id: int
    guid: str
    note_type: int
    fields: tuple[str, ...]
    tags: tuple[str, ...]
    deck: str
    """The deck of the note's first card (its home deck if in a filtered deck)."""


@dataclass(frozen=True)
class Package:
    """The contents of an Anki package that an import needs."""

    notes: tuple[PackageNote, ...]
    note_types: dict[int, NoteType]
    media: dict[str, Callable[[], bytes]]
    """Media file name to a function that reads the file's bytes, at any time."""


@contextmanager
def open_package(path: Path) -> Iterator[Package]:
    """Open the Anki package at `path`; its media can be read until the block ends."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ExportFormatError(
            "package does not exist", Location(path, 1), "check the path"
        ) from None
    except (zipfile.BadZipFile, OSError) as error:
        raise ExportFormatError(
            f"not an Anki package: {error}", Location(path, 1), _REMEDY
        ) from error
    with archive, tempfile.TemporaryDirectory(prefix="deckbuilder-import-") as folder:
        names = set(archive.namelist())
        found = [name for name in _COLLECTIONS if name in names]
        if not found:
            raise ExportFormatError(
                "not an Anki package: it holds no collection",
                Location(path, 1),
                _REMEDY,
            )
        compressed = found[0] == _COMPRESSED
        database = Path(folder, "collection.sqlite")
        with archive.open(found[0]) as entry, database.open("wb") as copy:
            _copy(entry, copy, compressed, path)
        try:
            notes, note_types = _read_collection(database)
        except (sqlite3.Error, ValueError, KeyError, TypeError) as error:
            raise ExportFormatError(
                f"the package's collection cannot be read: {error}",
                Location(path, 1),
                _REMEDY,
            ) from error
        media = _media(archive, compressed, path)
        yield Package(notes, note_types, media)


def _copy(entry: IO[bytes], copy: IO[bytes], compressed: bool, path: Path) -> None:
    if not compressed:
        shutil.copyfileobj(entry, copy, _CHUNK)
        return
    written = 0
    for chunk in _decompressed(entry, path):
        written += len(chunk)
        if written > _LIMIT:
            raise ExportFormatError(
                "the package's collection decompresses to more than 8 GiB",
                Location(path, 1),
                "this is not a package Anki wrote; nothing was imported",
            )
        copy.write(chunk)


def _decompressed(entry: IO[bytes], path: Path) -> Iterator[bytes]:
    try:
        from compression import zstd  # type: ignore[import-not-found]
    except ImportError:
        from backports import zstd

    decompressor = zstd.ZstdDecompressor()
    try:
        while chunk := entry.read(_CHUNK):
            # Bounded output per call, so a small input cannot fill the memory.
            yield decompressor.decompress(chunk, max_length=_CHUNK)
            while decompressor.needs_input is False and not decompressor.eof:
                yield decompressor.decompress(b"", max_length=_CHUNK)
    except zstd.ZstdError as error:
        raise ExportFormatError(
            f"the package's collection is damaged: {error}", Location(path, 1), _REMEDY
        ) from error


def _read_collection(
    database: Path,
) -> tuple[tuple[PackageNote, ...], dict[int, NoteType]]:
    uri = f"{database.as_uri()}?mode=ro"
    connection = sqlite3.connect(uri, uri=True)
    try:
        tables = {
            row[0] for row in connection.execute("SELECT name FROM sqlite_master")
        }
        if "notetypes" in tables:
            note_types = _note_types_18(connection)
            decks = {
                deck_id: name.replace("\x1f", "::")
                for deck_id, name in connection.execute("SELECT id, name FROM decks")
            }
        else:
            models, deck_json = connection.execute(
                "SELECT models, decks FROM col"
            ).fetchone()
            note_types = _note_types_11(json.loads(models))
            decks = {
                int(key): deck["name"] for key, deck in json.loads(deck_json).items()
            }
        return _notes(connection, decks), note_types
    finally:
        connection.close()


def _notes(
    connection: sqlite3.Connection, decks: dict[int, str]
) -> tuple[PackageNote, ...]:
    # A note has no deck of its own; its first card's (home) deck stands for it.
    homes: dict[int, int] = {}
    for note_id, deck_id, original in connection.execute(
        "SELECT nid, did, odid FROM cards ORDER BY nid, ord"
    ):
        homes.setdefault(note_id, original or deck_id)
    notes = []
    for note_id, guid, model, tags, fields in connection.execute(
        "SELECT id, guid, mid, tags, flds FROM notes ORDER BY id"
    ):
        notes.append(
            PackageNote(
                id=note_id,
                guid=guid,
                note_type=model,
                fields=tuple(fields.split("\x1f")),
                tags=tuple(tags.split()),
                deck=decks.get(homes.get(note_id, 1), "Default"),
            )
        )
    return tuple(notes)


def _note_types_18(connection: sqlite3.Connection) -> dict[int, NoteType]:
    fields: dict[int, list[str]] = {}
    for note_type, name in connection.execute(
        "SELECT ntid, name FROM fields ORDER BY ntid, ord"
    ):
        fields.setdefault(note_type, []).append(name)
    templates: dict[int, list[Template]] = {}
    for note_type, name, config in connection.execute(
        "SELECT ntid, name, config FROM templates ORDER BY ntid, ord"
    ):
        message = _protobuf(config)
        front, back = (_text(message, number) for number in (1, 2))
        templates.setdefault(note_type, []).append(Template(name, front, back))
    types = {}
    for note_type, name, config in connection.execute(
        "SELECT id, name, config FROM notetypes"
    ):
        message = _protobuf(config)
        types[note_type] = NoteType(
            path=Path(name),
            id=note_type,
            name=name,
            cloze=_number(message, 1) == 1,
            fields=tuple(fields.get(note_type, ())),
            templates=tuple(templates.get(note_type, ())),
            css=strip_code_colours(_text(message, 3)),
            sort_field=_number(message, 2),
        )
    return types


def _note_types_11(models: dict[str, Any]) -> dict[int, NoteType]:
    types = {}
    for model in models.values():
        fields = sorted(model["flds"], key=lambda field: field["ord"])
        templates = sorted(model["tmpls"], key=lambda template: template["ord"])
        types[int(model["id"])] = NoteType(
            path=Path(model["name"]),
            id=int(model["id"]),
            name=model["name"],
            cloze=model.get("type", 0) == 1,
            fields=tuple(field["name"] for field in fields),
            templates=tuple(
                Template(t["name"], t["qfmt"], t["afmt"]) for t in templates
            ),
            css=strip_code_colours(model.get("css", "")),
            sort_field=int(model.get("sortf", 0)),
        )
    return types


def strip_code_colours(css: str) -> str:
    """Return a note type's CSS without the code colours deckbuilder added to it."""
    from deckbuilder.package import CODE_CSS_END, CODE_CSS_START

    start = css.find(CODE_CSS_START)
    end = css.find(CODE_CSS_END, start)
    if start < 0 or end < 0:
        return css
    return (
        css[:start].rstrip() + "\n" + css[end + len(CODE_CSS_END) :].lstrip()
    ).strip()


def _media(
    archive: zipfile.ZipFile, compressed: bool, path: Path
) -> dict[str, Callable[[], bytes]]:
    try:
        index = archive.read("media")
    except KeyError:
        return {}
    if compressed:
        entries = _media_entries(b"".join(_decompressed(io.BytesIO(index), path)))
    else:
        entries = {str(key): name for key, name in json.loads(index or b"{}").items()}
    media: dict[str, Callable[[], bytes]] = {}
    for entry, name in entries.items():
        if not isinstance(name, str) or not _plain_name(name):
            raise ExportFormatError(
                f"the package's media file {name!r} would be written outside the "
                "media folder",
                Location(path, 1),
                "this is not a package Anki wrote; nothing was imported",
            )
        media[name] = _reader(entry, compressed, path)
    return media


def _plain_name(name: str) -> bool:
    return (
        bool(name)
        and name not in (".", "..")
        and not any(
            char in "/\\" or ord(char) < 32 or ord(char) == 127 for char in name
        )
    )


def _reader(entry: str, compressed: bool, path: Path) -> Callable[[], bytes]:
    # The package is opened again for each file, so the files can be read one at a
    # time after the import has read the notes, without holding them all.
    def read() -> bytes:
        try:
            with zipfile.ZipFile(path) as archive, archive.open(entry) as stream:
                chunks = (
                    _decompressed(stream, path)
                    if compressed
                    else iter(lambda: stream.read(_CHUNK), b"")
                )
                return _bounded(chunks, entry, path)
        except (OSError, zipfile.BadZipFile) as error:
            raise ExportFormatError(
                f"the package's media file {entry} cannot be read: {error}",
                Location(path, 1),
                _REMEDY,
            ) from error
        except KeyError:
            raise ExportFormatError(
                f"the package lists media entry {entry} but does not hold it",
                Location(path, 1),
                _REMEDY,
            ) from None

    return read


def _bounded(chunks: Iterator[bytes], entry: str, path: Path) -> bytes:
    # A small package may unpack to gigabytes; no media file Anki syncs comes near
    # the limit, so one over it is refused before it fills the memory.
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) > _MEDIA_LIMIT:
            raise ExportFormatError(
                f"the package's media file {entry} is larger than "
                f"{_MEDIA_LIMIT >> 20} MiB",
                Location(path, 1),
                "this is not a package Anki wrote for sharing; nothing was imported",
            )
    return bytes(data)


def _media_entries(index: bytes) -> dict[str, str]:
    # MediaEntries { repeated MediaEntry entries = 1; } and MediaEntry { string name
    # = 1; ...; uint32 legacy_zip_filename = 255; }: the n-th entry is stored under
    # the zip name "n" unless it says otherwise.
    entries = {}
    for number, raw in enumerate(_protobuf(index).get(1, [])):
        assert isinstance(raw, bytes)
        entry = _protobuf(raw)
        legacy = entry.get(255)
        key = str(legacy[0]) if legacy else str(number)
        entries[key] = _text(entry, 1)
    return entries


def _protobuf(data: bytes) -> dict[int, list[int | bytes]]:
    """Return a protocol buffer message's fields by number: varints and bytes.

    Just the wire format, enough for the few settings an import reads; fixed-width
    fields are skipped.
    """
    fields: dict[int, list[int | bytes]] = {}
    offset = 0
    while offset < len(data):
        key, offset = _varint(data, offset)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, offset = _varint(data, offset)
        elif wire == 2:
            size, offset = _varint(data, offset)
            value, offset = data[offset : offset + size], offset + size
        elif wire in (1, 5):
            offset += 8 if wire == 1 else 4
            continue
        else:
            raise ValueError(f"unsupported protocol buffer wire type {wire}")
        fields.setdefault(number, []).append(value)
    if offset != len(data):
        raise ValueError("truncated protocol buffer")
    return fields


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if offset >= len(data):
            raise ValueError("truncated protocol buffer")
        byte = data[offset]
        offset += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, offset
        shift += 7


def _text(message: dict[int, list[int | bytes]], number: int) -> str:
    values = message.get(number)
    if not values:
        return ""
    value = values[-1]
    if not isinstance(value, bytes):
        raise ValueError(f"field {number} is not text")
    return value.decode("utf-8")


def _number(message: dict[int, list[int | bytes]], number: int) -> int:
    values = message.get(number)
    if not values:
        return 0
    value = values[-1]
    if not isinstance(value, int):
        raise ValueError(f"field {number} is not a number")
    return value
