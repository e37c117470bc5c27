"""Anki packages to card files and back: a deck made with Anki's own API is studied,
exported, imported as Markdown, built, and imported into the collection it came from,
which must update the same notes and keep their reviews."""

from __future__ import annotations

import html
import re
import time
import zipfile
from pathlib import Path

import pytest
from anki.collection import Collection, ExportAnkiPackageOptions
from anki.import_export_pb2 import ExportLimit
from helpers import (
    answer_all_cards,
    collection_notes,
    import_apkg,
    new_collection,
    read_apkg_notes,
    review_log_count,
)

from deckbuilder import Options, build
from deckbuilder.errors import ExportFormatError, OutputError
from deckbuilder.importers import importer
from deckbuilder.importers.write import write_import

PIXEL = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00"
    b"\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
CODE_FIELD = (
    '<pre><code class="language-python">def square(x):\n'
    "    return x * x &lt; 10\n</code></pre>"
)


def add(
    col: Collection, note_type: str, deck: str, tags: list[str], *fields: str
) -> None:
    note = col.new_note(col.models.by_name(note_type))
    for index, value in enumerate(fields):
        note.fields[index] = value
    note.tags = tags
    col.add_note(note, col.decks.id(deck))


def vocab_note_type(col: Collection) -> None:
    models = col.models
    model = models.new("Vocab")
    for name in ("Word", "Meaning", "Example"):
        models.add_field(model, models.new_field(name))
    template = models.new_template("Recognise")
    template["qfmt"] = "{{Word}}"
    template["afmt"] = "{{FrontSide}}<hr id=answer>{{Meaning}}<br>{{Example}}"
    models.add_template(model, template)
    model["css"] = ".card { color: navy; }"
    models.add(model)


def make_collection(tmp_path: Path) -> Collection:
    col = new_collection(tmp_path)
    vocab_note_type(col)
    image = tmp_path / "dot.png"
    image.write_bytes(PIXEL)
    col.media.add_file(str(image))
    add(
        col,
        "Basic",
        "Languages::Spanish",
        ["es", "noun"],
        "<b>casa</b>",
        'house <img src="dot.png">',
    )
    add(
        col,
        "Basic (and reversed card)",
        "Languages::Spanish",
        ["es"],
        "perro",
        "<ul><li>dog</li><li>hound</li></ul>",
    )
    add(
        col,
        "Cloze",
        "Maths",
        ["algebra"],
        r"The area of a circle is {{c1::\(\pi r^2\)}}, "
        r"its perimeter {{c2::\(2\pi r\)}}.",
        "<i>r</i> is the radius",
    )
    add(col, "Basic (type in the answer)", "Maths", [], "2 + 2 =", "4")
    add(col, "Basic", "Programming::Python", ["code"], "Square a number", CODE_FIELD)
    add(
        col,
        "Vocab",
        "Languages::Spanish",
        ["es"],
        "gato",
        "cat",
        "El <b>gato</b> duerme.",
    )
    return col


def export(col: Collection, path: Path, *, legacy: bool = False) -> Path:
    col.export_anki_package(
        out_path=str(path),
        options=ExportAnkiPackageOptions(
            with_scheduling=True, with_media=True, legacy=legacy
        ),
        limit=ExportLimit(),
    )
    return path


def exported(tmp_path: Path) -> Path:
    """Return a package exported from a fresh `make_collection`, closed again."""
    col = make_collection(tmp_path)
    try:
        return export(col, tmp_path / "deck.apkg")
    finally:
        col.close()


def import_into_project(package: Path, project: Path) -> Path:
    (project / ".git").mkdir(parents=True)
    imported = importer("apkg")(package)
    write_import(imported, project / "cards", source=package)
    return project / "cards"


def build_project(project: Path) -> list[Path]:
    options = Options(out=project / "build", source_date_epoch=int(time.time()) + 60)
    report = build([project / "cards"], options)
    assert not report.errors, report.errors
    return [Path(path) for path in report.packages]


def text_of(field: str) -> str:
    """Return the characters a field shows, without markup and whitespace.

    The rebuilt fields are HTML rendered from Markdown, not the original HTML: the
    same words in other markup (`<p>` for a `<div>`, highlighted code in spans).
    """
    without_tags = re.sub(r"<[^>]+>", "", field)
    return "".join(html.unescape(without_tags).split())


@pytest.mark.parametrize("legacy", [False, True], ids=["current", "legacy"])
def test_round_trip_updates_the_same_notes_and_keeps_reviews(
    tmp_path: Path, legacy: bool
) -> None:
    col = make_collection(tmp_path)
    try:
        answered = answer_all_cards(col)
        reviews = review_log_count(col)
        before = {note.guid: note for note in collection_notes(col)}
        due = {card_id: col.get_card(card_id).due for card_id in col.find_cards("")}
        package = export(col, tmp_path / "deck.apkg", legacy=legacy)

        cards = import_into_project(package, tmp_path / "project")
        packages = build_project(tmp_path / "project")
        summaries = [import_apkg(col, path) for path in packages]

        assert answered == 8  # six notes; the reversed and the cloze note have two
        assert sum(summary.updated for summary in summaries) == 6
        assert sum(summary.new for summary in summaries) == 0
        assert sum(summary.conflicting for summary in summaries) == 0
        after = {note.guid: note for note in collection_notes(col)}
        assert after.keys() == before.keys()
        for guid, note in after.items():
            old = before[guid]
            assert note.note_type == old.note_type
            assert note.tags == old.tags
            assert note.decks == old.decks
            assert note.card_count == old.card_count
            assert {name: text_of(v) for name, v in note.fields.items()} == {
                name: text_of(v) for name, v in old.fields.items()
            }, guid
        assert review_log_count(col) == reviews
        assert {cid: col.get_card(cid).due for cid in col.find_cards("")} == due
        assert (cards / "media" / "dot.png").read_bytes() == PIXEL
    finally:
        col.close()


def test_fields_become_markdown_with_code_math_and_clozes(tmp_path: Path) -> None:
    package = exported(tmp_path)

    cards = import_into_project(package, tmp_path / "project")

    python = (cards / "programming.python.md").read_text(encoding="utf-8")
    assert "```python\ndef square(x):\n    return x * x < 10\n```" in python
    maths = (cards / "maths.md").read_text(encoding="utf-8")
    assert "{{c1::$\\pi r^2$}}" in maths
    assert "{{c2::$2\\pi r$}}" in maths
    spanish = (cards / "languages.spanish.md").read_text(encoding="utf-8")
    assert "## **casa**" in spanish
    assert "![](media/dot.png)" in spanish
    assert "<!-- field: Example -->\n\nEl **gato** duerme." in spanish
    assert re.search(r"^deck: Languages::Spanish$", spanish, re.M)
    assert sorted(p.name for p in (cards / "note-types").iterdir()) == [
        "basic-and-reversed-card.yaml",
        "basic-type-in-the-answer.yaml",
        "basic.yaml",
        "cloze.yaml",
        "vocab.yaml",
    ]


def test_scripts_and_event_handlers_are_removed_and_reported(tmp_path: Path) -> None:
    col = new_collection(tmp_path)
    try:
        add(
            col,
            "Basic",
            "Default",
            [],
            "Click <a href='javascript:alert(1)'>here</a>",
            '<img src="x.png" onerror="alert(1)"><script>steal()</script>done',
        )
        package = export(col, tmp_path / "deck.apkg")
    finally:
        col.close()

    imported = importer("apkg")(package)

    (deck,) = imported.decks
    text = deck.cards[0].question + deck.cards[0].answer
    assert "javascript" not in text
    assert "steal" not in text
    assert "onerror" not in text
    messages = [d.message for d in imported.all_diagnostics]
    assert any("javascript: link" in m for m in messages), messages
    assert any("<script> element" in m for m in messages), messages
    assert any("onerror" in m for m in messages), messages


def test_a_media_name_that_leaves_the_media_folder_is_refused(tmp_path: Path) -> None:
    col = new_collection(tmp_path)
    try:
        add(col, "Basic", "Default", [], "q", "a")
        package = export(col, tmp_path / "deck.apkg", legacy=True)
    finally:
        col.close()
    evil = tmp_path / "evil.apkg"
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(evil, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "media":
                data = b'{"0": "../../escaped.txt"}'
            target.writestr(entry, data)
        target.writestr("0", b"gotcha")

    with pytest.raises(ExportFormatError, match="outside the media folder"):
        importer("apkg")(evil)
    assert not (tmp_path / "escaped.txt").exists()


def test_an_import_writes_nothing_when_a_file_exists(tmp_path: Path) -> None:
    package = exported(tmp_path)
    out = tmp_path / "cards"
    out.mkdir()
    (out / "maths.md").write_text("mine")

    with pytest.raises(OutputError, match="file already exists"):
        write_import(importer("apkg")(package), out, source=package)

    assert sorted(p.name for p in out.iterdir()) == ["maths.md"]
    assert (out / "maths.md").read_text() == "mine"


def test_not_a_package_is_a_located_error(tmp_path: Path) -> None:
    bogus = tmp_path / "deck.apkg"
    bogus.write_text("hello")

    with pytest.raises(ExportFormatError) as caught:
        importer("apkg")(bogus)

    assert str(caught.value).startswith(f"{bogus}:1:1: error: not an Anki package")


def test_a_collection_package_imports_every_deck(tmp_path: Path) -> None:
    col = make_collection(tmp_path)
    try:
        package = tmp_path / "all.colpkg"
        col.export_collection_package(str(package), include_media=True, legacy=False)
    finally:
        col.close()

    imported = importer("colpkg")(package)

    assert sorted(deck.name for deck in imported.decks) == [
        "Languages::Spanish",
        "Maths",
        "Programming::Python",
    ]
    assert imported.card_count == 6
    assert [m.name for m in imported.media] == ["dot.png"]


def test_a_deckbuilder_package_comes_back_as_deckbuilder_cards(tmp_path: Path) -> None:
    project = tmp_path / "first"
    (project / "cards").mkdir(parents=True)
    (project / ".git").mkdir()
    (project / "cards" / "ml.md").write_text(
        "## Hund\n<!-- type: reversed -->\n\ndog\n\n"
        "## The generator maps {{c1::noise}} to images.\n<!-- type: cloze -->\n",
        encoding="utf-8",
    )
    (package,) = build_project(project)

    imported = importer("apkg")(package)

    (deck,) = imported.decks
    assert [(c.question, c.answer, c.type, c.note_type) for c in deck.cards] == [
        ("Hund", "dog", "reversed", 0),
        ("The generator maps {{c1::noise}} to images.", "", "cloze", 0),
    ]
    assert imported.note_types == ()


TYPE_IN_CARD = """## Markdown in expected
<!-- type: type-in -->

**bold** & <tag>

more
"""


def test_a_type_in_answer_comes_back_as_written_and_rebuilds_the_same(
    tmp_path: Path,
) -> None:
    # The expected answer is plain text: the build HTML-escapes it and renders no
    # Markdown, so the import must give back the line as written, unescaped.
    first = tmp_path / "first"
    (first / "cards").mkdir(parents=True)
    (first / ".git").mkdir()
    (first / "cards" / "typein.md").write_text(TYPE_IN_CARD, encoding="utf-8")
    (package,) = build_project(first)

    cards = import_into_project(package, tmp_path / "second")
    (rebuilt,) = build_project(tmp_path / "second")

    text = (cards / "typein.md").read_text(encoding="utf-8")
    assert "\n\n**bold** & <tag>\n\nmore\n" in text
    (before,) = read_apkg_notes(package, tmp_path)
    (after,) = read_apkg_notes(rebuilt, tmp_path)
    assert before.fields["Back"] == "**bold** &amp; &lt;tag&gt;"
    # Source names the card file and line a card was built from, so it moves.
    same = ("Front", "Back", "Extra")
    assert [after.fields[name] for name in same] == [
        before.fields[name] for name in same
    ]
    assert after.guid == before.guid


@pytest.mark.parametrize(
    ("back", "expected", "warning"),
    [
        ("<b>x</b> &amp; y", "x & y", "the formatting of its expected answer"),
        ("???", "???", "its expected answer '???' cannot be the first line"),
        ("one<br>two", "one\ntwo", "'one\\ntwo' cannot be the first line"),
        ("", "", "its expected answer is empty"),
    ],
    ids=["formatting", "separator", "line-break", "empty"],
)
def test_a_type_in_answer_edited_in_anki_comes_back_as_its_text(
    tmp_path: Path, back: str, expected: str, warning: str
) -> None:
    project = tmp_path / "first"
    (project / "cards").mkdir(parents=True)
    (project / ".git").mkdir()
    (project / "cards" / "typein.md").write_text(TYPE_IN_CARD, encoding="utf-8")
    (built,) = build_project(project)
    col = new_collection(tmp_path)
    try:
        import_apkg(col, built)
        (note_id,) = col.find_notes("")
        note = col.get_note(note_id)
        note["Back"] = back
        col.update_note(note)
        package = export(col, tmp_path / "edited.apkg")
    finally:
        col.close()

    imported = importer("apkg")(package)

    (deck,) = imported.decks
    assert deck.cards[0].answer == f"{expected}\n\nmore"
    assert any(warning in d.message for d in imported.all_diagnostics)


def test_a_long_import_reports_progress_note_by_note(tmp_path: Path) -> None:
    package = exported(tmp_path)
    events: list[tuple[str, int, int]] = []

    def record(step: str, done: int, total: int) -> None:
        events.append((step, done, total))

    imported = importer("apkg")(package, record)
    write_import(imported, tmp_path / "cards", source=package, progress=record)

    assert [e for e in events if e[0] == "importing"] == [
        ("importing", done, 6) for done in range(1, 7)
    ]
    # Three card files, five note type files and one image.
    assert [e for e in events if e[0] == "writing"] == [
        ("writing", done, 9) for done in range(1, 10)
    ]


def test_the_command_line_imports_a_package_that_then_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from deckbuilder.cli import app

    package = exported(tmp_path)
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    monkeypatch.chdir(project)

    imported = CliRunner().invoke(app, ["import", "apkg", str(package), "-o", "cards"])
    built = CliRunner().invoke(app, ["build"])

    assert imported.exit_code == 0, imported.output
    assert imported.stdout.splitlines() == [
        "wrote cards/languages.spanish.md",
        "wrote cards/maths.md",
        "wrote cards/programming.python.md",
    ]
    assert imported.stderr == (
        "imported 6 cards into cards (5 note type files, 1 media file)\n"
    )
    assert built.exit_code == 0, built.output
    assert "built 3 decks, 6 cards, 0 incomplete, 0 warnings, 0 errors" in built.stderr


def test_a_symbolic_link_out_of_the_output_folder_is_refused(tmp_path: Path) -> None:
    package = exported(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "cards"
    out.mkdir()
    (out / "media").symlink_to(elsewhere)

    with pytest.raises(OutputError, match="would be written outside"):
        write_import(importer("apkg")(package), out, source=package, force=True)

    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == ["media"]


def test_a_rebuilt_package_imports_again_with_the_note_types_own_css(
    tmp_path: Path,
) -> None:
    package = exported(tmp_path)
    import_into_project(package, tmp_path / "project")
    built = {path.name: path for path in build_project(tmp_path / "project")}

    again = importer("apkg")(built["languages.spanish.apkg"])

    css = {note_type.name: note_type.css for note_type in again.note_types}
    assert css["Vocab"] == ".card { color: navy; }"
    assert "deckbuilder" not in css["Basic"]


def empty_side_package(tmp_path: Path) -> Path:
    """Export a deck whose second note has no answer; a cloze needs none."""
    col = new_collection(tmp_path)
    try:
        add(col, "Basic", "Default", [], "First?", "<p>one</p><p>two</p>")
        add(col, "Basic", "Default", [], "Unanswered?", "")
        add(col, "Cloze", "Default", [], "{{c1::Whole}} without extra", "")
        return export(col, tmp_path / "deck.apkg")
    finally:
        col.close()


def test_a_note_with_an_empty_side_is_imported_and_reported(tmp_path: Path) -> None:
    package = empty_side_package(tmp_path)

    imported = importer("apkg")(package)
    written = write_import(imported, tmp_path / "cards", source=package)

    (deck,) = imported.decks
    assert [card.answer for card in deck.cards] == ["one\n\ntwo", "", ""]
    # A package has no lines: the warning names the card's heading in the card
    # file written, where the answer goes. Front matter (lines 1-3), a blank, the
    # first card (heading, metadata, blank, "one", blank, "two": lines 5-10), a
    # blank, then the empty card's heading on line 12.
    card_file = tmp_path / "cards" / "default.md"
    assert written.card_files == (card_file,)
    assert card_file.read_text(encoding="utf-8").splitlines()[11] == "## Unanswered?"
    assert [str(d) for d in written.diagnostics] == [
        f'{card_file}:12:1: warning: card 2 "Unanswered?" has no answer (it is '
        "imported without one; write the answer below its heading)"
    ]
    # Printed without a card file, the card is named in the package.
    assert [str(d) for d in imported.all_diagnostics] == [
        f'{package}:1:1: warning: card 2 "Unanswered?" has no answer (it is '
        "imported without one; write the answer below its heading)"
    ]


def test_the_command_line_names_the_card_file_of_an_empty_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from deckbuilder.cli import app

    package = empty_side_package(tmp_path)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["import", "apkg", str(package), "-o", "cards"])

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == (
        'cards/default.md:12:1: warning: card 2 "Unanswered?" has no answer (it is '
        "imported without one; write the answer below its heading)"
    )
    assert "deck.apkg:1:1" not in result.stderr


@pytest.mark.parametrize(
    "name",
    ["my pic (1).png", "50%;#&'ü.png", "say hi.mp3"],
    ids=["space", "odd", "sound"],
)
def test_media_names_that_need_escaping_build(tmp_path: Path, name: str) -> None:
    col = new_collection(tmp_path)
    try:
        media = tmp_path / name
        media.write_bytes(PIXEL)
        stored = col.media.add_file(str(media))
        field = (
            f"[sound:{stored}]"
            if name.endswith(".mp3")
            else f'<img src="{html.escape(stored)}">'
        )
        add(col, "Basic", "Default", [], "Which file?", field)
        package = export(col, tmp_path / "deck.apkg")
    finally:
        col.close()

    cards = import_into_project(package, tmp_path / "project")
    (built,) = build_project(tmp_path / "project")

    assert (cards / "media" / stored).read_bytes() == PIXEL
    with zipfile.ZipFile(built) as archive:
        assert PIXEL in [archive.read(entry) for entry in archive.namelist()]


def test_a_tag_a_card_file_cannot_hold_is_left_out_and_reported(
    tmp_path: Path,
) -> None:
    col = new_collection(tmp_path)
    try:
        add(col, "Basic", "Default", ["ok", "x\u200by"], "q", "a")
        package = export(col, tmp_path / "deck.apkg")
    finally:
        col.close()

    imported = importer("apkg")(package)

    (deck,) = imported.decks
    assert deck.cards[0].tags == ("ok",)
    (warning,) = imported.all_diagnostics
    hidden = "x\u200by"
    assert f"tag {hidden!r} cannot be written in a card file" in warning.message
    assert "invisible character U+200B" in warning.message


def test_the_command_line_refuses_a_tag_anki_cannot_use(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from deckbuilder.cli import app

    result = CliRunner().invoke(
        app,
        ["import", "apkg", str(tmp_path / "x.apkg"), "--tag", "x y"],
        env={"COLUMNS": "200"},
    )

    assert result.exit_code == 2
    assert "tag 'x y' cannot be used in Anki: it holds the space U+0020" in (
        result.output
    )


@pytest.mark.parametrize("legacy", [False, True], ids=["current", "legacy"])
def test_a_media_file_over_the_limit_is_refused_before_it_fills_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, legacy: bool
) -> None:
    from deckbuilder.importers import anki_package

    col = new_collection(tmp_path)
    try:
        big = tmp_path / "big.png"
        big.write_bytes(bytes(10_000))
        col.media.add_file(str(big))
        add(col, "Basic", "Default", [], "q", '<img src="big.png">')
        package = export(col, tmp_path / "deck.apkg", legacy=legacy)
    finally:
        col.close()
    monkeypatch.setattr(anki_package, "_MEDIA_LIMIT", 4096)
    imported = importer("apkg")(package)

    with pytest.raises(ExportFormatError, match="media file .* is larger than 0 MiB"):
        write_import(imported, tmp_path / "cards", source=package)
    assert not (tmp_path / "cards").exists()


def test_decks_a_build_cannot_tell_apart_are_reported(tmp_path: Path) -> None:
    col = new_collection(tmp_path)
    try:
        add(col, "Basic", "A/B", [], "slash", "a")
        add(col, "Basic", "A-B", [], "dash", "a")
        package = export(col, tmp_path / "deck.apkg")
    finally:
        col.close()

    written = write_import(importer("apkg")(package), tmp_path / "c", source=package)

    (warning,) = written.diagnostics
    assert warning.message == (
        'decks "A-B" and "A/B" would both be built into a-b.apkg'
    )
    assert "--bundle" in warning.remedy


def test_an_image_keeps_its_size_through_the_round_trip(tmp_path: Path) -> None:
    col = new_collection(tmp_path)
    try:
        (tmp_path / "dot.png").write_bytes(PIXEL)
        col.media.add_file(str(tmp_path / "dot.png"))
        add(col, "Basic", "Default", [], "Which dot?", '<img src="dot.png" width="50">')
        package = export(col, tmp_path / "deck.apkg")
    finally:
        col.close()
    import_into_project(package, tmp_path / "project")

    (built,) = build_project(tmp_path / "project")

    (note,) = read_apkg_notes(built, tmp_path)
    image = r'<img src="[0-9a-f]{20}\.png" alt="" width="50">'
    assert re.fullmatch(image, note.fields["Back"])
