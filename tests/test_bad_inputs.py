"""A catalogue of bad inputs: each is accepted, or answered with a located remedy.

The inputs are files under tests/data/bad/, built as the cards of a fresh project; the
expected lines are what `deckbuilder build` prints for them, worked out by hand from
the files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import assert_located_error, read_apkg_notes

from deckbuilder import Options, Report, build
from deckbuilder.model import Location
from deckbuilder.regions import include_region

DATA = Path(__file__).parent / "data" / "bad"
EPOCH = 1_700_000_000


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "cards").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def build_cards(*names: str) -> Report:
    """Copy the named inputs into the project's cards/ and build them."""
    for name in names:
        source = DATA / name
        if source.is_dir():
            shutil.copytree(source, Path("cards", name))
        else:
            shutil.copyfile(source, Path("cards", name))
    return build([Path("cards")], Options(source_date_epoch=EPOCH))


def packages() -> list[Path]:
    return sorted(Path("build").glob("*.apkg"))


# Accepted ---------------------------------------------------------------------------


def test_byte_order_mark_is_dropped(project: Path) -> None:
    report = build_cards("bom.md")

    [note] = read_apkg_notes(Path("build/bom.apkg"), project)
    assert report.diagnostics == []
    assert note.decks == ("BOM",)
    assert note.fields["Front"] == "<p>Does a byte-order mark hurt?</p>"
    assert note.fields["Source"] == "cards/bom.md:4"


@pytest.mark.parametrize(
    ("name", "deck", "package"),
    [("crlf.md", "Windows", "windows.apkg"), ("cr.md", "Old Mac", "old-mac.apkg")],
)
def test_windows_and_old_mac_line_endings_are_read(
    project: Path, name: str, deck: str, package: str
) -> None:
    report = build_cards(name)

    notes = read_apkg_notes(Path("build", package), project)
    assert report.diagnostics == []
    assert [note.decks for note in notes] == [(deck,), (deck,)]
    assert [note.fields["Source"] for note in notes] == [
        f"cards/{name}:4",
        f"cards/{name}:{12 if name == 'crlf.md' else 8}",
    ]
    assert not any("\r" in value for note in notes for value in note.fields.values())


# Refused, with the place and the remedy -------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "latin1.md",
            "cards/latin1.md:1:7: error: file is not valid UTF-8 (byte 0xe9) "
            "(save the file as UTF-8)",
        ),
        (
            "unclosed-fence.md",
            "cards/unclosed-fence.md:7:1: error: code block is never closed "
            "(close it with a line holding ```)",
        ),
        (
            "bad-front-matter.md",
            "cards/bad-front-matter.md:3:16: error: front matter is not valid YAML: "
            "expected ',' or ']', but got '<stream end>' (write `key: value` lines, "
            "close every bracket and quote, and quote values that hold `: `, e.g. "
            "`deck: 'ML :: GANs'`)",
        ),
        (
            "unclosed-front-matter.md",
            "cards/unclosed-front-matter.md:1:1: error: front matter is never closed "
            "(end it with a line holding ---)",
        ),
        (
            "duplicate-ids",
            "cards/duplicate-ids/second.md:5:1: error: duplicate card id 'gan' "
            "(cards/duplicate-ids/first.md:1:1 uses it already; give each card its "
            "own id)",
        ),
        (
            # Without ids, the two cards would be one note in Anki: an error.
            "duplicate-questions-no-ids.md",
            'cards/duplicate-questions-no-ids.md:5:1: error: the question "What is a '
            'GAN?" is already a card of deck "duplicate-questions-no-ids" '
            "(cards/duplicate-questions-no-ids.md:1:1 asks it too; reword one or "
            "give each an explicit id)",
        ),
        (
            "bad-deck-name.md",
            "cards/bad-deck-name.md:2:1: error: deck name 'ML::::GANs' cannot be "
            "used in Anki (use printable text, with `::` only between non-empty "
            "deck names)",
        ),
        (
            # Shipped, the checks meant to be hidden would show on the card.
            "block-option-typo.md",
            "cards/block-option-typo.md:5:1: error: unknown code block option "
            "'hdie' (did you mean 'hide'? Otherwise use one of: norun, skip, raises, "
            "timeout, fresh, setup, include, hide)",
        ),
        (
            # The clock behind a time limit cannot count that far.
            "endless-timeout.md",
            "cards/endless-timeout.md:3:1: error: timeout='1e12' is not a number of "
            "seconds (write e.g. timeout=30; at most 86400 (a day))",
        ),
        (
            "setup-in-a-card.md",
            "cards/setup-in-a-card.md:5:1: error: a `setup` block runs before every "
            "card, so it belongs in the preamble (move it above the first `##` "
            "heading, or drop `setup`)",
        ),
        (
            "multi-line-metadata.md",
            "cards/multi-line-metadata.md:2:1: error: card metadata must be on one "
            "line (put its entries on this line, separated by `;`, and close the "
            "comment with `-->` on it)",
        ),
        (
            "repeated-block-option.md",
            "cards/repeated-block-option.md:3:1: error: code block option 'raises' is "
            "given twice (keep one of them)",
        ),
        (
            "valued-hide.md",
            "cards/valued-hide.md:3:1: error: code block option 'hide' takes no value "
            "(write just hide)",
        ),
        (
            "text-after-metadata.md",
            "cards/text-after-metadata.md:2:1: error: text after the card metadata on "
            "its line (move the text to a line of its own below)",
        ),
        (
            "repeated-metadata-key.md",
            "cards/repeated-metadata-key.md:2:1: error: card metadata sets 'id' "
            "twice (keep one of the entries)",
        ),
    ],
)
def test_errors_name_the_place_and_the_remedy_and_write_nothing(
    project: Path, name: str, expected: str
) -> None:
    report = build_cards(name)

    assert_located_error(report, project, expected)
    assert report.exit_code == 1
    assert packages() == []


@pytest.mark.parametrize(
    ("deck", "expected"),
    [
        ('"a:::b"', "deck name 'a:::b'"),
        ('"a::b:"', "deck name 'a::b:'"),
        ('" :: b"', "deck name ' :: b'"),
        ('"a\\u2028b"', "deck name 'a\\u2028b'"),
        ('"a\\tb"', "deck name 'a\\tb'"),
    ],
)
def test_deck_names_anki_would_change_are_refused(
    project: Path, deck: str, expected: str
) -> None:
    Path("cards/deck.md").write_text(f"---\ndeck: {deck}\n---\n## Q?\n\nA.\n")

    report = build([Path("cards")], Options(source_date_epoch=EPOCH))

    assert_located_error(
        report,
        project,
        f"cards/deck.md:2:1: error: {expected} cannot be used in Anki (use "
        "printable text, with `::` only between non-empty deck names)",
    )


def test_a_deck_name_too_long_for_a_file_name_still_builds(project: Path) -> None:
    deck = "Very long " * 40
    Path("cards/deck.md").write_text(f"---\ndeck: {deck}\n---\n## Q?\n\nA.\n")

    report = build([Path("cards")], Options(source_date_epoch=EPOCH))

    [package] = packages()
    [note] = read_apkg_notes(package, project)
    assert report.diagnostics == []
    assert note.decks == (deck.strip(),)
    assert len(package.name.encode()) <= 255 - len(".apkg.") - 16


# Warned about, and built ------------------------------------------------------------


def test_a_repeated_question_with_its_own_ids_is_a_warning(project: Path) -> None:
    report = build_cards("duplicate-questions.md")

    assert_located_error(
        report,
        project,
        'cards/duplicate-questions.md:6:1: warning: deck "duplicate-questions" '
        'already has the question "What is a GAN?" (see '
        "cards/duplicate-questions.md:1:1; merge the two cards or reword one)",
    )
    assert len(read_apkg_notes(Path("build/duplicate-questions.apkg"), project)) == 2


def test_a_heading_without_text_is_an_incomplete_card(project: Path) -> None:
    report = build_cards("empty-heading.md")

    assert_located_error(
        report,
        project,
        "cards/empty-heading.md:5:1: warning: card has no question "
        "(write the question after `##`)",
    )
    assert report.exit_code == 0
    assert len(read_apkg_notes(Path("build/empty-heading.apkg"), project)) == 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "empty.md",
            "cards/empty.md:1:1: warning: file is empty (start each card with a "
            "`## question` heading, or delete the file)",
        ),
        (
            "no-cards.md",
            "cards/no-cards.md:1:1: warning: file has no cards (start each card with "
            "a `## question` heading)",
        ),
    ],
)
def test_files_without_cards_are_warnings(
    project: Path, name: str, expected: str
) -> None:
    report = build_cards(name)

    assert_located_error(report, project, expected)
    assert report.exit_code == 0
    assert packages() == []


# Helper modules shown with include= -------------------------------------------------


def test_a_module_with_form_feeds_and_line_separators_keeps_its_lines(
    project: Path,
) -> None:
    # str.splitlines also splits at these, which shifted the region's lines and cut
    # a string literal in two.
    module = '"""Helpers."""\n\x0c\n# region r\ns = "a\u2028b"\nt = 1\n# endregion\n'
    Path("cards/helpers.py").write_text(module, encoding="utf-8")
    location = Location(project / "cards" / "deck.md", 3)

    region = include_region("helpers.py#r", location)

    assert region.code == 's = "a\u2028b"\nt = 1\n'
    assert region.first_line == 4
    assert compile(region.runnable, "helpers.py", "exec")


def test_an_included_control_character_is_a_located_error(project: Path) -> None:
    Path("cards/helpers.py").write_text(
        '# region r\nx = 1\ns = "a\x1fb"\n# endregion\n'
    )
    Path("cards/deck.md").write_text("## Q?\n\n```python include=helpers.py#r\n```\n")

    report = build([Path("cards")], Options(source_date_epoch=EPOCH))

    assert_located_error(
        report,
        project,
        "cards/deck.md:3:1: error: region 'r' of helpers.py holds the control "
        "character U+001F (line 3 of the module) (write it as an escape such as "
        "\\x1f; Anki cannot store it in a note)",
    )
    assert packages() == []


def test_decks_with_one_package_name_are_an_error(project: Path) -> None:
    Path("cards/slash.md").write_text("---\ndeck: A/B\n---\n## q\n\na\n")
    Path("cards/dash.md").write_text("---\ndeck: A-B\n---\n## r\n\nb\n")

    report = build([Path("cards")], Options(source_date_epoch=EPOCH))

    assert_located_error(
        report,
        project,
        'cards/slash.md:4:1: error: decks "A-B" and "A/B" would both be written to '
        "a-b.apkg (rename one of the decks)",
    )
    assert packages() == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "front-matter-after-blank-line.md",
            "cards/front-matter-after-blank-line.md:2:1: warning: front matter must "
            "start on the file's first line; this is read as text (delete the blank "
            "lines above `---`)",
        ),
        (
            # The `##` in the code block is code.
            "heading-without-space.md",
            "cards/heading-without-space.md:5:1: warning: `##` without a space after "
            "it does not start a card (Python-Markdown shows it as a heading) (write "
            "`## ` with a space to start a card, or `\\##` for the characters "
            "themselves)",
        ),
        (
            # Only a Python block's options are checked as its test checks them.
            "other-language-option-typo.md",
            "cards/other-language-option-typo.md:3:1: warning: unknown code block "
            "option 'hdie' (did you mean 'hide'? only hide and norun apply to a js "
            "block; other words after the language are not read)",
        ),
    ],
)
def test_lines_that_look_like_what_they_are_not_are_warnings(
    project: Path, name: str, expected: str
) -> None:
    report = build_cards(name)

    assert [str(d) for d in report.diagnostics] == [expected]
    assert report.exit_code == 0
    assert len(packages()) == 1


def test_two_shipped_cards_without_a_question_are_an_error_saying_so(
    project: Path,
) -> None:
    shutil.copyfile(DATA / "two-empty-headings.md", "cards/two-empty-headings.md")

    report = build(
        [Path("cards")], Options(source_date_epoch=EPOCH, include_incomplete=True)
    )

    assert_located_error(
        report,
        project,
        "cards/two-empty-headings.md:1:1: warning: card has no question (write the "
        "question after `##`)",
        "cards/two-empty-headings.md:5:1: warning: card has no question (write the "
        "question after `##`)",
        'cards/two-empty-headings.md:5:1: error: a second card of deck '
        '"two-empty-headings" has no question (cards/two-empty-headings.md:1:1 has '
        "none either, and their notes would be one; write the questions, or give "
        "each an id, e.g. `<!-- id: todo-2 -->`)",
    )
    assert packages() == []
