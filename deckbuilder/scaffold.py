"""Lay out a new deck project: settings, an example card file and a helper module."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from deckbuilder.errors import OutputError
from deckbuilder.files import replace_file

TEMPLATES = "templates/project"
NAME = "__name__"
"""Stands for the project's name in the templates."""

FILES = {
    "pyproject.toml": "pyproject.toml.in",
    ".gitignore": "gitignore",
    "README.md": "README.md",
    "cards/example.md": "cards/example.md",
    "code_snippets/stats.py": "code_snippets/stats.py",
}
"""Each file of a new project and its template. Templates are stored under other
names where the real one would be picked up as this repository's own settings."""


def new_project(folder: Path) -> list[Path]:
    """Write a new deck project into `folder` and return the files written.

    No file is written if any of them exists already.
    """
    if folder.exists() and not folder.is_dir():
        raise OutputError(
            f"{folder} is a file, not a folder",
            remedy="name a new or empty folder for the project",
        )
    targets = {folder / name: template for name, template in FILES.items()}
    for target in targets:
        if target.exists() or target.is_symlink():
            raise OutputError(
                f"{target} exists",
                remedy="init writes only new files; choose an empty or new folder",
            )
    name = folder.resolve().name or "decks"
    root = resources.files("deckbuilder").joinpath(TEMPLATES)
    for target, template in targets.items():
        text = root.joinpath(template).read_text(encoding="utf-8")
        replace_file(target, text.replace(NAME, name).encode())
    return list(targets)
