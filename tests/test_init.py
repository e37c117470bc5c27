"""`deckbuilder init`: a new project that builds and passes its card tests at once."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from deckbuilder.cli import app
from tests.helpers import read_apkg_notes

FILES = [
    "pyproject.toml",
    ".gitignore",
    "README.md",
    "cards/example.md",
    "code_snippets/stats.py",
]


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    result = run("init", "my-decks")
    assert result.exit_code == 0, result.output
    assert result.stdout == "".join(f"wrote my-decks/{name}\n" for name in FILES)
    return tmp_path / "my-decks"


def test_new_project_builds_without_a_problem(
    made: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(made)

    result = run("build")

    assert result.exit_code == 0
    assert result.stdout == "wrote build/example.apkg\n"
    assert result.stderr.startswith(
        "built 1 deck, 5 cards, 0 incomplete, 0 warnings, 0 errors in "
    )
    notes = read_apkg_notes(made / "build" / "example.apkg", tmp_path)
    assert [(note.decks, note.card_count) for note in notes] == [
        (("Example",), 1),
        (("Example",), 2),
        (("Example",), 1),
        (("Example",), 1),
        (("Example",), 1),
    ]
    assert "def mean(values: list[float])" in _text(notes[3].fields["Back"])


def test_new_project_passes_its_card_tests(made: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=made,
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("3 passed in ")


def test_project_settings_and_gitignore(made: Path) -> None:
    assert "# my-decks\n" in (made / "README.md").read_text()
    assert "/build/" in (made / ".gitignore").read_text().splitlines()
    assert (
        '[tool.deckbuilder]\ncards = ["cards"]' in (made / "pyproject.toml").read_text()
    )


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "example.md").write_text("mine")

    result = run("init", str(tmp_path))

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {tmp_path}/cards/example.md exists (init writes only new files; "
        "choose an empty or new folder)\n"
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["cards", "example.md"]
    assert (tmp_path / "cards" / "example.md").read_text() == "mine"


def test_init_into_a_file_says_it_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("mine")

    result = run("init", str(tmp_path / "notes"))

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {tmp_path}/notes is a file, not a folder (name a new or empty "
        "folder for the project)\n"
    )
    assert (tmp_path / "notes").read_text() == "mine"


def _text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))
