"""Rewriting some lines of a text and keeping every other byte, endings included."""

from __future__ import annotations

import pytest

from deckbuilder.textlines import TextLines


@pytest.mark.parametrize(
    "text", ["", "a", "a\n", "a\r\nb\rc\n", "\n\n", "a\r\n\r\nb", "\r\r\n\n"]
)
def test_a_text_split_and_joined_is_the_same_text(text: str) -> None:
    assert str(TextLines(text)) == text


def test_lines_are_those_the_parser_counts() -> None:
    lines = TextLines("a\r\nb\rc\nd")

    assert lines.lines == ["a", "b", "c", "d"]
    assert lines.endings == ["\r\n", "\r", "\n", ""]


def test_an_added_line_takes_the_ending_of_the_line_above() -> None:
    lines = TextLines("a\nb\r\nc\n")

    lines.insert(2, "new")

    assert str(lines) == "a\nb\r\nnew\r\nc\n"


def test_replaced_lines_end_as_the_line_above_the_last_as_the_last_replaced() -> None:
    lines = TextLines("open\r\nold\nmore\r\nclose")

    lines.replace(1, 3, ["x", "y", "z"])

    assert str(lines) == "open\r\nx\r\ny\r\nz\r\nclose"


def test_a_line_added_after_a_last_line_without_ending_gives_it_the_usual_one() -> None:
    lines = TextLines("a\r\nb\r\nc\nd")

    lines.insert(4, "e")

    assert str(lines) == "a\r\nb\r\nc\nd\r\ne\r\n"
