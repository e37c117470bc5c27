"""Cloze and type-in cards, judged by Anki's importer and template engine."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from anki.collection import Collection
from helpers import (
    NoteView,
    collection_notes,
    import_apkg,
    new_collection,
    note_card_ids,
    note_type_css,
    render_card,
)

from deckbuilder import Options, build

EPOCH = 1_700_000_000

CLOZE_CARDS = r"""---
deck: Cloze
type: cloze
---

## The discriminator outputs {{c1::the probability that its input is real::what}}.

Written $D(x)$.

## Fill in the code

```python
batch_z = np.random.{{c1::uniform}}(-1, 1, size=(64, {{c2::100}}))
d = {{c3::{"a": {"b": 1}}}}
e = {"a": {"b": 1}}
```

Then $x = {{c4::\frac{a}{\frac{b}{c}}}}$ and `{{c5::{"b": 1}}}`.

???

Both draw from $[-1, 1]$.

## {{c1::Paris {{c2::France}}::capital}}
"""

TYPE_IN_CARDS = """---
deck: Typed
type: type-in
---

## What does `np.zeros((2, 3)).shape` give?

(2, 3)

A tuple, one number per **dimension**.

## Which operator compares `a < b & c`?

a < b & c
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cards").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def col(tmp_path: Path) -> Iterator[Collection]:
    collection = new_collection(tmp_path)
    yield collection
    collection.close()


def text_of(field_html: str) -> str:
    """Return what a browser shows of `field_html`: no tags, no comments."""
    return html.unescape(re.sub(r"<!--.*?-->|<[^>]*>", "", field_html))


def rendered(col: Collection, note: NoteView) -> list[tuple[str, str]]:
    """Return each card's question and answer text, in template order."""
    cards = [render_card(col, card) for card in note_card_ids(col, note.guid)]
    return [(text_of(question), text_of(answer)) for question, answer in cards]


def built(project: Path, name: str, text: str, col: Collection) -> list[NoteView]:
    (project / "cards" / f"{name}.md").write_text(text)
    report = build([Path("cards")], Options(source_date_epoch=EPOCH))
    assert not report.errors, report.errors
    summary = import_apkg(col, Path(f"build/{name}.apkg"))
    assert summary.new == summary.found
    return collection_notes(col)


def test_cloze_cards_hide_one_cloze_each_as_written(
    project: Path, col: Collection
) -> None:
    sentence, code, nested = built(project, "cloze", CLOZE_CARDS, col)

    assert {note.note_type for note in (sentence, code, nested)} == {
        "deckbuilder cloze"
    }
    assert [note.card_count for note in (sentence, code, nested)] == [1, 5, 2]
    [(front, back)] = rendered(col, sentence)
    assert front.strip() == "The discriminator outputs [what]."
    assert "The discriminator outputs the probability that its input is real." in back
    assert r"Written \(D(x)\)." in back
    assert "cards/cloze.md:6" in back


def test_clozes_in_code_and_math_hide_exactly_their_text(
    project: Path, col: Collection
) -> None:
    _, code, _ = built(project, "cloze", CLOZE_CARDS, col)

    cards = rendered(col, code)

    fronts = [front for front, _ in cards]
    assert "batch_z = np.random.[...](-1, 1, size=(64, 100))" in fronts[0]
    assert "batch_z = np.random.uniform(-1, 1, size=(64, [...]))" in fronts[1]
    assert 'd = [...]\ne = {"a": {"b": 1}}' in fronts[2]
    assert r"\(x = [...]\)" in fronts[3]
    assert "and [...]." in fronts[4]
    # Every back shows the code and the math whole, as written.
    for _, back in cards:
        assert 'd = {"a": {"b": 1}}\ne = {"a": {"b": 1}}' in back
        assert r"\(x = \frac{a}{\frac{b}{c} } \)" in back
        assert 'and {"b": 1}.' in back
        assert "Both draw from" in back


def test_nested_clozes_get_a_card_each(project: Path, col: Collection) -> None:
    *_, nested = built(project, "cloze", CLOZE_CARDS, col)

    (outer_front, outer_back), (inner_front, _) = rendered(col, nested)

    assert outer_front.strip() == "[capital]"
    assert outer_back.startswith("Paris France")
    assert inner_front.strip() == "Paris [...]"


def test_type_in_card_compares_the_typed_line_and_shows_the_notes(
    project: Path, col: Collection
) -> None:
    shape, operator = built(project, "typed", TYPE_IN_CARDS, col)

    [(question, answer)] = [
        render_card(col, card) for card in note_card_ids(col, shape.guid)
    ]
    assert shape.note_type == "deckbuilder type-in"
    assert "[[type:Back]]" in question
    assert "[[type:Back]]" in answer
    assert "<strong>dimension</strong>" in answer
    assert shape.fields["Back"] == "(2, 3)"
    # What the reviewer does with the learner's input: compare it with the field.
    assert "typeBad" not in col.compare_answer(shape.fields["Back"], "(2, 3)")
    assert "typeBad" in col.compare_answer(shape.fields["Back"], "(3, 2)")
    assert operator.fields["Back"] == "a &lt; b &amp; c"
    assert "typeBad" not in col.compare_answer(operator.fields["Back"], "a < b & c")
    assert operator.fields["Extra"] == ""


@pytest.mark.parametrize(
    ("card", "line", "message"),
    [
        (
            "---\ntype: cloze\n---\n\n## No gap here\n\nanswer\n",
            5,
            "cloze card has no cloze (hide part of the question, e.g. `{{c1::Paris}}`)",
        ),
        (
            "## Gaps below\n<!-- type: cloze -->\n\nThe {{c1::answer}}.\n",
            1,
            "cloze card has no cloze (the clozes are in the answer; put a `???` "
            "line below the text that holds them)",
        ),
        (
            "## Shape?\n<!-- type: type-in -->\n\n```python\n(2, 3)\n```\n",
            4,
            "a type-in card's answer must start with the text to type (write the "
            "expected answer on the answer's first line, notes below it)",
        ),
        (
            "## Gaps\n<!-- type: cloze -->\n\nA {{c1::gap\n\n???\n\nextra\n",
            4,
            "cloze is never closed (end it with `}}`; braces inside a cloze must "
            "pair up)",
        ),
    ],
)
def test_cards_anki_could_not_ask_are_located_errors(
    project: Path, card: str, line: int, message: str
) -> None:
    (project / "cards" / "bad.md").write_text(card)

    report = build([Path("cards")], Options())

    assert [str(error) for error in report.errors] == [
        f"cards/bad.md:{line}:{3 if 'never closed' in message else 1}: error: {message}"
    ]
    assert report.packages == []


def test_incomplete_cloze_card_ships_a_card_that_says_so(
    project: Path, col: Collection
) -> None:
    (project / "cards" / "gaps.md").write_text("---\ntype: cloze\n---\n\n##\n")
    build([Path("cards")], Options(include_incomplete=True))
    import_apkg(col, Path("build/gaps.apkg"))

    [note] = collection_notes(col)
    [(front, back)] = rendered(col, note)

    assert "incomplete" in note.tags
    assert front.strip() == "Incomplete card: [...]"
    assert "Incomplete card: no question yet" in back


def test_changing_a_cards_note_type_is_refused_by_anki_and_keeps_the_note(
    project: Path, col: Collection
) -> None:
    card = project / "cards" / "words.md"
    card.write_text("## Paris\n<!-- id: paris -->\n\ncapital of France\n")
    build([Path("cards")], Options(source_date_epoch=EPOCH))
    import_apkg(col, Path("build/words.apkg"))

    card.write_text(
        "## {{c1::Paris}} is the capital of France\n<!-- id: paris; type: cloze -->\n"
    )  # noqa: E501
    build([Path("cards")], Options(source_date_epoch=EPOCH + 100))
    summary = import_apkg(col, Path("build/words.apkg"))

    [note] = collection_notes(col)
    assert (summary.new, summary.updated, summary.conflicting) == (0, 0, 1)
    assert note.note_type == "deckbuilder"
    assert "capital of France" in note.fields["Back"]


def test_a_decks_css_applies_to_its_cards_only(project: Path, col: Collection) -> None:
    (project / "styles").mkdir()
    (project / "styles" / "gans.css").write_text(
        "/* GAN cards */\nh3 { color: teal; }\n.nightMode h3 { color: aqua; }\n"
    )
    (project / "cards" / "gans.md").write_text(
        "---\ndeck: ML::GANs\ncss: ../styles/gans.css\n---\n\n## G?\n\n### Generator\n"
    )
    (project / "cards" / "words.md").write_text(
        "---\ndeck: Words\ntype: reversed\n---\n\n## Hund\n\ndog\n"
    )

    report = build([Path("cards")], Options(source_date_epoch=EPOCH))
    import_apkg(col, Path("build/ml.gans.apkg"))
    import_apkg(col, Path("build/words.apkg"))

    assert not report.errors
    css = note_type_css(col, "deckbuilder")
    scope = '.deck[data-deck="ML::GANs"]'
    assert f"/* GAN cards */\n{scope} h3 {{ color: teal; }}" in css
    assert f".nightMode {scope} h3 {{ color: aqua; }}" in css
    gans, words = collection_notes(col)
    assert (gans.card_count, words.card_count) == (1, 2)
    [(question, answer)] = [render_card(col, c) for c in note_card_ids(col, gans.guid)]
    assert question.startswith('<div class="deck" data-deck="ML::GANs">')
    assert answer.startswith('<div class="deck" data-deck="ML::GANs">')
    for card in note_card_ids(col, words.guid):
        assert render_card(col, card)[0].startswith(
            '<div class="deck" data-deck="Words">'
        )


@pytest.mark.parametrize(
    ("front_matter", "where", "message"),
    [
        (
            "css: ../../outside.css",
            "cards/gans.md:3:1",
            "stylesheet '../../outside.css' is outside the project",
        ),  # noqa: E501
        (
            "css: missing.css",
            "cards/gans.md:3:1",
            "cannot read stylesheet 'missing.css': No such file or directory",
        ),  # noqa: E501
        ("css: ../bad.css", "bad.css:2:4", "stylesheet block is never closed"),
    ],
)
def test_deck_css_problems_are_located_errors(
    project: Path, front_matter: str, where: str, message: str
) -> None:
    (project.parent / "outside.css").write_text("p { }")
    (project / "bad.css").write_text("p { }\nh3 { color: red;\n")
    (project / "cards" / "gans.md").write_text(
        f"---\ndeck: GANs\n{front_matter}\n---\n\n## Q\n\nA\n"
    )

    report = build([Path("cards")], Options())

    [error] = report.errors
    assert (str(error.location), error.message) == (where, message)
