"""Writing packages: nothing left behind, and the same notes give the same bytes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

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


def test_writing_leaves_nothing_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))

    staged = stage_package(notes(tmp_path), tmp_path / "out" / "d.apkg", "", 1e9)

    assert staged.parent == tmp_path / "out"
    assert list(temporary.iterdir()) == []


def test_the_same_notes_give_the_same_bytes(tmp_path: Path) -> None:
    first = stage_package(notes(tmp_path), tmp_path / "a.apkg", "css", 1.7e9)
    second = stage_package(notes(tmp_path), tmp_path / "b.apkg", "css", 1.7e9)

    assert first.read_bytes() == second.read_bytes()
