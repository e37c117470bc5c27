"""End to end: build packages and let Anki's own importer judge them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from helpers import (
    collection_notes,
    import_apkg,
    new_collection,
    note_type_css,
    read_apkg_notes,
)

from deckbuilder import Options, build

ROOT = Path(__file__).resolve().parent.parent
GANS = ROOT / "cards" / "gans.md"


@pytest.fixture
def gans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's GAN deck and its helper modules in a new project."""
    (tmp_path / "cards").mkdir()
    shutil.copy(GANS, tmp_path / "cards" / "gans.md")
    shutil.copytree(ROOT / "code_snippets", tmp_path / "code_snippets")
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "cards" / "gans.md"


def test_gan_deck_imports_into_anki_with_eight_complete_cards(
    gans: Path, tmp_path: Path
) -> None:
    report = build([Path("cards")], Options())

    notes = read_apkg_notes(Path("build/gans.apkg"), tmp_path)
    assert report.packages == ["build/gans.apkg"]
    assert report.incomplete == 3
    assert len(notes) == 8
    assert {note.decks for note in notes} == {("GANs",)}
    assert {note.note_type for note in notes} == {"deckbuilder"}
    fronts = [note.fields["Front"] for note in notes]
    assert "Cool uses for GANS" in fronts[0]
    assert not any("Generator Inputs in TF" in front for front in fronts)
    assert all(note.fields["Source"].startswith("cards/gans.md:") for note in notes)
    assert all("gans" in note.tags for note in notes)


def test_code_is_highlighted_and_css_is_in_the_note_type(
    gans: Path, tmp_path: Path
) -> None:
    build([Path("cards")], Options())
    col = new_collection(tmp_path)
    import_apkg(col, Path("build/gans.apkg"))

    backs = [note.fields["Back"] for note in collection_notes(col)]
    css = note_type_css(col, "deckbuilder")
    col.close()
    code = next(back for back in backs if "feed_dict" in back)
    assert '<span class="' in code
    assert "feed_dict" in code
    assert ".nightMode" in css and ".night_mode" in css
    assert "overflow-x: auto" in css


def test_edited_answer_updates_the_note_in_place(gans: Path, tmp_path: Path) -> None:
    build([Path("cards")], Options())
    col = new_collection(tmp_path)
    first = import_apkg(col, Path("build/gans.apkg"))
    before = {note.guid: note for note in collection_notes(col)}
    text = gans.read_text()
    assert "This is unsupervised learning." in text
    gans.write_text(text.replace("This is unsupervised learning.", "Edited answer."))
    # An edit moves the file's modification time forward; make that visible at the
    # one-second resolution of Anki's note times without sleeping.
    stat = gans.stat()
    os.utime(gans, (stat.st_atime, stat.st_mtime + 5))

    build([Path("cards")], Options())
    second = import_apkg(col, Path("build/gans.apkg"))

    after = {note.guid: note for note in collection_notes(col)}
    col.close()
    assert (first.new, second.new) == (8, 0)
    assert second.updated == 8
    assert after.keys() == before.keys()
    edited = [g for g in after if "Edited answer." in after[g].fields["Back"]]
    assert len(edited) == 1
    assert "unsupervised" not in after[edited[0]].fields["Back"]
    assert after[edited[0]].mod > before[edited[0]].mod


def test_source_date_epoch_fixes_note_times(gans: Path, tmp_path: Path) -> None:
    build([Path("cards")], Options(source_date_epoch=1_700_000_000))

    notes = read_apkg_notes(Path("build/gans.apkg"), tmp_path)

    assert {note.mod for note in notes} == {1_700_000_000}


def test_include_incomplete_ships_marked_and_tagged_cards(
    gans: Path, tmp_path: Path
) -> None:
    build([Path("cards")], Options(include_incomplete=True))

    notes = read_apkg_notes(Path("build/gans.apkg"), tmp_path)

    incomplete = [note for note in notes if "incomplete" in note.tags]
    assert len(notes) == 11
    assert len(incomplete) == 3
    for note in incomplete:
        assert "Incomplete card" in note.fields["Front"]
        assert note.card_count == 1


def test_same_sources_give_a_byte_identical_package(gans: Path) -> None:
    build([Path("cards")], Options())
    first = Path("build/gans.apkg").read_bytes()
    Path("build/gans.apkg").unlink()

    build([Path("cards")], Options())

    assert Path("build/gans.apkg").read_bytes() == first


def test_switching_a_card_to_reversed_updates_it_and_adds_the_reverse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    card = tmp_path / "cards" / "words.md"
    card.parent.mkdir()
    card.write_text("## Hund\n<!-- id: hund -->\n\ndog\n")
    build([Path("cards")], Options(source_date_epoch=1_700_000_000))
    col = new_collection(tmp_path)
    import_apkg(col, Path("build/words.apkg"))

    card.write_text("## Hund\n<!-- id: hund; type: reversed -->\n\nthe dog\n")
    build([Path("cards")], Options(source_date_epoch=1_700_000_100))
    summary = import_apkg(col, Path("build/words.apkg"))

    [note] = collection_notes(col)
    col.close()
    assert (summary.new, summary.updated, summary.conflicting) == (0, 1, 0)
    assert note.card_count == 2
    assert "the dog" in note.fields["Back"]
