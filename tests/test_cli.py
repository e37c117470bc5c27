"""Command-line tests through Typer's runner: exit codes, stdout and stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from deckbuilder import __version__
from deckbuilder.cli import app
from deckbuilder.parse import read_card_file

DECK = """\
---
deck: Demo
---
## Complete?

Yes.

## Unanswered?

## Also complete?
<!-- id: also -->

Yes, too.
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "demo.md").write_text(DECK)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_version() -> None:
    result = run("--version")

    assert result.exit_code == 0
    assert result.stdout == f"deckbuilder {__version__}\n"


def test_build_warns_about_incomplete_card_and_leaves_it_out(project: Path) -> None:
    result = run("build")

    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == (
        'cards/demo.md:8:1: warning: card "Unanswered?" has no answer '
        "(write the answer below the heading)"
    )
    assert "1 deck, 2 cards, 1 incomplete, 1 warning, 0 errors" in result.stderr
    assert result.stdout == "wrote build/demo.apkg\n"
    assert (project / "build" / "demo.apkg").is_file()


def test_strict_build_fails_and_writes_nothing(project: Path) -> None:
    result = run("build", "--strict")

    assert result.exit_code == 1
    assert "cards/demo.md:8:1: error: card" in result.stderr
    assert not (project / "build").exists()


def test_bad_card_file_gives_located_error_not_traceback(project: Path) -> None:
    (project / "cards" / "broken.md").write_text("## Q\n\n```python\nx = 1\n")

    result = run("build")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "cards/broken.md:3:1: error: code block is never closed "
        "(close it with a line holding ```)"
    )
    assert "Traceback" not in result.output
    assert not (project / "build").exists()


def test_missing_path_is_an_error_with_remedy(project: Path) -> None:
    result = run("build", "nowhere")

    assert result.exit_code == 1
    assert "error: no such file or folder: nowhere" in result.stderr
    assert "Traceback" not in result.output


def test_check_reports_and_writes_nothing(project: Path) -> None:
    result = run("check")

    assert result.exit_code == 0
    assert 'warning: card "Unanswered?" has no answer' in result.stderr
    assert result.stdout == ""
    assert not (project / "build").exists()


def test_check_strict_exits_non_zero(project: Path) -> None:
    assert run("check", "--strict").exit_code == 1


def test_out_and_bundle_options(project: Path) -> None:
    (project / "cards" / "more.md").write_text("---\ndeck: More\n---\n## Q\nA\n")

    result = run("build", "--out", "dist", "--bundle", "all")

    assert result.exit_code == 0
    assert result.stdout == "wrote dist/all.apkg\n"
    assert "2 decks, 3 cards" in result.stderr


def test_ids_writes_current_ids_into_sources(project: Path) -> None:
    path = project / "cards" / "demo.md"
    before = [card.id for card in read_card_file(path).file.cards]

    result = run("ids")

    after = read_card_file(path).file.cards
    assert result.exit_code == 0
    assert result.stdout == "cards/demo.md: wrote 2 ids\n"
    assert [card.id for card in after] == before
    assert all(card.explicit_id is not None for card in after)
    assert run("ids").stdout == "every card already has an id\n"


def test_ids_keeps_each_line_ending_as_it_was(project: Path) -> None:
    path = project / "cards" / "mixed.md"
    path.write_bytes(b"---\ndeck: Mixed\n---\n## Unix\n\nA\n\n## Windows\r\n\r\nB\r\n")
    ids = [card.id for card in read_card_file(path).file.cards]

    result = run("ids", "cards/mixed.md")

    assert result.exit_code == 0
    assert path.read_bytes() == (
        f"---\ndeck: Mixed\n---\n## Unix\n<!-- id: {ids[0]} -->\n\nA\n\n"
        f"## Windows\r\n<!-- id: {ids[1]} -->\r\n\r\nB\r\n"
    ).encode()


def test_ids_refuses_duplicate_questions(project: Path) -> None:
    (project / "cards" / "demo.md").write_text("## Same\nA\n\n## Same\nB\n")

    result = run("ids")

    assert result.exit_code == 1
    assert "cards/demo.md:4:1: error:" in result.stderr
    assert "<!--" not in (project / "cards" / "demo.md").read_text()


@pytest.mark.parametrize("epoch", ["yesterday", "-1", "1.5", "\u00b2"])
def test_bad_source_date_epoch_is_a_usage_error(
    project: Path, monkeypatch: pytest.MonkeyPatch, epoch: str
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)

    result = run("build")

    assert result.exit_code == 2
    assert "SOURCE_DATE_EPOCH" in result.stderr


def test_cli_start_up_imports_no_heavy_module() -> None:
    heavy = [
        *("genanki", "markdown", "pygments", "tensorflow", "numpy", "anki"),
        *("rich", "watchfiles", "tomllib"),
    ]
    code = (
        "import sys, deckbuilder.cli; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


def test_help_imports_no_rich_formatting() -> None:
    # Typer's boxed help imports rich's console and markup: half of the start of
    # `deckbuilder --help`.
    heavy = ["rich", "typer.rich_utils", "genanki", "markdown", "pygments"]
    code = (
        "import sys; sys.argv = ['deckbuilder', '--help']\n"
        "from deckbuilder.launch import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {heavy!r} if m in sys.modules], file=sys.stderr)"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert "Usage: deckbuilder" in result.stdout
    assert result.stderr.strip() == "[]"


SEED = Path(__file__).parent / "data" / "import" / "gans_brainscape.txt"


def test_import_brainscape_writes_a_card_file_that_builds(project: Path) -> None:
    result = run(
        "import", "brainscape", str(SEED), "-o", "cards/gans.md", "--tag", "gans"
    )

    assert result.exit_code == 0
    assert result.stderr.count("warning: card") == 3
    assert "imported 11 cards into cards/gans.md" in result.stderr
    text = (project / "cards" / "gans.md").read_text()
    assert text.startswith("---\ndeck: gans\ntags: [gans]\n---\n")
    built = run("build", "cards/gans.md")
    assert built.exit_code == 0
    assert "1 deck, 8 cards, 3 incomplete" in built.stderr


def test_import_refuses_to_overwrite_without_force(project: Path) -> None:
    target = project / "cards" / "demo.md"

    refused = run("import", "brainscape", str(SEED), "-o", str(target))
    forced = run("import", "brainscape", str(SEED), "-o", str(target), "--force")

    assert refused.exit_code == 1
    assert f"{target}:1:1: error: file already exists" in refused.stderr
    assert forced.exit_code == 0
    assert "Cool uses for GANS" in target.read_text()


def test_import_of_a_file_in_another_format_is_a_located_error(project: Path) -> None:
    other = project / "notes.txt"
    other.write_text("just some notes\nnothing like an export\n")

    result = run("import", "brainscape", str(other))

    assert result.exit_code == 1
    assert result.stderr.startswith(f"{other}:")
    assert "error:" in result.stderr
    assert "Traceback" not in result.output


def test_unanswered_copies_of_one_question_are_warnings_not_a_clash(
    project: Path,
) -> None:
    (project / "cards" / "demo.md").write_text("## Todo\n\n## Todo\n\n##\n\n##\n")

    result = run("build")

    assert result.exit_code == 0
    assert result.stderr.count("warning:") == 4


def test_decks_differing_only_in_case_are_an_error(project: Path) -> None:
    (project / "cards" / "more.md").write_text("---\ndeck: demo\n---\n## Q\nA\n")

    result = run("build")

    assert result.exit_code == 1
    assert 'error: deck "demo" differs from deck "Demo" only in case' in result.stderr


@pytest.mark.parametrize("name", ["", "../escape", "/tmp/x", ".hidden"])
def test_bad_bundle_names_are_usage_errors(project: Path, name: str) -> None:
    result = run("build", "--bundle", name)

    assert result.exit_code == 2
    assert not (project / "build").exists()


def test_bundle_name_may_end_in_apkg(project: Path) -> None:
    assert run("build", "--bundle", "all.apkg").stdout == "wrote build/all.apkg\n"


def test_output_folder_that_is_a_file_is_a_located_error(project: Path) -> None:
    (project / "afile").write_text("keep me")

    result = run("build", "--out", "afile")

    assert result.exit_code == 1
    assert "afile:1:1: error: output folder afile is a file" in result.stderr
    assert "warning: card" in result.stderr
    assert "1 error" in result.stderr
    assert (project / "afile").read_text() == "keep me"


def test_packages_are_readable_by_others(project: Path) -> None:
    run("build")

    assert (project / "build" / "demo.apkg").stat().st_mode & 0o777 == 0o644


def test_too_late_source_date_epoch_is_a_usage_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "99999999999999")

    assert run("build").exit_code == 2


def test_ids_writes_through_a_symlinked_card_file(project: Path) -> None:
    real = project / "real.md"
    real.write_text("## Q\nA\n")
    (project / "cards" / "demo.md").unlink()
    (project / "cards" / "demo.md").symlink_to(real)

    result = run("ids")

    assert result.exit_code == 0
    assert (project / "cards" / "demo.md").is_symlink()
    assert "<!-- id: " in real.read_text()


def test_import_onto_a_folder_is_an_error_without_traceback(project: Path) -> None:
    (project / "cards" / "gans.md").mkdir()

    result = run("import", "brainscape", str(SEED), "-o", "cards/gans.md", "--force")

    assert result.exit_code == 1
    assert "cards/gans.md:1:1: error: cards/gans.md is a folder" in result.stderr
    assert "Traceback" not in result.output


def test_import_into_a_folder_writes_a_card_file_named_after_the_deck(
    project: Path,
) -> None:
    result = run("import", "brainscape", str(SEED), "-o", "imported")

    assert result.exit_code == 0, result.output
    written = project / "imported/gans-generative-adversarial-networks-flashcards.md"
    assert result.stdout == f"wrote {written.relative_to(project)}\n"
    assert "deck: GANS' (Generative Adversarial Networks) Flashcards" in (
        written.read_text(encoding="utf-8")
    )


@pytest.mark.parametrize(
    ("deck", "message"),
    [
        ("A:::B", "deck name 'A:::B' cannot be used in Anki"),
        ("A::", "deck name 'A::' cannot be used in Anki"),
        (" ", "deck name must be a non-empty string"),
    ],
    ids=["colons", "empty-part", "blank"],
)
def test_import_refuses_a_deck_name_the_build_would_refuse(
    project: Path, deck: str, message: str
) -> None:
    result = CliRunner().invoke(
        app,
        ["import", "brainscape", str(SEED), "-o", "cards/gans.md", "--deck", deck],
        env={"COLUMNS": "200"},
    )

    assert result.exit_code == 2
    assert message in result.output
    assert "--deck" in result.output
    assert not (project / "cards" / "gans.md").exists()


def test_import_writes_the_deck_name_as_the_build_reads_it(project: Path) -> None:
    result = run(
        "import", "brainscape", str(SEED), "-o", "cards/gans.md", "--deck", "ML :: GANs"
    )

    assert result.exit_code == 0, result.output
    text = (project / "cards" / "gans.md").read_text(encoding="utf-8")
    assert text.startswith("---\ndeck: ML::GANs\n---\n")


def test_import_of_an_unknown_format_is_a_usage_error_naming_the_known_ones(
    project: Path,
) -> None:
    result = CliRunner().invoke(
        app, ["import", "supermemo", str(SEED)], env={"COLUMNS": "200"}
    )

    assert result.exit_code == 2
    assert (
        "Invalid value for FORMAT: unknown export format 'supermemo' (use one of: "
        "anki-text, apkg, brainscape, colpkg)"
    ) in result.stderr


def run_json(*args: str) -> tuple[int, dict[str, Any], str]:
    result = run(*args, "--format", "json")
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_build_json_holds_every_problem_and_the_summary(project: Path) -> None:
    code, document, stderr = run_json("build")

    assert code == 0
    assert stderr == ""
    assert document == {
        "problems": [
            {
                "path": "cards/demo.md",
                "line": 8,
                "column": 1,
                "severity": "warning",
                "message": 'card "Unanswered?" has no answer',
                "remedy": "write the answer below the heading",
            }
        ],
        "summary": {
            "decks": 1,
            "cards": 2,
            "incomplete": 1,
            "warnings": 1,
            "errors": 0,
            "packages": ["build/demo.apkg"],
            "removed": [],
        },
    }


def test_strict_check_json_has_the_error_and_exit_code_one(project: Path) -> None:
    (project / "cards" / "bad.md").write_text("## Q\nab\x01c\n")

    code, document, stderr = run_json("check", "--strict")

    assert code == 1
    assert stderr == ""
    assert [
        (p["path"], p["line"], p["column"], p["severity"]) for p in document["problems"]
    ] == [("cards/bad.md", 2, 3, "error"), ("cards/demo.md", 8, 1, "error")]
    assert document["summary"] == {
        "decks": 1,
        "cards": 2,
        "incomplete": 1,
        "warnings": 0,
        "errors": 2,
        "packages": [],
        "removed": [],
    }


NOWHERE = {
    "path": None,
    "line": None,
    "column": None,
    "severity": "error",
    "message": "no such file or folder: nowhere",
    "remedy": "pass card files or folders that hold them, e.g. cards/",
}
"""The JSON problem of `nowhere`, a card folder that does not exist."""


def test_json_failure_without_a_place_is_still_one_document(project: Path) -> None:
    code, document, stderr = run_json("check", "nowhere")

    assert code == 1
    assert stderr == ""
    assert document["problems"] == [NOWHERE]
    assert document["summary"] == {
        "decks": 0,
        "cards": 0,
        "incomplete": 0,
        "warnings": 0,
        "errors": 1,
        "packages": [],
        "removed": [],
    }


def test_json_reports_a_settings_error_at_its_line(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.deckbuilder]\nstrict = 1\n")

    code, document, _ = run_json("build")

    assert code == 1
    problem = document["problems"][0]
    assert (problem["path"], problem["line"], problem["column"]) == (
        "pyproject.toml",
        2,
        1,
    )


def test_ids_json_lists_the_ids_written(project: Path) -> None:
    code, document, stderr = run_json("ids")

    assert code == 0
    assert stderr == ""
    assert document == {"problems": [], "written": {"cards/demo.md": 2}}


def test_ids_json_that_failed_has_the_same_keys(project: Path) -> None:
    code, document, stderr = run_json("ids", "nowhere")

    assert code == 1
    assert stderr == ""
    assert document == {"problems": [NOWHERE], "written": {}}
