"""Cloze syntax: where a cloze ends, its hint, and the braces written for Anki."""

from __future__ import annotations

import pytest

from deckbuilder.cloze import (
    HTML_SEPARATOR,
    ClozeError,
    cloze_numbers,
    find_clozes,
    remove_markers,
    separate_all,
)


def hidden(text: str) -> list[tuple[int, str, str | None]]:
    return [
        (cloze.number, text[cloze.text_start : cloze.text_end], cloze.hint)
        for cloze in find_clozes(text)
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Paris is the {{c1::capital}} of {{c2::France}}.",
            [(1, "capital", None), (2, "France", None)],
        ),  # noqa: E501
        ("{{c1::Paris::city}}", [(1, "Paris", "city")]),
        # As in Anki, the first `::` starts the hint, however many follow.
        ("{{c1::a::b::c}}", [(1, "a", "b::c")]),
        # Braces inside a cloze pair up: the dict is hidden whole.
        ('{{c1::{"a": {"b": 1}}}}', [(1, '{"a": {"b": 1}}', None)]),
        # Outside any cloze, `}}` is text.
        ('x = {"a": {"b": 1}} and {{c1::y}}', [(1, "y", None)]),
        # A backslashed brace (LaTeX's literal brace) does not count.
        (r"{{c1::\{x}}", [(1, r"\{x", None)]),
        (r"{{c1::a\\}}", [(1, "a\\\\", None)]),
        # Nested clozes end first.
        ("{{c1::a {{c2::b}} c}}", [(2, "b", None), (1, "a {{c2::b}} c", None)]),
        ("{{C1::not a cloze}} {{c12::twelve}}", [(12, "twelve", None)]),
    ],
)
def test_clozes_end_where_their_braces_pair_up(
    text: str, expected: list[tuple[int, str, str | None]]
) -> None:
    assert hidden(text) == expected


@pytest.mark.parametrize(
    ("text", "offset", "message"),
    [
        ("see {{c1::never closed", 4, "cloze is never closed"),
        ("{{c1::if x {}}", 0, "cloze is never closed"),
        ("a {{c0::zero}}", 2, "cloze numbers start at 1"),
        ("a {{c1::  }}", 2, "cloze hides nothing"),
    ],
)
def test_clozes_anki_would_misread_are_errors(
    text: str, offset: int, message: str
) -> None:
    with pytest.raises(ClozeError) as caught:
        find_clozes(text)

    assert (caught.value.offset, caught.value.message) == (offset, message)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Anki ends a cloze at the first `}}`: inner pairs are split, and so is a
        # last brace from the closing marker.
        ('{{c1::{"a": {"b": 1}}}}', '{{c1::{"a": {"b": 1}<!-- -->}<!-- -->}}'),
        ("{{c1::{x}::hint}}", "{{c1::{x}::hint}}"),
        # Braces outside clozes and the markers of nested clozes stay as they are.
        ("{a}} {{c1::a {{c2::b}} c}}", "{a}} {{c1::a {{c2::b}} c}}"),
        ("{{c1::a {{c2::{b}}} c}}", "{{c1::a {{c2::{b}<!-- -->}} c}}"),
        # Unclosed: left alone; the sources report it.
        ("{{c1::{x}}", "{{c1::{x}}"),
    ],
)
def test_separated_braces_make_anki_end_clozes_where_intended(
    text: str, expected: str
) -> None:
    assert separate_all(text, HTML_SEPARATOR) == expected


def test_cloze_numbers_are_distinct_and_sorted() -> None:
    assert cloze_numbers("{{c3::a}} {{c1::b}} {{c3::c}} {{c2::d {{c4::e}}}}") == [
        1,
        2,
        3,
        4,
    ]
    assert cloze_numbers("{{c1::unclosed") == []


def test_removing_markers_leaves_the_text_the_back_shows_on_the_same_lines() -> None:
    code = 'x = np.{{c1::zeros::fn}}((2, 3))\nd = {{c2::{"a": {\n  "b": 1}}}}\n'

    assert remove_markers(code) == 'x = np.zeros((2, 3))\nd = {"a": {\n  "b": 1}}\n'
    assert remove_markers("{{c1::unclosed") == "{{c1::unclosed"
