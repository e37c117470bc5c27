"""Write rendered notes into Anki packages; the only module that imports genanki."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import shutil
import sqlite3
import sys
import tempfile
import time
import types
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias, TypeVar

from deckbuilder.cloze import cloze_numbers
from deckbuilder.files import stage
from deckbuilder.media import MediaFile
from deckbuilder.model import Location
from deckbuilder.notetypes import NoteType

# Fixed forever: Anki matches note types by id, and updates an existing note only when
# the incoming note has the same note type with the same fields and templates. So
# `basic` and `reversed` cards share one note type, the reverse card generated only
# when the Reverse field is filled: switching a card between them updates it in
# place. A new kind of card gets a note type of its own; existing ones never change.
MODEL_ID = 1_734_200_001
MODEL_NAME = "deckbuilder"
CLOZE_MODEL_ID = 1_734_200_002
CLOZE_MODEL_NAME = "deckbuilder cloze"
TYPE_IN_MODEL_ID = 1_734_200_003
TYPE_IN_MODEL_NAME = "deckbuilder type-in"
_DEFAULT_DECK = "Default"
_DEFAULT_DECK_ID = 1
_ZIP_EPOCH = 315_532_800  # 1980-01-01, the earliest time a zip entry can hold
_IN_MEMORY = 1000
"""Most notes of a package whose collection is built in memory (about 3 MB)."""

# Every card is wrapped in an element that names its deck, so that a deck's own CSS
# (see deckcss) can apply to that deck's cards only: all decks share the note type's
# one stylesheet, and Anki marks no deck on the card itself.
_DECK = '<div class="deck" data-deck="{{Deck}}">'
_SOURCE = '<div class="source">{{Source}}</div>'
_FRONT = _DECK + '<div class="card-front">{{Front}}</div></div>'
_BACK = (
    _DECK + '{{FrontSide}}\n<hr id="answer">\n<div class="card-back">{{Back}}</div>\n'
    f"{_SOURCE}</div>"
)
# Inside the section: Anki makes the reverse card only when this renders something.
_REVERSE_FRONT = (
    "{{#Reverse}}" + _DECK + '<div class="card-back">{{Back}}</div></div>{{/Reverse}}'
)
_REVERSE_BACK = (
    _DECK + '{{FrontSide}}\n<hr id="answer">\n<div class="card-front">{{Front}}</div>\n'
    f"{_SOURCE}</div>"
)
_CLOZE_FRONT = _DECK + '<div class="card-front">{{cloze:Text}}</div></div>'
_CLOZE_BACK = (
    _DECK + '<div class="card-front">{{cloze:Text}}</div>\n<hr id="answer">\n'
    '{{#Extra}}<div class="card-back">{{Extra}}</div>{{/Extra}}\n'
    f"{_SOURCE}</div>"
)
# The back shows Front rather than FrontSide: the front's answer box would repeat.
_TYPE_IN_FRONT = _DECK + '<div class="card-front">{{Front}}</div>\n{{type:Back}}</div>'
_TYPE_IN_BACK = (
    _DECK + '<div class="card-front">{{Front}}</div>\n<hr id="answer">\n{{type:Back}}\n'
    '{{#Extra}}<div class="card-back">{{Extra}}</div>{{/Extra}}\n'
    f"{_SOURCE}</div>"
)


@dataclass(frozen=True)
class Note:
    """A card ready for Anki: rendered fields plus identity and placement."""

    card_id: str
    deck: str
    note_type: str
    front: str
    """The question: the Front field, or a cloze note's Text."""
    back: str
    """The answer: the Back field (for `type-in`, the text to type), or a cloze
    note's Extra."""
    location: Location
    tags: tuple[str, ...]
    extra: str = ""
    """A `type-in` note's Extra: notes shown below the compared answer."""
    media: tuple[MediaFile, ...] = ()
    """Images and sounds the fields refer to by their names in the package."""
    css: str = ""
    """The deck's own CSS, scoped to the deck; the note type holds every deck's."""
    guid: str | None = None
    """The Anki GUID the source gives the note; else one derived from the card id."""
    anki_note_type: NoteType | None = None
    """The Anki note type file the card names; else deckbuilder's own note type."""
    fields: tuple[str, ...] = ()
    """Every field of an Anki note type's note, in the note type's order."""

    @property
    def source(self) -> str:
        """Return where the card came from, as `cards/gans.md:23`."""
        return f"{self.location.path.as_posix()}:{self.location.line}"


def _genanki() -> Any:
    """Import genanki, without the asyncio its `cached_property` dependency imports.

    That module imports asyncio (and with it ssl and subprocess: 0.04 to 0.1 s, a
    sixth of a rebuild that renders one card) for coroutine properties, which
    genanki has none of. While genanki is imported, the name stands for the
    standard library's `functools.cached_property`, which does all genanki asks:
    a value worked out on first use and kept on the instance. The package itself
    stays importable as it is by anything else.
    """
    if "genanki" in sys.modules:
        return sys.modules["genanki"]
    stand_in = "cached_property" not in sys.modules
    if stand_in:
        module = types.ModuleType("cached_property")
        module.cached_property = functools.cached_property  # type: ignore[attr-defined]
        sys.modules["cached_property"] = module
    try:
        import genanki
    finally:
        if stand_in:
            del sys.modules["cached_property"]
    return genanki


def note_guid(card_id: str) -> str:
    """Return the Anki GUID of a card id; it never depends on the card's text."""
    genanki = _genanki()

    guid: str = genanki.guid_for("deckbuilder", card_id)
    return guid


def deck_id(name: str) -> int:
    """Return a stable deck id derived from the deck's full name."""
    if name.casefold() == _DEFAULT_DECK.casefold():
        # genanki writes Anki's own `Default` deck (id 1) into every package; a second
        # deck of that name would be imported as `Default_`. Sharing its id sends the
        # cards to the user's Default deck, as the name says.
        return _DEFAULT_DECK_ID
    digest = hashlib.sha256(f"deckbuilder deck\x1f{name}".encode()).digest()
    # Anki keeps ids in a signed 64-bit column; stay well inside it and above the
    # ids Anki gives its own default deck.
    return (1 << 40) + int.from_bytes(digest[:5], "big")


class Packed(Protocol):
    """What writing a package needs of a note before reading it: a `Note`, or a
    stand-in for one such as the cache's `Stored`."""

    @property
    def deck(self) -> str: ...
    @property
    def note_type(self) -> str: ...
    @property
    def anki_note_type(self) -> NoteType | None: ...


P = TypeVar("P", bound=Packed)

Rows: TypeAlias = Callable[[sqlite3.Cursor, Iterator[int]], dict[str, Path]]
"""Writes a package's rows into a new collection, taking note and card ids from the
iterator; returns the media files its notes show, by their names in the package."""


def stage_package(
    items: Sequence[P],
    path: Path,
    css: str,
    timestamp: float,
    *,
    read: Callable[[P], Note],
    tidy: bool = True,
) -> Path:
    """Write the notes of `items` to a temporary `.apkg` beside `path` and return it.

    `read` gives the note of an item. It is called once for each item, as its note
    is written, so that one note read back and its genanki object are held at a
    time, whatever the size of the package; the package is the one genanki writes
    for the same notes.

    The caller commits it with `files.commit` once every package of the build is
    staged, so that a failed build leaves the previous packages as they were.

    `timestamp` becomes every note's modification time. Anki's default import updates
    an existing note only when the incoming copy is newer, so it must move forward
    whenever a source changes. `tidy` is passed to `files.stage`.
    """
    genanki = _genanki()

    models = _models(css)
    for note_type in {i.anki_note_type for i in items if i.anki_note_type}:
        models[note_type.path] = _anki_model(note_type)
    decks: dict[str, Any] = {}
    placed: dict[str, list[P]] = {}
    for item in items:
        if item.deck not in decks:
            decks[item.deck] = genanki.Deck(deck_id(item.deck), item.deck)
            placed[item.deck] = []
        # What genanki's Deck.write_to_db does for each of its notes: a model's JSON
        # then names the last deck, in package order, with a note of that model.
        decks[item.deck].add_model(models[_model_key(item)])
        placed[item.deck].append(item)
    in_order = [decks[name] for name in sorted(decks)]

    def rows(cursor: sqlite3.Cursor, ids: Iterator[int]) -> dict[str, Path]:
        # genanki's Package.write_to_db, but the decks hold no notes: it writes the
        # schema, the col row, the decks and their models. The notes follow, deck
        # by deck in the same order, so their rows and ids are genanki's.
        genanki.Package(in_order).write_to_db(cursor, timestamp, ids)
        media: dict[str, Path] = {}
        for deck in in_order:
            for item in placed[deck.name]:
                note = read(item)
                # Its deck's models were chosen by its item, so it must agree; a
                # cached note that would not is rendered again (`pipeline._read`).
                assert (note.deck, _model_key(note)) == (deck.name, _model_key(item))
                media.update((file.name, file.path) for file in note.media)
                genanki_note = _genanki_note(note, models)
                genanki_note.write_to_db(cursor, timestamp, deck.deck_id, ids)
        return media

    write = functools.partial(_write, rows=rows, timestamp=timestamp, size=len(items))
    return stage(path, write, tidy=tidy)


def _model_key(note: Packed) -> object:
    """Return the key in `_models` of the note type of `note`."""
    if note.anki_note_type is not None:
        return note.anki_note_type.path
    return note.note_type if note.note_type in ("cloze", "type-in") else "basic"


def _genanki_note(note: Note, models: dict[object, object]) -> Any:
    plain, cloze = _note_classes()
    common = {"tags": list(note.tags), "guid": note.guid or note_guid(note.card_id)}
    model = models[_model_key(note)]
    if note.anki_note_type is not None:
        if note.anki_note_type.cloze:
            numbers = sorted(set(cloze_numbers("".join(note.fields))))
            return cloze(model, list(note.fields), numbers, **common)
        return plain(model=model, fields=list(note.fields), **common)
    if note.note_type == "cloze":
        fields = [note.front, note.back, note.source]
        return cloze(model, fields, cloze_numbers(note.front), **common)
    if note.note_type == "type-in":
        fields = [note.front, note.back, note.extra, note.source]
        return plain(model=model, fields=fields, **common)
    reverse = "y" if note.note_type == "reversed" else ""
    fields = [note.front, note.back, note.source, reverse]
    return plain(model=model, fields=fields, **common)


def _anki_model(note_type: NoteType) -> object:
    """Return the genanki model of an Anki note type file, as Anki has it."""
    genanki = _genanki()

    return genanki.Model(
        note_type.id,
        note_type.name,
        fields=[{"name": name} for name in note_type.fields],
        templates=[
            {"name": t.name, "qfmt": t.front, "afmt": t.back}
            for t in note_type.templates
        ],
        css=anki_css(note_type),
        model_type=(
            genanki.Model.CLOZE if note_type.cloze else genanki.Model.FRONT_BACK
        ),
        sort_field_index=note_type.sort_field,
    )


def anki_css(note_type: NoteType) -> str:
    """Return the CSS a package gives an Anki note type file's note type."""
    from deckbuilder.highlight import CODE_CLASS, code_colours

    # Anki's stock note types centre the card's text; code reads only left-aligned,
    # and scrolls sideways on a phone rather than widening the card.
    layout = f"pre.{CODE_CLASS} {{ text-align: left; overflow-x: auto; }}"
    # The note type's own styling, then the colours of highlighted code, which
    # fields rendered from Markdown use; marked so an import can take them off.
    return (
        f"{note_type.css.rstrip()}\n{CODE_CSS_START}\n{layout}\n"
        f"{code_colours()}{CODE_CSS_END}\n"
    )


CODE_CSS_START = "/* deckbuilder: code colours */"

CODE_CSS_END = "/* deckbuilder: end of code colours */"


def _models(css: str) -> dict[object, object]:
    """Return the note type of each kind of card, by kind, in a dictionary of the
    caller's own."""
    return dict(_shared_models(css))


@functools.lru_cache(maxsize=2)
def _shared_models(css: str) -> dict[object, object]:
    """Return the note types of `_models`, made once for every package of a build:
    genanki works out which fields each of a note type's cards needs by rendering
    its templates (4 ms a package). Writing a note type never changes it."""
    genanki = _genanki()

    def field_list(*names: str) -> list[dict[str, str]]:
        return [{"name": name} for name in names]

    return {
        "basic": genanki.Model(
            MODEL_ID,
            MODEL_NAME,
            fields=field_list("Front", "Back", "Source", "Reverse"),
            templates=[
                {"name": "Card 1", "qfmt": _FRONT, "afmt": _BACK},
                {"name": "Card 2", "qfmt": _REVERSE_FRONT, "afmt": _REVERSE_BACK},
            ],
            css=css,
        ),
        "cloze": genanki.Model(
            CLOZE_MODEL_ID,
            CLOZE_MODEL_NAME,
            fields=field_list("Text", "Extra", "Source"),
            templates=[{"name": "Cloze", "qfmt": _CLOZE_FRONT, "afmt": _CLOZE_BACK}],
            css=css,
            model_type=genanki.Model.CLOZE,
        ),
        "type-in": genanki.Model(
            TYPE_IN_MODEL_ID,
            TYPE_IN_MODEL_NAME,
            fields=field_list("Front", "Back", "Extra", "Source"),
            templates=[
                {"name": "Card 1", "qfmt": _TYPE_IN_FRONT, "afmt": _TYPE_IN_BACK}
            ],
            css=css,
        ),
    }


@functools.cache
def _note_classes() -> tuple[type, type]:
    """Return the genanki note classes of plain and cloze notes."""
    genanki = _genanki()

    class Note(genanki.Note):  # type: ignore[misc,name-defined]
        """A genanki note that does not look for invalid HTML in its fields.

        Raw HTML passes through by design, so genanki's warning about `<?php ... ?>`
        and the like would only reach the user's terminal; and its search of every
        field is a fifth of the time of writing a note.
        """

        @classmethod
        def _find_invalid_html_tags_in_field(cls, field: str) -> list[str]:
            return []

    class ClozeNote(Note):
        """A cloze note with one card per cloze number, nested clozes' too.

        genanki finds cloze numbers with a regular expression that misses clozes
        nested in others, and Anki's import adds only the cards a package holds.
        """

        def __init__(
            self, model: object, fields: list[str], numbers: list[int], **kwargs: object
        ) -> None:
            super().__init__(model=model, fields=fields, **kwargs)
            self._numbers = numbers

        @property
        def cards(self) -> list[object]:
            return [genanki.Card(number - 1) for number in self._numbers]

    return Note, ClozeNote


def _write(path: Path, rows: Rows, timestamp: float, size: int) -> None:
    # genanki's write_to_file builds the collection in an SQLite file that SQLite
    # syncs to disk at every commit (a quarter of a second per package on a busy disk)
    # and that is never deleted. Here the same collection is built without syncing:
    # in memory for a package of up to `_IN_MEMORY` notes (no file to make and
    # remove, a tenth of the work of a small package), else in a temporary file
    # with the journal off, so that a large bundle is not held twice in memory. It
    # is then zipped as genanki lays a package out, every entry stamped with the
    # build's time so that the same sources give the same bytes.
    stamp = time.gmtime(max(timestamp, _ZIP_EPOCH))[:6]
    with contextlib.ExitStack() as stack:
        if size <= _IN_MEMORY:
            collection: Path | bytes
            collection, media = _collection(rows, ":memory:", timestamp)
        else:
            folder = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="deckbuilder-")
            )
            collection = Path(folder, "collection.anki2")
            _, media = _collection(rows, str(collection), timestamp)
        # genanki stores a media file under its file name; sorted, so that the zip is
        # the same every time.
        names = sorted(media)
        index = json.dumps({number: name for number, name in enumerate(names)})
        with zipfile.ZipFile(path, "w") as archive:
            entry = _entry("collection.anki2", stamp)
            if isinstance(collection, bytes):
                archive.writestr(entry, collection)
            else:
                _copy(archive, collection, entry)
            archive.writestr(_entry("media", stamp), index)
            for number, name in enumerate(names):
                _copy(archive, media[name], _entry(str(number), stamp))


def _collection(
    rows: Rows, where: str, timestamp: float
) -> tuple[bytes, dict[str, Path]]:
    """Build a package's collection in the SQLite database `where`; return its
    bytes if it is in memory, and the media files its notes show."""
    connection = sqlite3.connect(where)
    try:
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA journal_mode = OFF")
        # Note and card ids count up from the time; Anki refuses an id of 0.
        ids = itertools.count(max(int(timestamp * 1000), 1))
        media = rows(connection.cursor(), ids)
        connection.commit()
        return (connection.serialize() if where == ":memory:" else b""), media
    finally:
        connection.close()


def _copy(archive: zipfile.ZipFile, source: Path, entry: zipfile.ZipInfo) -> None:
    with source.open("rb") as reading, archive.open(entry, "w") as writing:
        shutil.copyfileobj(reading, writing, 1 << 20)


def _entry(name: str, stamp: tuple[int, ...]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=stamp)  # type: ignore[arg-type]
    info.external_attr = 0o644 << 16
    return info
