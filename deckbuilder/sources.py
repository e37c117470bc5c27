"""Find card files, the project they belong to, and the deck a file's path names."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from deckbuilder import inputs
from deckbuilder.errors import DeckbuilderError, SourceError
from deckbuilder.model import Location, location_at

ROOT_MARKERS = ("pyproject.toml", ".git")
CARD_FOLDER = "cards"


def find_sources(paths: Iterable[Path]) -> list[Path]:
    """Return the card files under `paths`: `.md` files, folders searched deeply.

    Symbolic links to files and folders are followed (a folder reached twice is read
    once, by its real path where the walk meets that: the path names the deck);
    hidden files and folders such as `.git` are skipped.
    """
    paths = list(paths)
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += _walk(path)
        elif path.is_file():
            found.append(path)
        else:
            raise SourceError(
                f"no such file or folder: {path}",
                remedy="pass card files or folders that hold them, e.g. cards/",
            )
    found = list(dict.fromkeys(found))
    inputs.record_listing(paths, found)
    return found


def _walk(top: Path) -> list[Path]:
    # The folders themselves first, then those reached through links, so that a
    # folder also linked to is read by its real path, which names its deck.
    files: list[Path] = []
    seen: set[str] = set()
    for link in _walk_folders(top, files, seen, follow=False):
        _walk_folders(link, files, seen, follow=True)
    return sorted(files)


def _walk_folders(
    top: Path, files: list[Path], seen: set[str], follow: bool
) -> list[Path]:
    """Add the card files under `top` to `files`, skipping folders in `seen`; return
    the links to folders met on the way when not following them."""
    links: list[Path] = []
    for folder, subfolders, names in os.walk(top, followlinks=follow):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders.clear()
            continue
        seen.add(real)
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        if not follow:
            links += [
                Path(folder, name)
                for name in subfolders
                if os.path.islink(os.path.join(folder, name))
            ]
        files += [
            Path(folder, name)
            for name in sorted(names)
            if name.endswith(".md")
            and not name.startswith(".")
            and os.path.isfile(os.path.join(folder, name))
        ]
    return links


def project_root(path: Path) -> Path | None:
    """Return the nearest folder above `path` that holds pyproject.toml or .git."""
    absolute = Path(os.path.abspath(path))
    root = next(
        (
            folder
            for folder in absolute.parents
            if any((folder / marker).exists() for marker in ROOT_MARKERS)
        ),
        None,
    )
    inputs.record_root(absolute.parent, root)
    return root


def project_boundary(card_file: Path) -> Path:
    """Return the folder that files a card file names must stay inside: its project,
    else (outside any project) its own folder, symbolic links resolved."""
    root = project_root(card_file)
    return Path(os.path.realpath(root if root else card_file.parent))


def default_deck(path: Path, folders: Sequence[Path] = ()) -> str:
    """Return the deck of a card file without a `deck` key.

    It is the file's path under the deepest of the absolute card `folders` holding
    it (the `cards` of `[tool.deckbuilder]`), else under the project's `cards/` folder
    (or under the project root for files elsewhere in it), folders joined by `::`;
    for a file outside any project, its name. Which path the user passed on the
    command line plays no part, so a card keeps its deck, and so its id, however it
    is built.
    """
    stem = Path(os.path.abspath(path)).with_suffix("")
    for folder in sorted(folders, key=lambda folder: len(folder.parts), reverse=True):
        if stem.parent.is_relative_to(folder):
            return "::".join(stem.relative_to(folder).parts)
    root = project_root(path)
    if root is None:
        return path.stem
    relative = Path(os.path.abspath(path)).with_suffix("").relative_to(root)
    if relative.parts[0] == CARD_FOLDER and len(relative.parts) > 1:
        relative = relative.relative_to(CARD_FOLDER)
    return "::".join(relative.parts)


def read_input(path: Path, error: type[DeckbuilderError], what: str) -> bytes:
    """Return the bytes of an input file; one that cannot be read raises `error`."""
    try:
        return inputs.read_bytes(path)
    except OSError as problem:
        raise error(
            f"cannot read {what}: {problem.strerror}",
            Location(path, 1),
            "check that the file exists and is readable",
        ) from problem


def decode_utf8(
    data: bytes, path: Path, error: type[DeckbuilderError], what: str, remedy: str
) -> str:
    """Decode UTF-8 text (a byte-order mark is allowed) with \\n newlines.

    Bytes that are not UTF-8 raise `error`, located at the first of them.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        raise error(
            f"{what} is not valid UTF-8 (byte 0x{data[problem.start]:02x})",
            location_at(path, data, problem.start),
            remedy,
        ) from problem
    return text.replace("\r\n", "\n").replace("\r", "\n")
