"""Write rendered notes into Anki packages; the only module that imports genanki."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deckbuilder.errors import PackageError
from deckbuilder.model import Location

# Fixed forever: Anki matches note types by id, so changing one would make every
# existing user's notes belong to a different note type on the next import.
_MODEL_IDS = {"basic": 1_734_200_001, "reversed": 1_734_200_002}
_MODEL_NAMES = {"basic": "deckbuilder Basic", "reversed": "deckbuilder Reversed"}
_FIELDS = ("Front", "Back", "Source")
_ZIP_EPOCH = 315_532_800  # 1980-01-01, the earliest time a zip entry can hold

_FRONT = '<div class="card-front">{{Front}}</div>'
_BACK = (
    '{{FrontSide}}\n<hr id="answer">\n<div class="card-back">{{Back}}</div>\n'
    '<div class="source">{{Source}}</div>'
)
_REVERSE_FRONT = '<div class="card-back">{{Back}}</div>'
_REVERSE_BACK = (
    '{{FrontSide}}\n<hr id="answer">\n<div class="card-front">{{Front}}</div>\n'
    '<div class="source">{{Source}}</div>'
)


@dataclass(frozen=True)
class Note:
    """A card ready for Anki: rendered fields plus identity and placement."""

    card_id: str
    deck: str
    note_type: str
    front: str
    back: str
    location: Location
    tags: tuple[str, ...]

    @property
    def source(self) -> str:
        """Return where the card came from, as `cards/gans.md:23`."""
        return f"{self.location.path.as_posix()}:{self.location.line}"


def note_guid(card_id: str) -> str:
    """Return the Anki GUID of a card id; it never depends on the card's text."""
    import genanki

    guid: str = genanki.guid_for("deckbuilder", card_id)
    return guid


def deck_id(name: str) -> int:
    """Return a stable deck id derived from the deck's full name."""
    digest = hashlib.sha256(f"deckbuilder deck\x1f{name}".encode()).digest()
    # Anki keeps ids in a signed 64-bit column; stay well inside it and above the
    # ids Anki gives its own default deck.
    return (1 << 40) + int.from_bytes(digest[:5], "big")


def write_package(
    notes: Sequence[Note], path: Path, css: str, timestamp: float
) -> None:
    """Write `notes` to an `.apkg` at `path`, replacing it only when complete.

    `timestamp` becomes every note's modification time. Anki's default import updates
    an existing note only when the incoming copy is newer, so it must move forward
    whenever a source changes.
    """
    import genanki

    models = {kind: _model(kind, css) for kind in _MODEL_IDS}
    decks: dict[str, genanki.Deck] = {}
    for note in notes:
        if note.deck not in decks:
            decks[note.deck] = genanki.Deck(deck_id(note.deck), note.deck)
        decks[note.deck].add_note(
            genanki.Note(
                model=models[note.note_type],
                fields=[note.front, note.back, note.source],
                tags=list(note.tags),
                guid=note_guid(note.card_id),
            )
        )
    package = genanki.Package([decks[name] for name in sorted(decks)])
    _write_atomically(package, path, timestamp)


def _model(kind: str, css: str) -> object:
    import genanki

    templates = [{"name": "Card 1", "qfmt": _FRONT, "afmt": _BACK}]
    if kind == "reversed":
        templates.append(
            {"name": "Card 2", "qfmt": _REVERSE_FRONT, "afmt": _REVERSE_BACK}
        )
    return genanki.Model(
        _MODEL_IDS[kind],
        _MODEL_NAMES[kind],
        fields=[{"name": name} for name in _FIELDS],
        templates=templates,
        css=css,
    )


def _fix_zip_times(path: Path, timestamp: float) -> None:
    # genanki stamps zip entries with the wall clock; rewrite them with the build's
    # timestamp so that the same sources give a byte-identical package.
    stamp = time.gmtime(max(timestamp, _ZIP_EPOCH))[:6]
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w") as target:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = 0o644 << 16
            target.writestr(info, data)


def _write_atomically(package: object, path: Path, timestamp: float) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        os.close(handle)
    except OSError as error:
        raise PackageError(
            f"cannot write to {path.parent}: {error.strerror}",
            Location(path, 1),
            "choose an output folder you can write to with --out",
        ) from error
    try:
        package.write_to_file(temporary, timestamp=timestamp)  # type: ignore[attr-defined]
        _fix_zip_times(Path(temporary), timestamp)
        os.replace(temporary, path)
    except OSError as error:
        raise PackageError(
            f"cannot write package: {error.strerror}",
            Location(path, 1),
            "check the free disk space and the output folder's permissions",
        ) from error
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
