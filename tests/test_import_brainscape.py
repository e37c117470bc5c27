"""The Brainscape importer and the card-file writer, on the real GAN deck export."""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path

import pytest

from deckbuilder.errors import ExportFormatError
from deckbuilder.importers import Imported, ImportedCard, ImportedDeck
from deckbuilder.importers.formats.brainscape import parse, read
from deckbuilder.importers.write import to_markdown, write_import
from deckbuilder.report import Severity

DATA = Path(__file__).parent / "data" / "import"
EXPORT = DATA / "gans_brainscape.txt"
RATING = "How well did you know this?\n1\nNot at all\n2\n3\n4\n5\nPerfectly\n"

# Worked out from the export with `grep -n`: the line holding each card's number.
CARD_LINES = [3, 18, 35, 49, 66, 87, 105, 124, 141, 161, 175]
QUESTIONS = [
    "Cool uses for GANS",
    "Basic Structure of GAN\N{RIGHT SINGLE QUOTATION MARK}s",
    "How to create the Generator Inputs in TF",
    "How do you train a GAN",
    "Describe the training code for a GAN",
    "Describe code to run optimizers",
    "Describe How to create a Generator",
    "Describe what the output of the generator is and how it should be shaped",
    (
        "The input noise vector z, which is fed to the generator, where is this "
        "established?"
    ),
    "Describe why we use a variable scope when creating a discriminator and generator",
    "",
]


@pytest.fixture(scope="module")
def deck() -> ImportedDeck:
    (only,) = parse(EXPORT.read_text(encoding="utf-8"), EXPORT).decks
    return only


def card(deck: ImportedDeck, number: int) -> ImportedCard:
    (found,) = [card for card in deck.cards if card.number == number]
    return found


def assert_located_error(text: str, line: int, message: str) -> None:
    source = Path("export.txt")

    with pytest.raises(ExportFormatError) as caught:
        parse(text, source)

    error = caught.value
    assert error.location is not None
    assert (error.location.path, error.location.line) == (source, line)
    assert message in error.message
    assert error.remedy
    assert str(error).startswith(f"export.txt:{line}:1: error: ")


def test_reads_title_and_eleven_numbered_cards(deck: ImportedDeck) -> None:
    assert deck.title == "GANS' (Generative Adversarial Networks) Flashcards"
    assert [card.number for card in deck.cards] == list(range(1, 12))
    assert [card.line for card in deck.cards] == CARD_LINES


def test_questions_are_kept_exactly(deck: ImportedDeck) -> None:
    assert [card.question for card in deck.cards] == QUESTIONS


def test_empty_sides_stay_empty(deck: ImportedDeck) -> None:
    assert card(deck, 3).answer == ""
    assert card(deck, 10).answer == ""
    assert (card(deck, 11).question, card(deck, 11).answer) == ("", "")
    assert all(card.answer for card in deck.cards if card.number not in (3, 10, 11))


def test_incomplete_cards_are_located_warnings(deck: ImportedDeck) -> None:
    path = str(EXPORT)
    expected = [
        (
            f'{path}:35:1: warning: card 3 "How to create the Generator Inputs in TF" '
            "has no answer (it is imported without one; write the answer below its "
            "heading)"
        ),
        (
            f"{path}:161:1: warning: card 10 "
            '"Describe why we use a variable scope when creating a discriminator and '
            'generator" has no answer (it is imported without one; write the answer '
            "below its heading)"
        ),
        (
            f"{path}:175:1: warning: card 11 has no question and no answer (it is "
            "imported as a bare `##` card; write both sides or delete it)"
        ),
    ]
    assert [str(diagnostic) for diagnostic in deck.diagnostics] == expected
    assert {d.severity for d in deck.diagnostics} == {Severity.WARNING}


def test_numbered_list_on_one_line_becomes_eight_items(deck: ImportedDeck) -> None:
    original = EXPORT.read_text(encoding="utf-8").splitlines()[8]
    assert original.startswith("  1. create an imaginary photo")

    lines = card(deck, 1).answer.splitlines()

    assert [line.split(" ", 1)[0] for line in lines] == [f"{n}." for n in range(1, 9)]
    assert (
        lines[2] == "3. Blueprints of buildings can be turned into finished buildings"
    )
    assert lines[7] == "8. Imitation Learning"
    markers = {f"{n}." for n in range(1, 9)}
    original_words = Counter(w for w in original.split() if w not in markers)
    assert original_words == Counter(w for line in lines for w in line.split()[1:])


def test_bullets_become_markdown_bullets(deck: ImportedDeck) -> None:
    assert card(deck, 2).answer == (
        "- Model Inputs (Noise Vector Z and Real Images)\n- Generator\n- Discriminator"
    )
    assert len(card(deck, 9).answer.splitlines()) == 6
    assert all(line.startswith("- ") for line in card(deck, 9).answer.splitlines())


def test_indented_numbered_lines_nest_where_the_item_text_starts(
    deck: ImportedDeck,
) -> None:
    # A sub-item of `1. ` starts in column 4, where the item's text does; the deeper
    # code line continues the sub-item; `*` is escaped, not emphasis.
    assert card(deck, 7).answer == (
        "1. Take Input Noise Tensor and create a fully connected layer\n"
        "   1. with tf.variable_scope(\u2018generator\u2019, reuse= not is_train):\n"
        "      x1 = tf.layers.dense(z, 2\\*2\\*512)\n"
        "2. Reshape the tensor to start a convolutional stack\n"
        "   1. x1 = tf.reshape(x1, (-1, 2,2,512))"
    )


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            "1. red\n2. green\n  - light green\n  - dark green\n3. blue",
            "<ol><li>red</li><li>green<ul><li>light green</li><li>dark green</li>"
            "</ul></li><li>blue</li></ol>",
        ),
        (
            "10. ten\n    1. sub\n        - deeper\n11. eleven",
            '<ol start="10"><li>ten<ol><li>sub<ul><li>deeper</li></ul></li></ol>'
            "</li><li>eleven</li></ol>",
        ),
        (
            "\u2022 lunes\n    \u25e6 Monday\n\u2022 martes",
            "<ul><li>lunes<ul><li>Monday</li></ul></li><li>martes</li></ul>",
        ),
    ],
    ids=["bullets-under-numbers", "under-two-digits", "bullets-under-bullets"],
)
def test_nested_items_render_as_nested_lists(lines: str, expected: str) -> None:
    from deckbuilder.render import Renderer

    (deck,) = parse(f"Deck\n1\nQ\nq\nA\n{lines}\n", Path("export.txt")).decks

    rendered = Renderer().render(
        deck.cards[0].answer, path=Path("card.md"), first_line=1
    )
    assert re.sub(r">\s+<", "><", rendered.html) == expected


def test_each_plain_line_is_its_own_paragraph(deck: ImportedDeck) -> None:
    first, blank, second = card(deck, 6).answer.split("\n")

    assert blank == ""
    assert first.startswith("\\_ = sess.run(d_opt, feed_dict={input_real:")
    assert second.startswith("\\_ = sess.run(g_opt, feed_dict={input_real:")


def test_crlf_export_reads_the_same(deck: ImportedDeck) -> None:
    text = EXPORT.read_text(encoding="utf-8").replace("\n", "\r\n")

    assert parse("\ufeff" + text, EXPORT).decks == (deck,)


def test_rating_lines_are_dropped_only_as_the_whole_block() -> None:
    text = (
        "Deck\n\n1\nQ\n\nPick a number\n\nA\n1\n"
        + RATING
        + "2\nQ\n\nSelf-rating?\n\nA\nHow well did you know this?\n1\nNot at all\n"
        + RATING
    )

    (deck,) = parse(text, Path("export.txt")).decks

    assert [card.answer for card in deck.cards] == [
        "1",
        "How well did you know this?\n\n1\n\nNot at all",
    ]
    assert deck.diagnostics == ()


def test_export_without_rating_blocks_still_splits_cards() -> None:
    text = "Deck\n1\nQ\nOne\nA\nuno\n2\nQ\nTwo\nA\ndos\n"

    (deck,) = parse(text, Path("export.txt")).decks

    assert [(c.question, c.answer) for c in deck.cards] == [
        ("One", "uno"),
        ("Two", "dos"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "export is empty"),
        ("Just a title\n\n", 1, "no cards after its title"),
        ("# Notes\n\n## A card\n\nAn answer\n", 3, "expected a card number line"),
        ("Deck\n\n1\nQ\n\nNo answer marker\n" + RATING, 3, "card 1 has no `A` line"),
        ("Deck\n\n1\nQ\nq\nA\na\n" + RATING + "stray text\n", 16, "found 'stray"),
    ],
    ids=["empty", "title-only", "markdown", "no-a-line", "text-after-card"],
)
def test_text_in_another_format_is_a_located_error(
    text: str, line: int, message: str
) -> None:
    assert_located_error(text, line, message)


def test_markdown_syntax_in_plain_text_is_escaped() -> None:
    answer = "## not a card\n???\n~~~\n<!-- id: x -->\n*a* and _b_ cost $5"

    (deck,) = parse(f"Deck\n1\nQ\nq\nA\n{answer}\n", Path("export.txt")).decks

    assert deck.cards[0].answer.split("\n\n") == [
        "\\## not a card",
        "&#63;??",
        "&#126;~~",
        "&lt;!-- id: x -->",
        "\\*a\\* and \\_b\\_ cost \\$5",
    ]


@pytest.mark.parametrize(
    "line", ["__init__ and __1__", "-- -", "---", "snake_case and x_", "*a*b*"]
)
def test_escaped_lines_render_as_the_text_they_hold(line: str) -> None:
    from deckbuilder.render import Renderer

    (deck,) = parse(f"Deck\n1\nQ\nq\nA\n{line}\n", Path("export.txt")).decks

    rendered = Renderer().render(
        deck.cards[0].answer, path=Path("card.md"), first_line=1
    )
    assert html.unescape(rendered.html) == f"<p>{line}</p>"


def test_writes_the_gan_export_as_the_golden_card_file(deck: ImportedDeck) -> None:
    expected = (DATA / "gans_brainscape.expected.md").read_text(encoding="utf-8")

    written = to_markdown(
        deck, deck_name="GANs", tags=["gans", "deep-learning", "tensorflow"]
    )

    assert written == expected


def test_multi_line_question_uses_the_separator() -> None:
    deck = ImportedDeck(
        "Title #",
        (ImportedCard(1, "What does this print? #\n\n- a\n- b", "", 3),),
    )

    written = to_markdown(deck, deck_name="yes", tags=["a:b", "c,d"])

    assert written == (
        '---\ndeck: "yes"\ntags: [a:b, "c,d"]\n---\n\n# Title \\#\n\n'
        "## What does this print? \\#\n\n- a\n- b\n\n???\n"
    )


def test_read_decodes_utf8_and_locates_bad_bytes(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_bytes(b"\xef\xbb\xbfDeck\r\n1\r\nQ\r\nq\r\nA\r\na\r\n")
    bad.write_bytes(b"Deck\n1\nQ\nq\xff\n")

    (deck,) = read(good).decks
    assert deck.cards == (ImportedCard(1, "q", "a", 2),)
    with pytest.raises(ExportFormatError) as caught:
        read(bad)
    assert re.fullmatch(
        r".*bad\.txt:4:2: error: export is not valid UTF-8.*", str(caught.value)
    )


MULTI = DATA / "multi_deck_brainscape.txt"


@pytest.fixture
def multi(tmp_path: Path) -> Imported:
    """The two-deck export as Windows writes it: CRLF line endings and a BOM."""
    export = tmp_path / "multi.txt"
    text = MULTI.read_text(encoding="utf-8").replace("\n", "\r\n")
    export.write_bytes(b"\xef\xbb\xbf" + text.encode())
    return read(export)


def test_a_title_after_a_card_starts_a_new_deck(multi: Imported) -> None:
    # Worked out with `grep -n`: each card's number line, numbered anew per deck.
    assert [(deck.title, deck.name) for deck in multi.decks] == [
        ("Spanish Basics", "Spanish Basics"),
        ("Spanish Verbs", "Spanish Verbs"),
    ]
    assert [[(c.number, c.line) for c in deck.cards] for deck in multi.decks] == [
        [(1, 3), (2, 23)],
        [(1, 43), (2, 60), (3, 73)],
    ]


@pytest.mark.parametrize(
    ("index", "stem"), [(0, "spanish-basics"), (1, "spanish-verbs")]
)
def test_each_deck_writes_its_golden_card_file(
    multi: Imported, index: int, stem: str
) -> None:
    deck = multi.decks[index]
    golden = DATA / f"multi_deck_brainscape.{stem}.expected.md"

    written = to_markdown(deck, deck_name=deck.name)

    assert written == golden.read_text(encoding="utf-8")


def test_questions_and_answers_span_lines(multi: Imported) -> None:
    first = multi.decks[0].cards[0]

    assert first.question == 'How do you say\n\n"the cat"\n\nin Spanish?'
    assert first.answer == "el gato\n\n(masculine, \\*not\\* la)"
    assert (
        multi.decks[1].cards[2].question == "Which verb is irregular?\n\nser or hablar"
    )


def test_nested_bullets_and_letter_or_roman_lines(multi: Imported) -> None:
    assert multi.decks[0].cards[1].answer == (
        "- lunes\n  - Monday\n- martes\n- miércoles"
    )
    # `a)` and `i.` are not Markdown lists, so each stays a line of text.
    assert multi.decks[1].cards[0].answer.split("\n\n") == [
        "1. hablo\n2. hablas\n3. habla",
        "a) a regular -ar verb",
        "i. stem: habl-",
    ]


def test_missing_sides_are_warnings_of_their_deck(multi: Imported) -> None:
    assert multi.decks[0].diagnostics == ()
    assert [(d.location.line, d.message) for d in multi.decks[1].diagnostics] == [
        (60, "card 2 has no question"),
        (73, 'card 3 "Which verb is irregular?" has no answer'),
    ]


def test_lf_export_reads_as_the_crlf_one(multi: Imported) -> None:
    lf = parse(MULTI.read_text(encoding="utf-8"), MULTI)

    assert [deck.cards for deck in lf.decks] == [deck.cards for deck in multi.decks]


def test_several_decks_go_into_a_folder_one_card_file_each(
    multi: Imported, tmp_path: Path
) -> None:
    written = write_import(multi, tmp_path / "out", source=MULTI)

    assert [path.name for path in written.card_files] == [
        "spanish-basics.md",
        "spanish-verbs.md",
    ]
    assert "deck: Spanish Verbs\n" in written.card_files[1].read_text()
    with pytest.raises(ExportFormatError, match="export holds 2 decks"):
        write_import(multi, tmp_path / "one.md", source=MULTI)


def test_without_rating_prompts_a_restart_of_numbers_marks_a_title() -> None:
    text = (
        "Deck one\n\n1\nQ\nq1\nA\na1\n\n2\nQ\nq2\nA\na2\n\n"
        "Deck two\n\n1\nQ\nq3\nA\na3\n"
    )

    decks = parse(text, Path("export.txt")).decks

    assert [(d.title, [(c.question, c.answer) for c in d.cards]) for d in decks] == [
        ("Deck one", [("q1", "a1"), ("q2", "a2")]),
        ("Deck two", [("q3", "a3")]),
    ]


def test_without_rating_prompts_numbers_that_follow_on_keep_the_answer() -> None:
    # The ambiguity the module documents: the line could be a title, but the next
    # card's number follows on, so it is the answer's last paragraph.
    text = "Deck\n\n1\nQ\nq1\nA\na1\n\nSee also\n\n2\nQ\nq2\nA\na2\n"

    (deck,) = parse(text, Path("export.txt")).decks

    assert [c.answer for c in deck.cards] == ["a1\n\nSee also", "a2"]


def test_a_title_may_follow_the_rating_prompt_without_blank_lines() -> None:
    text = "One\n1\nQ\nq\nA\na\n" + RATING + "Two\n1\nQ\nq\nA\nb\n"

    decks = parse(text, Path("export.txt")).decks

    assert [(d.title, d.cards[0].line) for d in decks] == [("One", 2), ("Two", 16)]


def test_without_rating_prompts_a_title_right_below_an_answer_starts_a_deck() -> None:
    # The title follows the answer's last line with no blank line between them;
    # the restart of the numbering at 1 is what marks it.
    text = (
        "Nouns\n3\nQ\nRun-together list?\nA\n1. one 2. two 3. three\n"
        "Verbs\n1\nQ\ncomer\nA\nto eat\n"
    )

    decks = parse(text, Path("export.txt")).decks

    assert [(d.title, [(c.question, c.answer) for c in d.cards]) for d in decks] == [
        ("Nouns", [("Run-together list?", "1. one\n2. two\n3. three")]),
        ("Verbs", [("comer", "to eat")]),
    ]
    assert [d.diagnostics for d in decks] == [(), ()]


def test_without_rating_prompts_a_title_below_an_empty_answer_starts_a_deck() -> None:
    text = "Nouns\n1\nQ\nq1\nA\n2\nQ\nq2\nA\nVerbs\n1\nQ\ncomer\nA\nto eat\n"

    decks = parse(text, Path("export.txt")).decks

    assert [(d.title, [(c.question, c.answer) for c in d.cards]) for d in decks] == [
        ("Nouns", [("q1", ""), ("q2", "")]),
        ("Verbs", [("comer", "to eat")]),
    ]
    assert [(d.location.line, d.message) for d in decks[0].diagnostics] == [
        (2, 'card 1 "q1" has no answer'),
        (6, 'card 2 "q2" has no answer'),
    ]
