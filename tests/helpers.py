"""Domain helpers that judge .apkg packages with Anki's own importer and scheduler."""

# The imports are not in isort's order: see the comment above anki.collection.
# ruff: noqa: I001

from __future__ import annotations

import shutil
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

# anki.collection must come first: importing anki.cards first is a circular import.
from anki.collection import (
    Collection,
    ImportAnkiPackageOptions,
    ImportAnkiPackageRequest,
    ImportLogWithChanges,
)
from anki.cards import Card, CardId
from anki.decks import DeckId
from anki.notes import NoteId
from anki.scheduler.v3 import CardAnswer
from anki.scheduler.v3 import Scheduler as V3Scheduler

from deckbuilder.report import Report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
"""Debian's headless Chromium, which the layout tests need; None when not installed."""

_RATINGS = {
    1: CardAnswer.AGAIN,
    2: CardAnswer.HARD,
    3: CardAnswer.GOOD,
    4: CardAnswer.EASY,
}


@dataclass(frozen=True)
class ImportSummary:
    """How many notes of a package landed in each bucket of Anki's import log."""

    found: int
    new: int
    updated: int
    duplicate: int
    conflicting: int
    first_field_match: int
    missing_notetype: int
    missing_deck: int
    empty_first_field: int

    @classmethod
    def from_log(cls, log: ImportLogWithChanges.Log) -> ImportSummary:
        return cls(
            found=log.found_notes,
            new=len(log.new),
            updated=len(log.updated),
            duplicate=len(log.duplicate),
            conflicting=len(log.conflicting),
            first_field_match=len(log.first_field_match),
            missing_notetype=len(log.missing_notetype),
            missing_deck=len(log.missing_deck),
            empty_first_field=len(log.empty_first_field),
        )


@dataclass(frozen=True)
class NoteView:
    """A note as Anki stores it after import, without collection-specific ids.

    `decks` holds the sorted, distinct deck names of the note's cards; `mod` is the
    note's modification time in whole seconds.
    """

    guid: str
    note_type: str
    fields: dict[str, str]
    tags: tuple[str, ...]
    decks: tuple[str, ...]
    card_count: int
    mod: int


def new_collection(tmp_path: Path) -> Collection:
    """Create a fresh, empty collection in its own folder under `tmp_path`.

    The caller closes it. Each call gets a new folder, so one test may open several.
    """
    folder = Path(tempfile.mkdtemp(prefix="anki-", dir=tmp_path))
    return Collection(str(folder / "collection.anki2"))


def import_apkg(col: Collection, path: Path) -> ImportSummary:
    """Import a package with the options a fresh Anki desktop install offers.

    The protobuf defaults equal a fresh collection's import presets: no note type
    merging, no scheduling, no deck presets, and notes and note types updated only
    if newer. A note is matched by GUID and updated only when the package's note mod
    time (whole seconds) is strictly later than the collection's; an equal or older
    one is logged as a duplicate and left alone. An update keeps the package's mod
    time and leaves existing cards, their deck and scheduling untouched; only cards
    whose (note, template) pair is missing are added.

    A note type is matched by id. If its fields or templates differ in number or in
    name (genanki writes no field ids, so names decide), Anki adds the incoming one
    as a new note type with a uniquified name; notes whose GUID already exists are
    then logged as conflicting and not updated, while new GUIDs are added under it.
    With an unchanged schema the note type (CSS, templates) is replaced only if its
    mod time is later.
    """
    request = ImportAnkiPackageRequest(
        package_path=str(path.resolve()), options=ImportAnkiPackageOptions()
    )
    return ImportSummary.from_log(col.import_anki_package(request).log)


def collection_notes(col: Collection) -> list[NoteView]:
    """Return every note of `col` in note id order (the package order after import)."""
    return [_note_view(col, note_id) for note_id in sorted(col.find_notes(""))]


def read_apkg_notes(path: Path, tmp_path: Path) -> list[NoteView]:
    """Import a package into a fresh collection and return its notes.

    Fails if Anki did not add every note of the package as new, for instance when
    two notes share a GUID.
    """
    col = new_collection(tmp_path)
    try:
        summary = import_apkg(col, path)
        assert summary.new == summary.found, f"{path}: not all notes new: {summary}"
        return collection_notes(col)
    finally:
        col.close()


def note_card_ids(col: Collection, guid: str) -> list[CardId]:
    """Return the card ids of the note with `guid`, in template order."""
    # SQL rather than a `guid:` search: genanki GUIDs hold search syntax characters.
    assert col.db is not None
    note_ids: list[NoteId] = col.db.list("SELECT id FROM notes WHERE guid = ?", guid)
    assert len(note_ids) == 1, f"expected one note with GUID {guid!r}: {note_ids}"
    cards = [col.get_card(card_id) for card_id in col.card_ids_of_note(note_ids[0])]
    return [card.id for card in sorted(cards, key=lambda card: card.ord)]


def note_type_css(col: Collection, name: str) -> str:
    """Return the CSS of the note type called `name`."""
    note_type = col.models.by_name(name)
    if note_type is None:
        raise LookupError(f"no note type named {name!r}")
    css: str = note_type["css"]
    return css


def render_card(col: Collection, card_id: CardId) -> tuple[str, str]:
    """Render a card's question and answer HTML with Anki's template engine.

    The HTML is what the reviewer shows inside the card, without the `<style>`
    block that `Card.question()` prepends; read the CSS with `note_type_css`.
    """
    output = col.get_card(card_id).render_output(reload=True)
    return output.question_text, output.answer_text


def answer_all_cards(col: Collection, ease: int = 3) -> int:
    """Study each queued card once through the v3 scheduler and return how many.

    Each deck is selected in turn and the top of its queue answered, as the
    reviewer does, until the queue is empty or offers a card already answered.
    Deck limits still apply: at most 20 new cards per deck with default presets.
    """
    rating = _RATINGS[ease]
    sched = col.sched
    assert isinstance(sched, V3Scheduler), "new collections use the v3 scheduler"
    answered: set[CardId] = set()
    current_deck = col.decks.get_current_id()

    for deck in col.decks.all_names_and_ids():
        col.decks.select(DeckId(deck.id))
        # The backend refuses any card but the top of the queue.
        while (queued := sched.get_queued_cards().cards) and (
            queued[0].card.id not in answered
        ):
            card = Card(col, backend_card=queued[0].card)
            card.start_timer()
            answer = sched.build_answer(
                card=card, states=queued[0].states, rating=rating
            )
            sched.answer_card(answer)
            answered.add(card.id)

    col.decks.select(current_deck)
    return len(answered)


def review_log_count(col: Collection) -> int:
    """Return the number of entries in the collection's review log."""
    assert col.db is not None
    count: int = col.db.scalar("SELECT count() FROM revlog")
    return count


def printed_diagnostics(report: Report, root: Path) -> list[str]:
    """Return the report's problems as the CLI prints them, paths relative to `root`."""
    lines = []
    for diagnostic in report.diagnostics:
        path = diagnostic.location.path
        if path.is_absolute() and path.is_relative_to(root):
            path = path.relative_to(root)
        lines.append(
            str(diagnostic).replace(str(diagnostic.location.path), str(path), 1)
        )
    return lines


def assert_located_error(report: Report, root: Path, *expected: str) -> None:
    """Assert that `report` holds exactly the problems `expected`, in order.

    Each is a whole line as printed, compiler style, place and remedy included:
    `cards/x.md:3:1: error: code block is never closed (close it with ...)`.
    """
    assert printed_diagnostics(report, root) == list(expected)


def _note_view(col: Collection, note_id: NoteId) -> NoteView:
    note = col.get_note(note_id)
    note_type = note.note_type()
    assert note_type is not None
    cards = note.cards()
    return NoteView(
        guid=note.guid,
        note_type=note_type["name"],
        fields=dict(note.items()),
        tags=tuple(sorted(note.tags)),
        decks=tuple(sorted({col.decks.name(card.did) for card in cards})),
        card_count=len(cards),
        mod=note.mod,
    )


def chromium(page: Path, width: int, *action: str, fragment: str = "") -> str:
    """Run headless Chromium on `page` (with `#fragment` if given) and return its
    stdout; `action` is what to do, such as `--dump-dom` or `--screenshot=PATH`.

    The profile lives in `profile/` beside the page; headless Chromium will not make
    a window narrower than 500 px.
    """
    assert CHROMIUM is not None
    # Flags keep Chromium from reaching for any network service at start-up.
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={page.parent / 'profile'}",
        f"--window-size={max(width, 500)},900",
        *action,
        page.as_uri() + (f"#{fragment}" if fragment else ""),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def card_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """Make `pytester`'s folder a card project with the repository's strict settings."""
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        addopts = ["--strict-markers", "--strict-config", "-ra", "-pno:cacheprovider"]
        filterwarnings = ["error"]
        xfail_strict = true
        """
    )
    (pytester.path / "cards").mkdir()
    (pytester.path / "code_snippets").mkdir()
    return pytester


def write(project: pytest.Pytester, path: str, text: str) -> Path:
    """Write a dedented file under the project and return its path."""
    target = project.path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return target
