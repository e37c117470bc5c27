"""The Anki helpers judge a small package built with genanki right here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import genanki  # type: ignore[import-untyped]
import pytest
from anki.collection import Collection, ImportAnkiPackageOptions
from helpers import (
    ImportSummary,
    NoteView,
    answer_all_cards,
    collection_notes,
    import_apkg,
    new_collection,
    note_card_ids,
    note_type_css,
    read_apkg_notes,
    render_card,
    review_log_count,
)

BUILT_AT = 1_700_000_000
LATER = BUILT_AT + 60
CSS = ".card { font-family: serif; }"


def _build(
    path: Path,
    *,
    timestamp: int,
    answer: str = "4",
    deck: str = "Throwaway::Helpers",
    fields: tuple[str, ...] = ("Front", "Back"),
) -> Path:
    # genanki stamps notes and the note type with `timestamp` (time.time() if None),
    # so an explicit one stands in for waiting between builds.
    model = genanki.Model(
        1_391_000_001,
        "Throwaway",
        fields=[{"name": name} for name in fields],
        templates=[
            {
                "name": "Card 1",
                "qfmt": "{{Front}}",
                "afmt": "{{FrontSide}}<hr id=answer>{{Back}}",
            }
        ],
        css=CSS,
    )
    padding = [""] * (len(fields) - 2)
    package_deck = genanki.Deck(1_391_000_002, deck)
    package_deck.add_note(
        genanki.Note(
            model=model,
            fields=["What is 2 + 2?", answer, *padding],
            tags=["basics", "arith"],
            guid="helpers-1",
        )
    )
    package_deck.add_note(
        genanki.Note(
            model=model,
            fields=["Capital of France?", "<b>Paris</b>", *padding],
            guid="helpers-2",
        )
    )
    genanki.Package(package_deck).write_to_file(str(path), timestamp=timestamp)
    return path


@pytest.fixture
def col(tmp_path: Path) -> Iterator[Collection]:
    collection = new_collection(tmp_path)
    yield collection
    collection.close()


def test_read_apkg_notes_sees_what_anki_imported(tmp_path: Path) -> None:
    package = _build(tmp_path / "deck.apkg", timestamp=BUILT_AT)

    notes = read_apkg_notes(package, tmp_path)

    assert notes == [
        NoteView(
            guid="helpers-1",
            note_type="Throwaway",
            fields={"Front": "What is 2 + 2?", "Back": "4"},
            tags=("arith", "basics"),
            decks=("Throwaway::Helpers",),
            card_count=1,
            mod=BUILT_AT,
        ),
        NoteView(
            guid="helpers-2",
            note_type="Throwaway",
            fields={"Front": "Capital of France?", "Back": "<b>Paris</b>"},
            tags=(),
            decks=("Throwaway::Helpers",),
            card_count=1,
            mod=BUILT_AT,
        ),
    ]


def test_first_import_counts_new_notes_and_keeps_css(
    col: Collection, tmp_path: Path
) -> None:
    package = _build(tmp_path / "deck.apkg", timestamp=BUILT_AT)

    summary = import_apkg(col, package)

    assert summary == ImportSummary(
        found=2,
        new=2,
        updated=0,
        duplicate=0,
        conflicting=0,
        first_field_match=0,
        missing_notetype=0,
        missing_deck=0,
        empty_first_field=0,
    )
    assert note_type_css(col, "Throwaway") == CSS


def test_note_type_css_names_a_missing_note_type(col: Collection) -> None:
    with pytest.raises(LookupError, match="'Nope'"):
        note_type_css(col, "Nope")


def test_default_options_are_a_fresh_collections_presets(col: Collection) -> None:
    # The desktop import dialog starts from these presets.
    presets = col._backend.get_import_anki_package_presets()

    assert presets == ImportAnkiPackageOptions()


def test_render_card_uses_anki_templates(col: Collection, tmp_path: Path) -> None:
    import_apkg(col, _build(tmp_path / "deck.apkg", timestamp=BUILT_AT))
    (card_id,) = note_card_ids(col, "helpers-2")

    question, answer = render_card(col, card_id)

    assert question == "Capital of France?"
    assert answer == "Capital of France?<hr id=answer><b>Paris</b>"


def test_newer_package_updates_notes_in_place(col: Collection, tmp_path: Path) -> None:
    import_apkg(col, _build(tmp_path / "old.apkg", timestamp=BUILT_AT))
    newer = _build(tmp_path / "new.apkg", timestamp=LATER, answer="four")

    summary = import_apkg(col, newer)

    # Every note of the rebuild carries the later mod time, edited or not.
    assert (summary.new, summary.updated, summary.duplicate) == (0, 2, 0)
    notes = collection_notes(col)
    assert [note.guid for note in notes] == ["helpers-1", "helpers-2"]
    assert notes[0].fields == {"Front": "What is 2 + 2?", "Back": "four"}
    assert [note.mod for note in notes] == [LATER, LATER]


def test_same_mod_time_leaves_notes_alone(col: Collection, tmp_path: Path) -> None:
    import_apkg(col, _build(tmp_path / "old.apkg", timestamp=BUILT_AT))
    same_time = _build(tmp_path / "new.apkg", timestamp=BUILT_AT, answer="four")

    summary = import_apkg(col, same_time)

    assert (summary.new, summary.updated, summary.duplicate) == (0, 0, 2)
    assert collection_notes(col)[0].fields["Back"] == "4"


def test_older_package_leaves_notes_alone(col: Collection, tmp_path: Path) -> None:
    import_apkg(col, _build(tmp_path / "new.apkg", timestamp=LATER, answer="four"))
    older = _build(tmp_path / "old.apkg", timestamp=BUILT_AT)

    summary = import_apkg(col, older)

    assert (summary.new, summary.updated, summary.duplicate) == (0, 0, 2)
    assert collection_notes(col)[0].fields["Back"] == "four"


def test_changed_fields_make_existing_notes_conflict(
    col: Collection, tmp_path: Path
) -> None:
    import_apkg(col, _build(tmp_path / "old.apkg", timestamp=BUILT_AT))
    extra_field = _build(
        tmp_path / "new.apkg",
        timestamp=LATER,
        answer="four",
        fields=("Front", "Back", "Extra"),
    )

    summary = import_apkg(col, extra_field)

    assert (summary.new, summary.updated, summary.conflicting) == (0, 0, 2)
    notes = collection_notes(col)
    assert [(note.note_type, note.fields["Back"]) for note in notes] == [
        ("Throwaway", "4"),
        ("Throwaway", "<b>Paris</b>"),
    ]


def test_update_leaves_cards_in_their_deck(col: Collection, tmp_path: Path) -> None:
    import_apkg(col, _build(tmp_path / "old.apkg", timestamp=BUILT_AT))
    moved = _build(tmp_path / "new.apkg", timestamp=LATER, deck="Elsewhere")

    summary = import_apkg(col, moved)

    assert summary.updated == 2
    assert [note.decks for note in collection_notes(col)] == [
        ("Throwaway::Helpers",),
        ("Throwaway::Helpers",),
    ]


def test_review_history_survives_reimport(col: Collection, tmp_path: Path) -> None:
    import_apkg(col, _build(tmp_path / "old.apkg", timestamp=BUILT_AT))
    assert answer_all_cards(col) == 2
    assert review_log_count(col) == 2
    newer = _build(tmp_path / "new.apkg", timestamp=LATER, answer="four")

    summary = import_apkg(col, newer)

    assert summary.updated == 2
    assert review_log_count(col) == 2
    assert [note.card_count for note in collection_notes(col)] == [1, 1]
    assert list(col.find_cards("is:new")) == []
