"""The one options value that CLI flags and `[tool.deckbuilder]` fold into."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deckbuilder.model import NOTE_TYPES

Progress = Callable[[str, int, int], None]
"""Told as a build advances: the step ("reading", "rendering", "packaging"), how
many of its items are done (0 when it starts) and how many there are."""


@dataclass(frozen=True)
class Options:
    """How to build: what to read, where to write, how to treat incomplete cards."""

    cards: tuple[Path, ...] = (Path("cards"),)
    """Card files and folders to read when the command line names none."""
    deck_folders: tuple[Path, ...] = ()
    """Absolute folders whose card files are named as decks by their path below them,
    as the project's cards/ folder is: the folders of `[tool.deckbuilder]` cards."""
    out: Path = Path("build")
    strict: bool = False
    """Incomplete cards are errors instead of warnings."""
    include_incomplete: bool = False
    """Ship incomplete cards, tagged and marked, instead of leaving them out."""
    note_type: str = NOTE_TYPES[0]
    """Note type of cards whose file and metadata name none."""
    theme: Path | None = None
    """A stylesheet (absolute path) for every deck, scoped to each deck as a deck's
    own `css` is, before the deck's own."""
    bundle: str | None = None
    """Write every deck into one package with this name instead of one per deck."""
    source_date_epoch: int | None = None
    """Fixed note modification time (reproducible builds); by default each package
    takes the newest modification time of its card files."""
    cache: bool = True
    """Reuse what earlier builds rendered and wrote, kept under `out`; without it a
    build starts from scratch and leaves the cache alone."""
    progress: Progress | None = field(default=None, compare=False, repr=False)
    """Where the build reports how far it is; core code never prints."""


def ticker(step: str, total: int, options: Options | None) -> Callable[[], None]:
    """Report that `step` starts to `options`' progress callback; return what to call
    as each of its items is done."""
    progress = options.progress if options is not None else None
    if progress is None:
        return lambda: None
    progress(step, 0, total)
    done = itertools.count(1)
    return lambda: progress(step, next(done), total)
