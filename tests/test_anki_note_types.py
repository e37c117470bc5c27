"""Cards with an Anki note type file: their fields, GUIDs, CSS, and every mistake in
them answered with a located error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import assert_located_error, read_apkg_notes

from deckbuilder import Options, Report, build
from deckbuilder.package import CODE_CSS_END, CODE_CSS_START

EPOCH = 1_700_000_000
VOCAB = """\
id: 1700000000123
name: Vocab
fields: [Word, Meaning, Example]
templates:
  - name: Recognise
    front: "{{Word}}"
    back: "{{FrontSide}}<hr id=answer>{{Meaning}}<br>{{Example}}"
css: ".card { color: navy; }"
sort-field: Meaning
"""
CARDS = """\
---
deck: Spanish
note-type: types/vocab.yaml
---

## gato
<!-- guid: a%3Bb>c; tags: noun -->

cat

<!-- field: Example -->

El *gato* duerme.

```python
print("<!-- field: Example -->")
```

## perro

dog
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "cards" / "types").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def build_with(cards: str = CARDS, vocab: str = VOCAB, **settings: object) -> Report:
    Path("cards/spanish.md").write_text(cards, encoding="utf-8")
    Path("cards/types/vocab.yaml").write_text(vocab, encoding="utf-8")
    settings = {"source_date_epoch": EPOCH, **settings}
    options = Options(**settings)  # type: ignore[arg-type]
    return build([Path("cards")], options)


def test_cards_fill_the_note_types_fields_and_keep_their_guid(project: Path) -> None:
    report = build_with()

    gato, perro = read_apkg_notes(Path("build/spanish.apkg"), project)
    assert report.diagnostics == []
    assert gato.note_type == perro.note_type == "Vocab"
    assert gato.guid == "a;b>c"
    assert gato.tags == ("noun",)
    # One paragraph goes in bare, as Anki's editor writes a field; more stay blocks.
    assert gato.fields["Word"] == "gato"
    assert gato.fields["Meaning"] == "cat"
    assert gato.fields["Example"].startswith("<p>El <em>gato</em> duerme.</p>")
    assert "&lt;!-- field: Example --&gt;" in gato.fields["Example"]
    assert perro.fields == {
        "Word": "perro",
        "Meaning": "dog",
        "Example": "",
    }


def test_a_cards_type_line_is_text_not_a_front_matter_key(project: Path) -> None:
    # Front matter keys were once looked for in the whole file, so an answer line
    # starting `type:` read as a `type` key beside `note-type`.
    report = build_with(CARDS.replace("\ndog\n", "\ntype: dog\n"))

    _, perro = read_apkg_notes(Path("build/spanish.apkg"), project)
    assert report.diagnostics == []
    assert perro.fields["Meaning"] == "type: dog"


def test_the_package_carries_the_note_type_with_its_id_css_and_sort_field(
    project: Path,
) -> None:
    import json
    import sqlite3
    import zipfile

    build_with()

    with zipfile.ZipFile("build/spanish.apkg") as archive:
        Path("collection.anki2").write_bytes(archive.read("collection.anki2"))
    connection = sqlite3.connect("collection.anki2")
    (models,) = connection.execute("SELECT models FROM col").fetchone()
    connection.close()
    model = json.loads(models)["1700000000123"]
    assert model["name"] == "Vocab"
    assert [field["name"] for field in model["flds"]] == ["Word", "Meaning", "Example"]
    assert model["sortf"] == 1
    assert model["css"].startswith(".card { color: navy; }\n" + CODE_CSS_START)
    assert "pre.code { text-align: left; overflow-x: auto; }" in model["css"]
    assert model["css"].rstrip().endswith(CODE_CSS_END)


def test_an_edited_note_type_file_is_built_afresh(project: Path) -> None:
    build_with()
    first = Path("build/spanish.apkg").read_bytes()

    build_with(vocab=VOCAB.replace("navy", "teal"))
    cached = Path("build/spanish.apkg").read_bytes()
    build_with(vocab=VOCAB.replace("navy", "teal"), cache=False)

    assert cached != first
    assert cached == Path("build/spanish.apkg").read_bytes()


BAD = {
    "missing file": (
        CARDS.replace("types/vocab.yaml", "types/nope.yaml"),
        VOCAB,
        "cards/spanish.md:3:1: error: note type file types/nope.yaml does not exist "
        "(write the note type file's path relative to the card file's folder, e.g. "
        "`note-type: note-types/basic.yaml`)",
    ),
    "outside the project": (
        CARDS.replace("types/vocab.yaml", "../../vocab.yaml"),
        VOCAB,
        "cards/spanish.md:3:1: error: note type file ../../vocab.yaml is outside the "
        "project (keep note type files inside {root}, next to the cards)",
    ),
    "type beside note-type": (
        CARDS.replace("deck: Spanish", "deck: Spanish\ntype: cloze"),
        VOCAB,
        "cards/spanish.md:3:1: error: front matter sets both `type` and `note-type` "
        "(delete `type`: the note type file says what kind of card it is)",
    ),
    "unknown key": (
        CARDS,
        VOCAB + "colour: red\n",
        "cards/types/vocab.yaml:10:1: error: unknown note type key 'colour' (use one "
        "of: id, name, kind, fields, templates, css, sort-field)",
    ),
    "bad id": (
        CARDS,
        VOCAB.replace("id: 1700000000123", "id: -3"),
        "cards/types/vocab.yaml:1:1: error: note type id must be a positive whole "
        "number, not -3 (keep the id Anki gave the note type: Anki matches note "
        "types by it)",
    ),
    "field name with a colon": (
        CARDS,
        VOCAB.replace("Meaning,", "Mean:ing,"),
        "cards/types/vocab.yaml:3:1: error: field name 'Mean:ing' cannot be used in "
        'Anki (name fields with words, without `:`, `{`, `}` or `"`, and not starting '
        "with `#`, `/` or `^`)",
    ),
    "unknown field section": (
        CARDS.replace("field: Example", "field: Picture"),
        VOCAB,
        "cards/spanish.md:11:1: error: note type 'Vocab' has no field 'Picture' after "
        "its first two (the question and the answer fill the first two fields; name "
        "one of: Example)",
    ),
    "field section for the answer": (
        CARDS.replace("field: Example", "field: Meaning"),
        VOCAB,
        "cards/spanish.md:11:1: error: note type 'Vocab' has no field 'Meaning' after "
        "its first two (the question and the answer fill the first two fields; name "
        "one of: Example)",
    ),
    "bad guid": (
        CARDS.replace("a%3Bb>c", "a%0Ab"),
        VOCAB,
        "cards/spanish.md:7:1: error: guid 'a%0Ab' is not an Anki GUID (keep the guid "
        "as the import wrote it; delete it to give the card a new note)",
    ),
    "template naming a missing field": (
        CARDS,
        VOCAB.replace("{{Example}}", "{{#Picture}}{{text:Picture}}{{/Picture}}"),
        "cards/types/vocab.yaml:4:1: error: template 'Recognise' names the field "
        "'Picture', which the note type does not have (use one of its fields (Word, "
        "Meaning, Example) or a special one such as FrontSide, or add the field to "
        "`fields`)",
    ),
    "not YAML": (
        CARDS,
        VOCAB.replace("fields: [Word,", "fields: [Word,,"),
        "cards/types/vocab.yaml:3:1: error: note type file is not valid YAML: "
        "expected the node content, but found ',' (fix the YAML; quote template "
        "text that holds `: ` or starts with `{`)",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_mistakes_are_located_errors(project: Path, case: str) -> None:
    cards, vocab, expected = BAD[case]

    report = build_with(cards, vocab)

    root = os.path.realpath(project)
    assert_located_error(report, project, expected.replace("{root}", root))
    assert not Path("build/spanish.apkg").exists()


def test_field_sections_need_a_note_type(project: Path) -> None:
    Path("cards/plain.md").write_text(
        "## q\n\na\n\n<!-- field: Extra -->\n\nmore\n", encoding="utf-8"
    )

    report = build([Path("cards")], Options(source_date_epoch=EPOCH))

    assert_located_error(
        report,
        project,
        "cards/plain.md:5:1: error: field sections need an Anki note type (name a "
        "note type file with `note-type:` in the front matter or the card's "
        "metadata, or delete the `<!-- field: ... -->` line)",
    )


def test_an_edited_note_type_reaches_anki_on_the_next_import(project: Path) -> None:
    import os
    import time

    from helpers import import_apkg, new_collection, note_type_css

    build_with(source_date_epoch=None)
    col = new_collection(project)
    try:
        first = import_apkg(col, Path("build/spanish.apkg"))
        Path("cards/types/vocab.yaml").write_text(VOCAB.replace("navy", "teal"))
        later = time.time() + 60
        os.utime("cards/types/vocab.yaml", (later, later))
        options = Options(source_date_epoch=None)
        assert not build([Path("cards")], options).errors
        second = import_apkg(col, Path("build/spanish.apkg"))

        assert (first.new, second.conflicting) == (2, 0)
        assert ".card { color: teal; }" in note_type_css(col, "Vocab")
    finally:
        col.close()


def test_two_cards_with_one_guid_are_an_error_naming_both(project: Path) -> None:
    Path("cards/old.md").write_text(
        "---\ndeck: Old\nnote-type: types/vocab.yaml\n---\n## gato\n"
        "<!-- guid: a%3Bb>c -->\n\ncat\n",
        encoding="utf-8",
    )

    report = build_with()

    assert_located_error(
        report,
        project,
        "cards/spanish.md:6:1: error: card has the guid 'a;b>c' of another card "
        "(cards/old.md:5:1 has it too: one Anki note cannot come from two cards; "
        "delete one (a file left from an earlier import?), or its guid to make it a "
        "new note)",
    )


def test_a_card_with_fields_moved_down_its_file_is_its_moved_self(
    project: Path,
) -> None:
    # The cache keys cards on their moved selves (see test_parse.py): field
    # sections hold lines too.
    from deckbuilder.parse import read_card_file

    Path("cards/types/vocab.yaml").write_text(VOCAB, encoding="utf-8")
    path = Path("cards/spanish.md")
    path.write_text(CARDS, encoding="utf-8")
    cards = read_card_file(path).file.cards
    path.write_text(CARDS.replace("---\n\n## gato", "---\n\nA word.\n\n## gato"))

    moved = read_card_file(path).file.cards

    assert cards[0].fields
    assert moved == tuple(card.moved(2) for card in cards)


def test_templates_may_use_filters_sections_and_anki_own_fields(project: Path) -> None:
    back = (
        "{{FrontSide}}<hr id=answer>{{text:hint:Meaning}}{{#Example}}{{ Example }}"
        "{{/Example}}{{^Example}}-{{/Example}}{{type:Meaning}} {{Tags}} {{Deck}} "
        "{{Subdeck}} {{Card}} {{CardFlag}} {{tts en_US voices=Apple:Word}}"
    )
    vocab = VOCAB.replace(
        '"{{FrontSide}}<hr id=answer>{{Meaning}}<br>{{Example}}"', repr(back)
    )

    report = build_with(vocab=vocab)

    assert report.errors == []
    assert Path("build/spanish.apkg").exists()
