"""Writing packages: nothing left behind, and the same notes give the same bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from helpers import read_apkg_notes

from deckbuilder import package
from deckbuilder.model import Location
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


@pytest.mark.parametrize("in_memory", [True, False])
def test_writing_leaves_nothing_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setattr(package, "_IN_MEMORY", 1000 if in_memory else 0)

    staged = stage_package(notes(tmp_path), tmp_path / "out" / "d.apkg", "", 1e9)

    assert staged.parent == tmp_path / "out"
    assert list(temporary.iterdir()) == []


@pytest.mark.parametrize("in_memory", [True, False])
def test_the_same_notes_give_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool
) -> None:
    monkeypatch.setattr(package, "_IN_MEMORY", 1000 if in_memory else 0)
    first = stage_package(notes(tmp_path), tmp_path / "a.apkg", "css", 1.7e9)
    second = stage_package(notes(tmp_path), tmp_path / "b.apkg", "css", 1.7e9)

    assert first.read_bytes() == second.read_bytes()


def test_a_large_package_holds_what_a_small_one_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Packages of more than _IN_MEMORY notes are built in a temporary file.
    in_memory = stage_package(notes(tmp_path), tmp_path / "a.apkg", "css", 1.7e9)
    monkeypatch.setattr(package, "_IN_MEMORY", 0)
    in_a_file = stage_package(notes(tmp_path), tmp_path / "b.apkg", "css", 1.7e9)

    assert read_apkg_notes(in_a_file, tmp_path) == read_apkg_notes(in_memory, tmp_path)
    assert len(read_apkg_notes(in_memory, tmp_path)) == 5
