"""Writing packages: nothing left behind, the same notes give the same bytes, and
the notes are read one at a time into the collection genanki would write."""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import genanki
import pytest
from helpers import read_apkg_notes

from deckbuilder import package
from deckbuilder.errors import SourceError
from deckbuilder.model import Location
from deckbuilder.notetypes import NoteType, Template
from deckbuilder.package import Note, stage_package


def notes(tmp_path: Path) -> list[Note]:
    return [
        Note(
            card_id=f"card-{number}",
            deck="Deck::Sub" if number % 2 else "Deck",
            note_type="basic",
            front=f"<p>Question {number}</p>",
            back=f"<p>Answer {number}</p>",
            location=Location(tmp_path / "cards.md", number + 1),
            tags=("tag",),
        )
        for number in range(5)
    ]


def stage_notes(notes: Sequence[Note], path: Path, css: str, timestamp: float) -> Path:
    return stage_package(notes, path, css, timestamp, read=lambda note: note)


@pytest.mark.parametrize("in_memory", [True, False])
def test_writing_leaves_nothing_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setattr(package, "_IN_MEMORY", 1000 if in_memory else 0)

    staged = stage_notes(notes(tmp_path), tmp_path / "out" / "d.apkg", "", 1e9)

    assert staged.parent == tmp_path / "out"
    assert list(temporary.iterdir()) == []


@pytest.mark.parametrize("in_memory", [True, False])
def test_the_same_notes_give_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    monkeypatch.setattr(package, "_IN_MEMORY", 1000 if in_memory else 0)
    first = stage_notes(notes(tmp_path), tmp_path / "a.apkg", "css", 1.7e9)
    second = stage_notes(notes(tmp_path), tmp_path / "b.apkg", "css", 1.7e9)

    assert first.read_bytes() == second.read_bytes()


def test_a_large_package_holds_what_a_small_one_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Packages of more than _IN_MEMORY notes are built in a temporary file.
    in_memory = stage_notes(notes(tmp_path), tmp_path / "a.apkg", "css", 1.7e9)
    monkeypatch.setattr(package, "_IN_MEMORY", 0)
    in_a_file = stage_notes(notes(tmp_path), tmp_path / "b.apkg", "css", 1.7e9)

    assert read_apkg_notes(in_a_file, tmp_path) == read_apkg_notes(in_memory, tmp_path)
    assert len(read_apkg_notes(in_memory, tmp_path)) == 5


def mixed_notes(tmp_path: Path) -> list[Note]:
    """Notes of three decks, met out of their sorted order, and of four note types,
    two of them used in more than one deck."""
    vocabulary = NoteType(
        path=tmp_path / "vocabulary.yaml",
        id=1_800_000_001,
        name="Vocabulary",
        cloze=False,
        fields=("Word", "Meaning", "Note"),
        templates=(Template("Card 1", "{{Word}}", "{{Meaning}}<br>{{Note}}"),),
    )
    kinds: list[tuple[str, str, dict[str, Any]]] = [
        ("Zoology", "basic", {}),
        ("Algebra", "cloze", {"front": "<p>{{c1::Paris}} is in {{c2::France}}</p>"}),
        ("Zoology", "reversed", {}),
        ("Default", "type-in", {"back": "42", "extra": "<p>the answer</p>"}),
        ("Algebra", "basic", {}),
        ("Zoology", "basic", {"anki_note_type": vocabulary, "fields": ("a", "b", "")}),
        ("Algebra", "type-in", {"back": "x"}),
        ("Zoology", "basic", {"tags": ("two", "tags")}),
    ]
    notes = []
    for number, (deck, note_type, changes) in enumerate(kinds):
        note = Note(
            card_id=f"card-{number}",
            deck=deck,
            note_type=note_type,
            front=f"<p>Question {number}</p>",
            back=f"<p>Answer {number}</p>",
            location=Location(tmp_path / "cards.md", 10 * number + 1),
            tags=("tag",),
        )
        notes.append(dataclasses.replace(note, **changes))
    return notes


def genanki_collection(notes: Sequence[Note], css: str, timestamp: float) -> bytes:
    """Return the collection genanki writes for `notes`, every one added to its deck
    first; the notes and note types are made as deckbuilder makes them."""
    models = package._models(css)
    for note in notes:
        if note.anki_note_type is not None:
            models[note.anki_note_type.path] = package._anki_model(note.anki_note_type)
    decks: dict[str, genanki.Deck] = {}
    for note in notes:
        if note.deck not in decks:
            decks[note.deck] = genanki.Deck(package.deck_id(note.deck), note.deck)
        decks[note.deck].add_note(package._genanki_note(note, models))
    connection = sqlite3.connect(":memory:")
    ids = itertools.count(int(timestamp * 1000))
    in_order = genanki.Package([decks[name] for name in sorted(decks)])
    in_order.write_to_db(connection.cursor(), timestamp, ids)
    connection.commit()
    return connection.serialize()


def rows(collection: bytes) -> dict[str, list[tuple[object, ...]]]:
    """Return the col row and the notes and cards of a collection, in id order."""
    connection = sqlite3.connect(":memory:")
    connection.deserialize(collection)
    return {
        "col": connection.execute("SELECT * FROM col").fetchall(),
        "notes": connection.execute("SELECT * FROM notes ORDER BY id").fetchall(),
        "cards": connection.execute("SELECT * FROM cards ORDER BY id").fetchall(),
    }


@pytest.mark.parametrize("in_memory", [True, False])
def test_the_collection_is_the_one_genanki_writes_for_the_same_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    monkeypatch.setattr(package, "_IN_MEMORY", 1000 if in_memory else 0)
    expected = rows(genanki_collection(mixed_notes(tmp_path), "css", 1.7e9))

    written = stage_notes(mixed_notes(tmp_path), tmp_path / "a.apkg", "css", 1.7e9)

    with zipfile.ZipFile(written) as archive:
        collection = rows(archive.read("collection.anki2"))
    # The col row holds the decks' and the note types' JSON as text: each note
    # type names the last deck, in sorted order, that has a note of its type.
    assert collection == expected
    assert len(collection["notes"]) == 8
    assert len(collection["cards"]) == 10  # two clozes, and a reversed card's two


def test_notes_are_read_one_at_a_time_as_they_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    write_to_db = genanki.Note.write_to_db

    def recorded(note: genanki.Note, *args: object) -> None:
        events.append(("write", note.guid))
        write_to_db(note, *args)

    monkeypatch.setattr(genanki.Note, "write_to_db", recorded)

    def read(note: Note) -> Note:
        events.append(("read", package.note_guid(note.card_id)))
        return note

    notes = mixed_notes(tmp_path)
    stage_package(notes, tmp_path / "a.apkg", "", 1.7e9, read=read)

    # Deck by deck in sorted order, each deck's notes in their order.
    in_order = sorted(notes, key=lambda note: note.deck)
    guids = [package.note_guid(note.card_id) for note in in_order]
    assert events == [(kind, guid) for guid in guids for kind in ("read", "write")]


def test_a_note_that_cannot_be_read_leaves_no_package(tmp_path: Path) -> None:
    def read(note: Note) -> Note:
        if note.card_id == "card-3":
            raise SourceError("card file changed during the build", note.location)
        return note

    with pytest.raises(SourceError, match="changed during the build"):
        stage_package(mixed_notes(tmp_path), tmp_path / "a.apkg", "", 1.7e9, read=read)

    assert list(tmp_path.iterdir()) == []


def test_genanki_is_imported_without_asyncio_and_leaves_cached_property_alone() -> None:
    # genanki's `cached_property` dependency imports asyncio, a sixth of the time
    # of a rebuild that renders one card; the package's own module stays importable.
    code = (
        "import sys; from deckbuilder import package; genanki = package._genanki(); "
        "imported = [m for m in ('asyncio', 'ssl') if m in sys.modules]; "
        "import cached_property; "
        "print(imported, hasattr(cached_property, 'threaded_cached_property'), "
        "genanki.Note.cards.__class__.__module__)"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.split() == ["[]", "True", "functools"]


def test_note_types_are_made_once_per_css_and_each_caller_gets_its_own() -> None:
    first = package._models("css")
    first["added by one package"] = object()

    second = package._models("css")

    assert "added by one package" not in second
    assert second["basic"] is first["basic"]  # genanki's `req` is worked out once
    assert package._models("other css")["basic"] is not first["basic"]
