"""Parser tests: how card files split into cards, metadata, blocks and lines."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from deckbuilder.errors import SourceError
from deckbuilder.fences import split_info
from deckbuilder.model import derive_id
from deckbuilder.parse import Parsed, parse_text, read_card_file


def parse(text: str, deck: str = "default") -> Parsed:
    return parse_text(text, Path("cards/x.md"), default_deck=deck)


def test_cards_start_at_level_two_headings_outside_code() -> None:
    text = (
        "# Title\n\nIntro.\n\n## First?\n\nOne.\n\n```python\n## not a card\n```\n"
        "### Sub heading\n\n## Second? ##\nTwo.\n"
    )

    cards = parse(text).file.cards

    assert [card.question for card in cards] == ["First?", "Second?"]
    assert cards[0].answer == "One.\n\n```python\n## not a card\n```\n### Sub heading"
    assert [card.location.line for card in cards] == [5, 14]
    assert cards[1].answer == "Two."
    assert cards[1].answer_line == 15


def test_preamble_is_not_a_card() -> None:
    parsed = parse("# Deck\n\nNotes for me.\n\n## Q\nA\n")

    assert parsed.file.preamble == "# Deck\n\nNotes for me."
    assert len(parsed.file.cards) == 1


def test_front_matter_sets_deck_tags_and_type() -> None:
    text = "---\ndeck: 'ML :: GANs'\ntags: [gans, tf]\ntype: reversed\n---\n## Q\nA\n"

    card = parse(text).file.cards[0]

    assert (card.deck, card.tags, card.note_type) == (
        "ML::GANs",
        ("gans", "tf"),
        "reversed",
    )
    assert card.location.line == 6


def test_metadata_comment_sets_id_tags_type_and_is_not_in_answer() -> None:
    text = "---\ntags: a\n---\n## Q\n<!-- id: q-1; tags: b a; type: reversed -->\n\nA\n"

    card = parse(text).file.cards[0]

    assert card.id == "q-1"
    assert card.tags == ("a", "b")
    assert card.note_type == "reversed"
    assert card.answer == "A"
    assert card.answer_line == 7
    assert card.metadata_line == 5


def test_derived_id_depends_on_deck_and_question_not_position() -> None:
    before = parse("## Q one\nA\n## Q two\nB\n").file.cards
    after = parse("## New\nN\n## Q one\nA changed\n\n## Q two\nB\n").file.cards

    assert [c.id for c in before] == [c.id for c in after[1:]]
    assert before[0].id == derive_id("default", "Q one")
    assert parse("## Q one\nA\n", deck="other").file.cards[0].id != before[0].id


def test_separator_makes_a_multi_line_question() -> None:
    text = "## What prints?\n<!-- id: p -->\n\n```python\nprint(1)\n```\n\n???\n\n`1`\n"

    card = parse(text).file.cards[0]

    assert card.question.split("\n")[0] == "What prints?"
    # Padded so that line n of the question is source line heading + n.
    assert card.question.split("\n")[3:6] == ["```python", "print(1)", "```"]
    assert card.answer == "`1`"
    assert card.answer_line == 10
    assert [block.location.line for block in card.blocks] == [4]


def test_second_separator_is_a_located_error() -> None:
    parsed = parse("## Q\nmore\n???\nA\n???\nB\n")

    [error] = parsed.diagnostics
    assert (error.location.line, error.severity.value) == (5, "error")


def test_separator_inside_code_is_text() -> None:
    card = parse("## Q\n```\n???\n```\n").file.cards[0]

    assert card.question == "Q"
    assert "???" in card.answer


def test_code_blocks_keep_line_language_options_and_code() -> None:
    text = '## Q\nA\n\n- item\n\n  ```python skip="no gpu" timeout=3\n  x = 1\n  ```\n'

    [block] = parse(text).file.cards[0].blocks

    assert block.location.line == 6
    assert block.location.column == 3
    assert block.language == "python"
    assert block.options == {"skip": "no gpu", "timeout": "3"}
    assert block.code == "x = 1\n"


def test_incomplete_cards_are_parsed_not_rejected() -> None:
    cards = parse("## No answer\n\n## \n<!-- id: x -->\n").file.cards

    assert [(c.has_question, c.has_answer) for c in cards] == [
        (True, False),
        (False, False),
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("## Q\n```python\nx = 1\n", 2, "code block is never closed"),
        ("---\ndeck: [\n---\n## Q\nA\n", 2, "front matter is not valid YAML"),
        ("---\ndeck: x\n## Q\nA\n", 1, "front matter is never closed"),
        ("---\ncolour: red\n---\n", 2, "unknown front matter key 'colour'"),
        ("---\ndeck: 'a::::b'\n---\n", 2, "cannot be used in Anki"),
        ("---\ntype: fancy\n---\n", 2, "unknown note type 'fancy'"),
        ("---\ntags: [a b]\n---\n", 2, "tag 'a b' cannot be used in Anki"),
        ("---\ntags: ['a::']\n---\n", 2, "tag 'a::' cannot be used in Anki"),
        ("---\ndeck: a\ndeck: b\n---\n", 3, "front matter sets 'deck' twice"),
        ("## A\x1fB\nx\n", 1, "control character U+001F"),
    ],
)
def test_file_level_problems_are_located_errors(
    text: str, line: int, message: str
) -> None:
    with pytest.raises(SourceError) as caught:
        parse(text)

    assert caught.value.location is not None
    assert caught.value.location.line == line
    assert message in caught.value.message
    assert caught.value.remedy


@pytest.mark.parametrize(
    ("metadata", "message", "line"),
    [
        ("<!-- colour: red -->", "unknown card metadata entry", 5),
        ("<!-- id: -bad -->", "card id '-bad' is not valid", 5),
        ("<!-- id: -->", "card id '' is not valid", 5),
        ("<!-- type: cloze9 -->", "unknown note type", 5),
    ],
)
def test_card_level_problems_are_located_errors(
    metadata: str, message: str, line: int
) -> None:
    parsed = parse(f"## Fine\nA\n\n## Q\n{metadata}\nA\n")

    [error] = [d for d in parsed.diagnostics if d.severity.value == "error"]
    assert message in error.message
    assert error.location.line == line
    assert parsed.file.cards[0].question == "Fine"


def test_file_without_cards_warns() -> None:
    [warning] = parse("# Just a title\n").diagnostics

    assert warning.severity.value == "warning"
    assert "no cards" in warning.message


def test_bom_crlf_and_cr_are_accepted(tmp_path: Path) -> None:
    expected = [("Q", "A\nmore"), ("R", "B")]
    for data in (
        b"\xef\xbb\xbf## Q\r\nA\r\nmore\r\n## R\r\nB\r\n",
        b"## Q\rA\rmore\r## R\rB\r",
    ):
        path = tmp_path / "x.md"
        path.write_bytes(data)

        cards = read_card_file(path).file.cards

        assert [(c.question, c.answer) for c in cards] == expected


def test_non_utf8_file_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "x.md"
    path.write_bytes(b"## Q\nna\xefve\n")

    with pytest.raises(SourceError) as caught:
        read_card_file(path)

    assert str(caught.value).startswith(f"{path}:2:3: error: file is not valid UTF-8")


def test_front_matter_values_are_read_as_written() -> None:
    text = "---\ndeck: 007\ntags: [yes, no, 0x1F]\n---\n## Q\nA\n"

    card = parse(text).file.cards[0]

    assert (card.deck, card.tags) == ("007", ("yes", "no", "0x1F"))


@pytest.mark.parametrize(
    "info",
    [
        "",
        "   ",
        "python",
        " python  run timeout=3 ",
        "python\ttimeout=3\r",
        "python include=../code_snippets/gan.py#train",
        "python x=\u00a0y\u000bz é",
        'python skip="needs a GPU"',
        "python skip='one two'",
        "python path=a\\ b",
    ],
)
def test_info_strings_split_as_a_shell_splits_them(info: str) -> None:
    language, *options = shlex.split(info) or [""]

    assert split_info(info) == (language, dict(o.partition("=")[::2] for o in options))


MOVED = """\
---
deck: Moved
---
## Plain?

Answer.

## With metadata and code?
<!-- id: moving; tags: a -->

```python
x = 1
```

## Cloze {{c1::deletion}}
???
Extra.
"""


def test_a_card_moved_down_its_file_is_its_moved_self() -> None:
    # `Card.moved` must move every line a card holds, as the cache keys cards on
    # their moved selves: checked against a real parse of the same file with
    # lines added above the cards.
    cards = parse(MOVED).file.cards
    lower = MOVED.replace("---\n## Plain", "---\nAn intro.\n\n\n## Plain", 1)

    moved = parse(lower).file.cards

    assert moved == tuple(card.moved(3) for card in cards)
    assert moved != cards


def test_hashes_without_a_space_warn_only_where_markdown_makes_a_heading() -> None:
    text = (
        "## Q\n\n<!--\n##TODO\n-->\n\n<pre>\n##include <stdio.h>\n</pre>\n\n"
        "$$\n##x\n$$\n\n<DIV>\n##raw\n</div>\n\n> ##quote\n\n##real\n\n"
        "`##code`\n\n    ##indented code\n"
    )

    parsed = parse(text)

    assert [(d.location.line, d.severity.value) for d in parsed.diagnostics] == [
        (19, "warning"),
        (21, "warning"),
    ]
