"""Read a whole Anki collection package (.colpkg), as `apkg` reads a deck package.

A collection package holds every deck of a profile; each becomes its own card file.
"""

from __future__ import annotations

from pathlib import Path

from deckbuilder.importers import Imported
from deckbuilder.importers.formats import apkg
from deckbuilder.options import Progress


def read(path: Path, progress: Progress | None = None) -> Imported:
    """Read the Anki collection package at `path`."""
    return apkg.read(path, progress)
