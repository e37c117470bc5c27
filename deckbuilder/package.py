"""Write rendered notes into Anki packages; the only module that imports genanki."""

from __future__ import annotations

import hashlib
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deckbuilder.files import stage
from deckbuilder.model import Location

# Fixed forever: Anki matches note types by id, and updates an existing note only when
# the incoming note has the same note type with the same fields. So `basic` and
# `reversed` cards share one note type, the reverse card generated only when the
# Reverse field is filled: switching a card between them updates it in place.
MODEL_ID = 1_734_200_001
MODEL_NAME = "deckbuilder"
_FIELDS = ("Front", "Back", "Source", "Reverse")
_ZIP_EPOCH = 315_532_800  # 1980-01-01, the earliest time a zip entry can hold

_FRONT = '<div class="card-front">{{Front}}</div>'
_BACK = (
    '{{FrontSide}}\n<hr id="answer">\n<div class="card-back">{{Back}}</div>\n'
    '<div class="source">{{Source}}</div>'
)
_REVERSE_FRONT = '{{#Reverse}}<div class="card-back">{{Back}}</div>{{/Reverse}}'
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


def stage_package(
    notes: Sequence[Note], path: Path, css: str, timestamp: float
) -> Path:
    """Write `notes` to a temporary `.apkg` beside `path` and return it.

    The caller commits it with `files.commit` once every package of the build is
    staged, so that a failed build leaves the previous packages as they were.

    `timestamp` becomes every note's modification time. Anki's default import updates
    an existing note only when the incoming copy is newer, so it must move forward
    whenever a source changes.
    """
    import genanki

    model = _model(css)
    decks: dict[str, genanki.Deck] = {}
    for note in notes:
        if note.deck not in decks:
            decks[note.deck] = genanki.Deck(deck_id(note.deck), note.deck)
        decks[note.deck].add_note(
            genanki.Note(
                model=model,
                fields=[
                    note.front,
                    note.back,
                    note.source,
                    "y" if note.note_type == "reversed" else "",
                ],
                tags=list(note.tags),
                guid=note_guid(note.card_id),
            )
        )
    package = genanki.Package([decks[name] for name in sorted(decks)])
    return stage(path, lambda staged: _write(package, staged, timestamp))


def _model(css: str) -> object:
    import genanki

    return genanki.Model(
        MODEL_ID,
        MODEL_NAME,
        fields=[{"name": name} for name in _FIELDS],
        templates=[
            {"name": "Card 1", "qfmt": _FRONT, "afmt": _BACK},
            {"name": "Card 2", "qfmt": _REVERSE_FRONT, "afmt": _REVERSE_BACK},
        ],
        css=css,
    )


def _write(package: object, path: Path, timestamp: float) -> None:
    package.write_to_file(str(path), timestamp=timestamp)  # type: ignore[attr-defined]
    _fix_zip_times(path, timestamp)


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
