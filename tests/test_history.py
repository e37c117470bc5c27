"""Edits keep history: study a deck, edit its sources, rebuild, re-import, and check
that Anki updated the notes in place without touching reviews or schedules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from anki.collection import Collection
from helpers import (
    NoteView,
    answer_all_cards,
    collection_notes,
    import_apkg,
    new_collection,
    note_card_ids,
    review_log_count,
)

from deckbuilder import Options, build
from deckbuilder.package import note_guid

STUDIED = 1_700_000_000
EDITED = STUDIED + 3600

FIRST = """---
deck: ML
tags: [ml]
---

## What does the discriminator output?
<!-- id: disc -->

The probability that its input is real.

## Hund
<!-- id: hund; type: reversed -->

dog

## The generator maps {{c1::noise}} to {{c2::images}}.
<!-- id: gen; type: cloze -->

## What shape has `np.zeros((2, 3))`?
<!-- id: shape; type-in -->

(2, 3)
""".replace("type-in -->", "type: type-in -->")

Edit = Callable[[Path], None]


def replace(old: str, new: str) -> Edit:
    def edit(cards: Path) -> None:
        path = cards / "first.md"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))

    return edit


def move_to(name: str, deck: str) -> Edit:
    """Move the `disc` card into a new file `name` whose deck is `deck`."""

    def edit(cards: Path) -> None:
        path = cards / "first.md"
        text = path.read_text()
        start = text.index("## What does the discriminator")
        end = text.index("## Hund")
        path.write_text(text[:start] + text[end:])
        (cards / name).write_text(f"---\ndeck: {deck}\n---\n\n{text[start:end]}")

    return edit


EDITS: dict[str, tuple[Edit, Callable[[NoteView], bool]]] = {
    "answer changed": (
        replace("input is real.", "input is a real image."),
        lambda note: "a real image" in note.fields["Back"],
    ),
    "question changed": (
        replace("What does the discriminator output?", "What does D output?"),
        lambda note: "What does D output?" in note.fields["Front"],
    ),
    "tags changed": (
        replace("tags: [ml]", "tags: [ml, gans::discriminator]"),
        lambda note: note.tags == ("gans::discriminator", "ml"),
    ),
    "moved to another file of the deck": (
        move_to("second.md", "ML"),
        lambda note: note.fields["Source"] == "cards/second.md:5",
    ),
    "moved to another deck": (
        move_to("other.md", "Other"),
        lambda note: note.fields["Source"] == "cards/other.md:5",
    ),
}


def schedule(col: Collection, notes: list[NoteView]) -> dict[int, tuple[int, ...]]:
    """Return every card's deck, queue, type, due, interval and review count."""
    cards = [
        col.get_card(card) for note in notes for card in note_card_ids(col, note.guid)
    ]
    return {
        card.id: (card.did, card.queue, card.type, card.due, card.ivl, card.reps)
        for card in cards
    }


@pytest.mark.parametrize("name", list(EDITS))
def test_edits_update_notes_and_keep_reviews_and_schedule(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit, updated = EDITS[name]
    monkeypatch.chdir(tmp_path)
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "first.md").write_text(FIRST)
    col = new_collection(tmp_path)
    assert not build([Path("cards")], Options(source_date_epoch=STUDIED)).errors
    import_apkg(col, Path("build/ml.apkg"))
    answered = answer_all_cards(col)
    before = collection_notes(col)
    scheduled = schedule(col, before)

    edit(cards)
    report = build([Path("cards")], Options(source_date_epoch=EDITED))
    summaries = [import_apkg(col, Path(package)) for package in report.packages]

    after = collection_notes(col)
    try:
        assert not report.errors
        assert answered == 6  # 1 basic + 2 reversed + 2 cloze + 1 type-in cards
        assert review_log_count(col) == answered
        assert sum(summary.new for summary in summaries) == 0
        assert sum(summary.updated for summary in summaries) == 4
        assert [note.guid for note in after] == [note.guid for note in before]
        assert schedule(col, after) == scheduled
        [disc] = [note for note in after if note.guid == note_guid("disc")]
        assert updated(disc)
        assert all(note.mod == EDITED for note in after)
        # Anki leaves existing cards in their deck, whatever the package says.
        assert disc.decks == ("ML",)
    finally:
        col.close()


def test_a_note_type_changed_in_anki_first_keeps_its_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    card = tmp_path / "cards" / "words.md"
    card.parent.mkdir()
    card.write_text("## Paris\n<!-- id: paris -->\n\ncapital of France\n")
    col = new_collection(tmp_path)
    build([Path("cards")], Options(source_date_epoch=STUDIED))
    import_apkg(col, Path("build/words.apkg"))
    answer_all_cards(col)
    [before] = collection_notes(col)
    scheduled = schedule(col, [before])
    card.write_text(
        "## {{c1::Paris}} is the capital of France\n<!-- id: paris; type: cloze -->\n"
    )  # noqa: E501
    build([Path("cards")], Options(source_date_epoch=EDITED))
    refused = import_apkg(col, Path("build/words.apkg"))

    # What the card format tells the learner to do: change the type in Anki, then
    # rebuild so that the package is newer than that change.
    basic, cloze = (
        col.models.by_name("deckbuilder"),
        col.models.by_name("deckbuilder cloze"),
    )
    assert basic is not None and cloze is not None
    request = col.models.change_notetype_info(
        old_notetype_id=basic["id"], new_notetype_id=cloze["id"]
    ).input
    request.note_ids.extend(col.find_notes(""))
    col.models.change_notetype_of_notes(request)
    later = col.get_note(col.find_notes("")[0]).mod + 60
    build([Path("cards")], Options(source_date_epoch=later))
    summary = import_apkg(col, Path("build/words.apkg"))

    [after] = collection_notes(col)
    try:
        assert (refused.conflicting, summary.updated) == (1, 1)
        assert after.note_type == "deckbuilder cloze"
        assert after.fields["Text"].startswith("<p>{{c1::Paris}} is the capital")
        assert review_log_count(col) == 1
        assert schedule(col, [after]) == scheduled
    finally:
        col.close()
