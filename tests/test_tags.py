"""Tags: what Anki keeps as written is accepted, what it would change is an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import read_apkg_notes

from deckbuilder import Options, build
from deckbuilder.errors import SourceError
from deckbuilder.parse import Parsed, parse_text

ACCEPTED = [
    "ml::gans",
    "ml::gans::tf1",
    "ML2",
    "c++",
    "a:b",
    "x_y",
    "日本語",
    "naïve",
    "#1",
]


def parse(text: str) -> Parsed:
    return parse_text(text, Path("cards/t.md"), default_deck="t")


def test_accepted_tags_reach_anki_exactly_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cards").mkdir()
    listed = ", ".join(f"'{tag}'" for tag in ACCEPTED[:4])
    (tmp_path / "cards" / "t.md").write_text(
        f"---\ntags: [{listed}]\n---\n\n## Q\n<!-- tags: {' '.join(ACCEPTED[4:])} -->\n\nA\n"  # noqa: E501
    )
    assert not build([Path("cards")], Options(source_date_epoch=1)).errors

    [note] = read_apkg_notes(Path("build/t.apkg"), tmp_path)

    assert note.tags == tuple(sorted(ACCEPTED))


def test_tags_are_stored_composed_as_anki_stores_them() -> None:
    parsed = parse("---\ntags: [nai\u0308ve]\n---\n## Q\nA\n")

    assert parsed.file.cards[0].tags == ("na\u00efve",)


@pytest.mark.parametrize("tags", ["[ml::]", "[a: b]", "[x, 'y', ml::gans:]"])
def test_a_tag_yaml_reads_as_a_mapping_is_explained(tags: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse(f"---\ndeck: d\ntags: {tags}\n---\n## Q\nA\n")

    assert str(caught.value.location) == "cards/t.md:3:1"
    assert "YAML reads it as a mapping" in caught.value.message
    assert caught.value.remedy.startswith("quote the tag")


@pytest.mark.parametrize(
    ("tags", "problem"),
    [
        ("['a\u3000b']", "it holds the space U+3000"),
        ("['a\u00a0b']", "it holds the space U+00A0"),
        ("['say \"hi\"']", "it holds the space U+0020"),
        ("['say\"hi\"']", "it holds a double quote"),
        ("['zero\u200bwidth']", "it holds the invisible character U+200B"),
        ("['a::']", "`::` must stand between words"),
        ("['::a']", "`::` must stand between words"),
        ("['a::::b']", "`::` must stand between words"),
    ],
)
def test_tags_anki_would_change_are_located_errors(tags: str, problem: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse(f"---\ndeck: d\ntags: {tags}\n---\n## Q\nA\n")

    assert str(caught.value.location) == "cards/t.md:3:1"
    assert caught.value.message.endswith(f"cannot be used in Anki: {problem}")


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ("[ML]", "ml", 'tag "ml" spells "ML" as "ml"'),
        ("[ml::gans]", "ML::GANs::tf1", 'tag "ML::GANs::tf1" spells "ml" as "ML"'),
        ("[ml::gans]", "ml::GANs", 'tag "ml::GANs" spells "ml::gans" as "ml::GANs"'),
    ],
)
def test_tags_spelling_one_tag_two_ways_are_an_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    first: str,
    second: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "a.md").write_text(f"---\ntags: {first}\n---\n\n## Q\n\nA\n")
    (tmp_path / "cards" / "b.md").write_text(f"## R\n<!-- tags: {second} -->\n\nB\n")

    report = build([Path("cards")], Options(source_date_epoch=1))

    # Each place is the line the tag is written on.
    [error] = report.errors
    assert str(error) == (
        f"cards/b.md:2:1: error: {message} (Anki compares tags without case and "
        "keeps the spelling at cards/a.md:2:1; spell them alike)"
    )


def test_a_cards_bad_tag_is_an_error_on_its_metadata_line() -> None:
    parsed = parse('## Fine\nA\n\n## Q\n<!-- tags: ok say"hi" -->\nA\n')

    [error] = parsed.diagnostics
    assert str(error.location) == "cards/t.md:5:1"
    assert (
        error.message
        == """tag 'say"hi"' cannot be used in Anki: it holds a double quote"""
    )
    assert [card.title for card in parsed.file.cards] == ["Fine"]
