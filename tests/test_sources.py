"""Finding card files and naming decks after their paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deckbuilder.errors import SourceError
from deckbuilder.sources import default_deck, find_sources


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "cards" / "ml").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_deck_comes_from_path_under_cards_whatever_path_is_passed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = project / "cards" / "ml" / "gans.md"

    names = {default_deck(Path("cards/ml/gans.md")), default_deck(card)}
    monkeypatch.chdir(project / "cards" / "ml")
    names.add(default_deck(Path("gans.md")))

    assert names == {"ml::gans"}


def test_deck_outside_cards_folder_is_relative_to_project(project: Path) -> None:
    assert default_deck(Path("notes/extra.md")) == "notes::extra"


def test_deck_outside_any_project_is_the_file_name(tmp_path: Path) -> None:
    assert default_deck(tmp_path / "loose" / "gans.md") == "gans"


def test_finds_markdown_files_deeply_sorted_skipping_hidden_ones(
    project: Path,
) -> None:
    for name in (
        "cards/b.md",
        "cards/a.md",
        "cards/ml/c.md",
        "cards/.hidden/d.md",
        "cards/.e.md",
    ):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("## Q\nA\n")
    (project / "cards" / "notes.txt").write_text("")
    (project / "cards" / "folder.md").mkdir()

    found = find_sources([Path("cards")])

    assert found == [Path("cards/a.md"), Path("cards/b.md"), Path("cards/ml/c.md")]


def test_symlinked_folders_are_followed_once(project: Path) -> None:
    (project / "shared").mkdir()
    (project / "shared" / "s.md").write_text("## Q\nA\n")
    os.symlink(project / "shared", project / "cards" / "ml" / "link")
    os.symlink(project / "cards", project / "cards" / "ml" / "loop")

    found = find_sources([Path("cards")])

    assert found == [Path("cards/ml/link/s.md")]


def test_a_folder_also_linked_to_is_read_by_its_real_path(project: Path) -> None:
    # The links sort before the folder and lie in folders walked before it; the
    # path names the deck, which must not change as links come and go.
    (project / "cards" / "real").mkdir()
    (project / "cards" / "real" / "r.md").write_text("## Q\nA\n")
    os.symlink("real", project / "cards" / "alias")
    os.symlink("../real", project / "cards" / "ml" / "link")

    found = find_sources([Path("cards")])

    assert found == [Path("cards/real/r.md")]


def test_missing_path_is_an_error_with_remedy() -> None:
    with pytest.raises(SourceError) as caught:
        find_sources([Path("nowhere")])

    assert "no such file or folder: nowhere" in str(caught.value)
    assert caught.value.remedy
