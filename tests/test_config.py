"""`[tool.deckbuilder]` in pyproject.toml: the keys, their errors, and flags on top."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from deckbuilder.cli import app
from deckbuilder.config import resolve_options
from deckbuilder.errors import ConfigError
from deckbuilder.options import Options
from deckbuilder.parse import read_card_file
from tests.helpers import read_apkg_notes

FULL = """\
[project]
name = "my-decks"

[tool.deckbuilder]
cards = ["decks", "more/extra.md"]
out = "dist"
strict = true
include-incomplete = true
type = "reversed"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    (tmp_path / ".git").mkdir()
    # The card folder and file FULL names: a setting naming a missing one is an error.
    (tmp_path / "decks").mkdir()
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "extra.md").write_text("## Q\nA\n")
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_every_key_sets_its_option(project: Path) -> None:
    (project / "pyproject.toml").write_text(FULL)

    options = resolve_options({}, project)

    assert options == Options(
        cards=(Path("decks"), Path("more/extra.md")),
        deck_folders=(project / "decks",),
        out=Path("dist"),
        strict=True,
        include_incomplete=True,
        note_type="reversed",
    )


def test_flags_that_are_given_win_over_the_file(project: Path) -> None:
    (project / "pyproject.toml").write_text(FULL)

    options = resolve_options(
        {"out": Path("elsewhere"), "strict": False, "include_incomplete": None},
        project,
    )

    assert (options.out, options.strict, options.include_incomplete) == (
        Path("elsewhere"),
        False,
        True,
    )


def test_without_the_table_or_the_file_the_defaults_hold(project: Path) -> None:
    assert resolve_options({}, project) == Options()
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert resolve_options({}, project) == Options()


def test_a_single_card_folder_may_be_a_string(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.deckbuilder]\ncards = "decks"\n')

    assert resolve_options({}, project).cards == (Path("decks"),)


def test_paths_are_relative_to_the_pyproject_folder(project: Path) -> None:
    (project / "pyproject.toml").write_text(FULL)

    options = resolve_options({}, project / "decks")

    assert options.cards == (Path("."), Path("../more/extra.md"))
    assert options.out == Path("../dist")


def test_unknown_key_names_key_file_line_and_suggests(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        "[tool.deckbuilder]\nstrict = true\n  include_incomplete = true\n"
    )

    result = run("check")

    assert result.exit_code == 1
    assert result.stderr == (
        "pyproject.toml:3:3: error: unknown key 'include_incomplete' in "
        "[tool.deckbuilder] (did you mean 'include-incomplete'? the keys are: "
        "cards, out, strict, include-incomplete, type, theme)\n"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("strict = 'yes'", "strict must be true or false, not 'yes'"),
        ("include-incomplete = 1", "include-incomplete must be true or false, not 1"),
        ('type = "flashcard"', "type names the unknown note type 'flashcard'"),
        ("out = 3", "out must be a folder, not 3"),
        ("theme = 3", "theme must name a stylesheet, not 3"),
        ('theme = "nope.css"', "theme names 'nope.css', which is not a file"),
        ("out = ''", "out must be a folder, not ''"),
        (
            "cards = []",
            "cards must be a folder or a list of card files and folders, not []",
        ),
        (
            'cards = ["a", 2]',
            "cards must be a folder or a list of card files and folders, not ['a', 2]",
        ),
        ('cards = ["decks", "nosuch"]', "cards names 'nosuch', which does not exist"),
    ],
)
def test_bad_values_are_located_errors(project: Path, line: str, message: str) -> None:
    (project / "pyproject.toml").write_text(f"[tool]\n\n[tool.deckbuilder]\n{line}\n")

    with pytest.raises(ConfigError) as raised:
        resolve_options({}, project)

    assert str(raised.value).startswith(f"pyproject.toml:4:1: error: {message} (")


def test_a_sub_table_is_an_unknown_key_at_its_header(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        "[tool.deckbuilder]\nstrict = true\n\n[tool.deckbuilder.colours]\nx = 1\n"
    )

    with pytest.raises(ConfigError) as raised:
        resolve_options({}, project)

    assert str(raised.value).startswith(
        "pyproject.toml:4:1: error: unknown key 'colours' in [tool.deckbuilder]"
    )


def test_invalid_toml_is_a_located_error(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.deckbuilder]\nstrict = tru\n")

    result = run("build")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "pyproject.toml:2:10: error: pyproject.toml is not valid TOML: Invalid value"
    )
    assert "Traceback" not in result.output


def test_configured_folders_strictness_and_output_drive_the_build(
    project: Path,
) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.deckbuilder]\ncards = ["decks"]\nout = "dist"\nstrict = true\n'
    )
    (project / "decks").mkdir(exist_ok=True)
    (project / "decks" / "a.md").write_text("## Q\nA\n\n## Unanswered\n")

    strict = run("build")
    lenient = run("build", "--no-strict")

    assert strict.exit_code == 1
    assert "decks/a.md:4:1: error: card" in strict.stderr
    assert lenient.exit_code == 0
    assert lenient.stdout == "wrote dist/a.apkg\n"


def test_configured_card_folders_name_decks_from_any_working_folder(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.deckbuilder]\ncards = "decks"\nout = "dist"\n'
    )
    (project / "decks" / "ml").mkdir(parents=True)
    (project / "decks" / "ml" / "gans.md").write_text("## Q\nA\n")

    from_root = run("build", "--bundle", "all")
    monkeypatch.chdir(project / "decks" / "ml")
    from_inside = run("build", ".", "--bundle", "all")

    assert from_root.stdout == "wrote dist/all.apkg\n"
    assert from_inside.stdout == "wrote ../../dist/all.apkg\n"
    names = {
        read_card_file(project / "decks/ml/gans.md", options).file.deck
        for options in (
            resolve_options({}, project),
            resolve_options({}, project / "decks"),
        )
    }
    assert names == {"ml::gans"}


def test_configured_note_type_is_the_default_of_every_card(
    project: Path, tmp_path: Path
) -> None:
    (project / "pyproject.toml").write_text('[tool.deckbuilder]\ntype = "reversed"\n')
    cards = project / "cards"
    cards.mkdir()
    (cards / "a.md").write_text("## Q\nA\n")
    (cards / "b.md").write_text("---\ntype: basic\n---\n## Q2\nA2\n")

    result = run("build", "--bundle", "all")

    notes = read_apkg_notes(project / "build" / "all.apkg", tmp_path)
    assert result.exit_code == 0
    assert {note.fields["Source"]: note.card_count for note in notes} == {
        "cards/a.md:1": 2,
        "cards/b.md:4": 1,
    }


def test_parse_takes_the_default_note_type_only_where_none_is_named(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.md"
    path.write_text("## Q\nA\n\n## R\n<!-- type: basic -->\nB\n")

    cards = read_card_file(path, Options(note_type="reversed")).file.cards

    assert [card.note_type for card in cards] == ["reversed", "basic"]


def test_theme_styles_every_deck_before_its_own_css(project: Path) -> None:
    import json
    import sqlite3
    import zipfile

    (project / "pyproject.toml").write_text(
        '[tool.deckbuilder]\ntheme = "styles/theme.css"\n'
    )
    (project / "styles").mkdir()
    (project / "styles" / "theme.css").write_text("h3 { color: teal }\n")
    (project / "styles" / "gans.css").write_text("h3 { color: red }\n")
    (project / "cards").mkdir()
    (project / "cards" / "a.md").write_text("---\ndeck: A\n---\n## q\n\na\n")
    (project / "cards" / "b.md").write_text(
        "---\ndeck: B\ncss: ../styles/gans.css\n---\n## q\n\na\n"
    )

    result = run("build", "--bundle", "all")

    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(project / "build" / "all.apkg") as archive:
        (project / "c.anki2").write_bytes(archive.read("collection.anki2"))
    connection = sqlite3.connect(project / "c.anki2")
    (models,) = connection.execute("SELECT models FROM col").fetchone()
    connection.close()
    (css,) = {model["css"] for model in json.loads(models).values()}
    a_teal = '.deck[data-deck="A"] h3 { color: teal }'
    b_teal = '.deck[data-deck="B"] h3 { color: teal }'
    b_red = '.deck[data-deck="B"] h3 { color: red }'
    assert a_teal in css
    assert css.index(b_teal) < css.index(b_red)
