"""The anki-text importer, on exports written by Anki itself in the test."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import new_collection, read_apkg_notes
from typer.testing import CliRunner

from deckbuilder.cli import app
from deckbuilder.errors import ExportFormatError
from deckbuilder.importers import Imported, ImportedCard
from deckbuilder.importers.formats.anki_text import parse, read
from deckbuilder.importers.write import to_markdown
from deckbuilder.report import Severity

DATA = Path(__file__).parent / "data" / "import"


@dataclass(frozen=True)
class Note:
    note_type: str
    deck: str
    fields: tuple[str, ...]
    tags: tuple[str, ...] = ()


NOTES = [
    Note(
        "Basic",
        "Default",
        (
            "What is <b>bold</b>?",
            'Tab\there, "quotes", semi;colon,comma<br>\nsecond line',
        ),
        ("geo::eu", "t1"),
    ),
    Note("Basic (and reversed card)", "Lang::Spanish", ("perro", "dog"), ("es",)),
    Note(
        "Cloze",
        "Lang::Spanish",
        ("{{c1::Madrid}} is the capital of {{c2::Spain}}", "A city of 3 million"),
    ),
    Note("Basic (type in the answer)", "Lang", ("2*2?", "4*1")),
    Note("Basic (optional reversed card)", "Lang", ("gato", "cat", "y")),
    Note("Basic (optional reversed card)", "Lang", ("pez", "fish", "")),
    Note(
        "Basic",
        "Default",
        (
            "<script>alert(1)</script>Safe?",
            'Yes, <a href="javascript:steal()">now</a> <i>it</i> is',
        ),
    ),
]


def export_notes(folder: Path, notes: list[Note], *, with_html: bool) -> Path:
    """Add `notes` to a fresh collection and export them as Anki's plain text."""
    col = new_collection(folder)
    try:
        for spec in notes:
            note_type = col.models.by_name(spec.note_type)
            assert note_type is not None
            note = col.new_note(note_type)
            for index, value in enumerate(spec.fields):
                note.fields[index] = value
            note.tags = list(spec.tags)
            col.add_note(note, col.decks.id(spec.deck))
        out = folder / ("notes-html.txt" if with_html else "notes-plain.txt")
        col.export_note_csv(
            out_path=str(out),
            limit=None,
            with_html=with_html,
            with_tags=True,
            with_deck=True,
            with_notetype=True,
            with_guid=True,
        )
        return out
    finally:
        col.close()


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_notes(tmp_path_factory.mktemp("anki"), NOTES, with_html=True)


@pytest.fixture(scope="module")
def imported(export: Path) -> Imported:
    return read(export)


def cards(imported: Imported) -> dict[str, ImportedCard]:
    """Every card by the first word of its question's text."""
    return {
        re.sub(r"\W", "", card.question.split()[0]): card
        for deck in imported.decks
        for card in deck.cards
    }


def line_of(path: Path, text: str) -> int:
    """The 1-based line of `path` that holds `text`, found independently."""
    (line,) = [
        number
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if text in line
    ]
    return line


def test_anki_writes_the_header_this_importer_reads(export: Path) -> None:
    header = export.read_text().splitlines()[:6]

    assert header == [
        "#separator:tab",
        "#html:true",
        "#guid column:1",
        "#notetype column:2",
        "#deck column:3",
        "#tags column:7",  # after three field columns: the widest note type
    ]


def test_one_deck_per_deck_column_value_in_order_of_first_use(
    imported: Imported,
) -> None:
    assert [(deck.name, deck.title) for deck in imported.decks] == [
        ("Default", ""),
        ("Lang::Spanish", ""),
        ("Lang", ""),
    ]
    assert [len(deck.cards) for deck in imported.decks] == [2, 2, 3]
    assert imported.card_count == len(NOTES)


def test_note_types_map_to_deckbuilder_types(imported: Imported) -> None:
    found = cards(imported)

    assert {word: card.type for word, card in found.items()} == {
        "What": "",
        "perro": "reversed",
        "c1Madrid": "cloze",
        "22": "type-in",
        "gato": "reversed",
        "pez": "",
        "Safe": "",
    }
    assert found["c1Madrid"].question == (
        "{{c1::Madrid}} is the capital of {{c2::Spain}}"
    )


def test_rows_spanning_lines_keep_every_field_and_count_lines(
    export: Path, imported: Imported
) -> None:
    found = cards(imported)

    assert found["What"].question == "What is **bold**?"
    # HTML collapses the tab, as Anki shows it; the <br> stays a line break.
    assert found["What"].answer == (
        'Tab here, "quotes", semi;colon,comma<br>\nsecond line'
    )
    assert found["What"].line == line_of(export, "What is <b>bold</b>?")
    assert found["perro"].line == line_of(export, "perro")
    assert found["perro"].line == found["What"].line + 2


def test_tags_guids_and_numbers(imported: Imported) -> None:
    found = cards(imported)

    assert found["What"].tags == ("geo::eu", "t1")
    assert found["perro"].tags == ("es",)
    assert found["pez"].tags == ()
    assert {card.guid for card in found.values()} == {""}
    assert sorted(card.number for card in found.values()) == list(range(1, 8))


def test_type_in_answer_is_the_text_to_type(imported: Imported) -> None:
    assert cards(imported)["22"].answer == "4*1"
    assert cards(imported)["22"].question == "2\\*2?"


def test_optional_reverse_flag_is_not_content(imported: Imported) -> None:
    assert (cards(imported)["gato"].answer, cards(imported)["pez"].answer) == (
        "cat",
        "fish",
    )
    assert not any("added to the answer" in str(d) for d in imported.all_diagnostics)


def test_unsafe_html_is_removed_and_reported_at_its_row(
    export: Path, imported: Imported
) -> None:
    line = line_of(export, "<script>")
    card = cards(imported)["Safe"]

    assert "alert" not in card.question
    assert "steal" not in card.answer
    assert card.answer.split() == ["Yes,", "now", "*it*", "is"]
    messages = [str(d) for d in imported.all_diagnostics]
    remedy = "(cards show text and images; scripts and event handlers never run)"
    assert messages == [
        f"{export}:{line}:1: warning: removed <script> element from the question "
        + remedy,
        f"{export}:{line}:1: warning: removed javascript: link from the answer "
        + remedy,
    ]


def test_plain_text_export_is_escaped_not_read_as_markdown(tmp_path: Path) -> None:
    notes = [Note("Basic", "Default", ("*not* <b>bold</b>", "## not a card"))]
    export = export_notes(tmp_path, notes, with_html=False)

    (deck,) = read(export).decks

    assert export.read_text().splitlines()[1] == "#html:false"
    assert (deck.cards[0].question, deck.cards[0].answer) == (
        "\\*not\\* bold",
        "\\## not a card",
    )


def test_crlf_and_bom_read_the_same(export: Path, imported: Imported) -> None:
    text = export.read_text(encoding="utf-8").replace("\n", "\r\n")

    assert parse("\ufeff" + text, export) == imported


@pytest.mark.parametrize(
    ("separator", "row"),
    [
        ("Comma", 'one,"two, too"'),
        ("semicolon", "one;two, too"),
        ("Space", 'one "two, too"'),
        ("Pipe", "one|two, too"),
        ("Colon", "one:two, too"),
        ("tab", "one\ttwo, too"),
        (";", "one;two, too"),
        ("|", "one|two, too"),
    ],
)
def test_every_separator_anki_names(separator: str, row: str) -> None:
    text = f"#separator:{separator}\n#html:false\n{row}\n"

    (deck,) = parse(text, Path("x.txt")).decks

    assert (deck.cards[0].question, deck.cards[0].answer) == ("one", "two, too")


def test_separator_is_guessed_as_anki_does_without_a_header() -> None:
    (deck,) = parse("front;back, with comma\n", Path("x.txt")).decks

    assert (deck.cards[0].question, deck.cards[0].answer) == (
        "front",
        "back, with comma",
    )


def test_html_is_guessed_from_the_fields_without_a_header() -> None:
    html_deck = parse("#separator:tab\n<b>a</b>\tb\n", Path("x.txt")).decks[0]
    plain_deck = parse("#separator:tab\n*a*\tb\n", Path("x.txt")).decks[0]

    assert html_deck.cards[0].question == "**a**"
    assert plain_deck.cards[0].question == "\\*a\\*"


def test_fixed_deck_notetype_tags_and_named_columns_golden() -> None:
    export = DATA / "anki_text_columns.txt"
    expected = (DATA / "anki_text_columns.expected.md").read_text(encoding="utf-8")

    imported = read(export)

    (deck,) = imported.decks
    assert deck.name == "Geography::Capitals"
    assert to_markdown(deck, deck_name=deck.name) == expected
    assert [str(d) for d in imported.all_diagnostics] == [
        f"{export}:9:1: warning: fields after the question and the answer ('Notes') "
        "added to the answer in 2 notes of note type 'Basic (and reversed card)', "
        "the first here (deckbuilder's note types have two sides; import the .apkg "
        "export to keep the note type and its fields)",
    ]


def test_deck_and_note_type_given_by_id_are_ignored_with_a_warning() -> None:
    text = "#separator:tab\n#html:false\n#deck:1700000000\n#notetype:1\nq\ta\n"

    imported = parse(text, Path("x.txt"))

    assert imported.decks[0].name == ""
    assert [(d.location.line, d.message) for d in imported.all_diagnostics] == [
        (
            3,
            "deck given by its id 1700000000, which names nothing outside the "
            "collection it came from: ignored",
        ),
        (
            4,
            "notetype given by its id 1, which names nothing outside the "
            "collection it came from: ignored",
        ),
    ]


def test_progress_hears_of_every_note(export: Path) -> None:
    heard: list[tuple[str, int, int]] = []

    read(export, lambda step, done, total: heard.append((step, done, total)))

    assert heard == [("importing", n, len(NOTES)) for n in range(1, len(NOTES) + 1)]


def test_unknown_note_type_is_basic_with_a_warning_at_its_first_row() -> None:
    text = (
        "#separator:tab\n#html:false\n#notetype column:1\n"
        "Basic\tq1\ta1\nVokabel\tq2\ta2\nVokabel\tq3\ta3\n"
    )

    imported = parse(text, Path("x.txt"))

    assert [card.type for card in imported.decks[0].cards] == ["", "", ""]
    assert [str(d) for d in imported.all_diagnostics] == [
        "x.txt:5:1: warning: unknown note type 'Vokabel' (2 notes, the first here): "
        "imported as basic cards (set `type:` where another of deckbuilder's note "
        "types fits, or import the .apkg export to keep the note type)"
    ]


def test_unknown_note_type_holding_a_cloze_is_a_cloze() -> None:
    text = "#separator:tab\n#notetype column:1\nLückentext\t{{c1::Berlin}}\t\n"

    imported = parse(text, Path("x.txt"))

    assert imported.decks[0].cards[0].type == "cloze"
    assert imported.all_diagnostics == ()


def test_legacy_tags_line_and_comment_rows() -> None:
    text = "tags:old shared\n#separator:tab\nq\ta\n# a comment\n\nq2\ta2\n"

    (deck,) = parse(text, Path("x.txt")).decks

    assert [(c.question, c.tags, c.line) for c in deck.cards] == [
        ("q", ("old", "shared"), 3),
        ("q2", ("old", "shared"), 6),
    ]


def test_empty_sides_are_located_warnings() -> None:
    text = "#separator:tab\n#html:false\nOnly a question\t\n\tOnly an answer\n\t\n"

    imported = parse(text, Path("x.txt"))

    assert [str(d) for d in imported.all_diagnostics] == [
        'x.txt:3:1: warning: card 1 "Only a question" has no answer (it is imported '
        "without one; write the answer below its heading)",
        "x.txt:4:1: warning: card 2 has no question (it is imported under a bare "
        "`##`; write the question there)",
        "x.txt:5:1: warning: card 3 has no question and no answer (it is imported as "
        "a bare `##` card; write both sides or delete it)",
    ]
    assert {d.severity for d in imported.all_diagnostics} == {Severity.WARNING}


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("", 1, 1, "export has no notes"),
        ("#separator:tab\n#html:true\n\n", 3, 1, "export has no notes"),
        (
            '#separator:tab\n#tags column:3\nq\ta\ttag\n"multi\nline"\ta\n',
            4,
            1,
            "row has 2 columns, the header says 3",
        ),
        (
            '#separator:tab\n"q\nstill q"\ta\nq2\t"never closed\nmore\n',
            4,
            4,
            "quoted field is never closed",
        ),
    ],
    ids=["empty", "header-only", "short-row", "unclosed-quote"],
)
def test_broken_exports_are_located_errors(
    text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(ExportFormatError) as caught:
        parse(text, Path("x.txt"))

    assert str(caught.value).startswith(f"x.txt:{line}:{column}: error: {message}")
    assert caught.value.remedy


def test_bytes_that_are_not_utf8_are_a_located_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"#separator:tab\nq\t\xe9t\xe9\n")

    with pytest.raises(ExportFormatError) as caught:
        read(bad)

    assert str(caught.value).startswith(f"{bad}:2:3: error: export is not valid UTF-8")


def plain(field: str) -> str:
    """The words of a field as a reader sees them: no tags, entities or layout."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", field)).split())


def test_cli_import_then_build_gives_anki_the_same_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    safe = NOTES[:-1]
    export = export_notes(tmp_path, safe, with_html=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    (tmp_path / "pyproject.toml").write_text("")

    imported = CliRunner().invoke(
        app, ["import", "anki-text", str(export), "--out", "cards"]
    )
    built = CliRunner().invoke(app, ["build", "cards", "--bundle", "all"])

    assert imported.exit_code == 0, imported.output
    assert f"imported {len(safe)} cards into cards" in imported.stderr
    assert built.exit_code == 0, built.output
    notes = read_apkg_notes(tmp_path / "build" / "all.apkg", tmp_path)
    expected = sorted(
        (spec.deck, plain(spec.fields[0]), plain(spec.fields[1])) for spec in safe
    )
    assert len(notes) == len(safe)
    assert (
        sorted(
            (note.decks[0], *(plain(v) for v in list(note.fields.values())[:2]))
            for note in notes
        )
        == expected
    )
    by_front = {plain(next(iter(n.fields.values()))): n for n in notes}
    assert by_front["perro"].card_count == 2
    assert by_front["gato"].card_count == 2
    assert by_front["pez"].card_count == 1
    assert by_front["{{c1::Madrid}} is the capital of {{c2::Spain}}"].card_count == 2


@pytest.mark.parametrize(
    ("is_html", "back", "answer"),
    [
        ("true", "a_b 2*3 [x](y) ~a~", "a_b 2*3 [x](y) ~a~"),
        ("false", "<tag> & 2*3", "<tag> & 2*3"),
        ("true", "# not a heading", "\\# not a heading"),
        ("false", "???", "&#63;??"),
    ],
    ids=["html", "plain", "heading-kept-escaped", "separator-kept-escaped"],
)
def test_type_in_answer_is_unescaped_unless_it_would_end_the_card(
    is_html: str, back: str, answer: str
) -> None:
    text = (
        f"#separator:tab\n#html:{is_html}\n#notetype column:1\n"
        f"Basic (type in the answer)\tq\t{back}\n"
    )

    (deck,) = parse(text, Path("x.txt")).decks

    assert deck.cards[0].answer == answer
