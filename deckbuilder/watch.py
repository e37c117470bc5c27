"""Rebuild the decks that changed files touch: the core of `deckbuilder watch`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from deckbuilder.model import CardFile
from deckbuilder.options import Options
from deckbuilder.pipeline import build, load
from deckbuilder.report import Report
from deckbuilder.sources import find_sources

Build = Callable[[Sequence[Path], Options], Report]


@dataclass(frozen=True)
class _Entry:
    """What a card file feeds: its decks, and the files its cards read: modules its
    blocks include and Anki note type files."""

    decks: frozenset[str]
    includes: frozenset[Path]


class DeckWatch:
    """The card files being watched, and which decks each change must rebuild.

    A deck is rebuilt whole, from every card file that holds cards of it, when one
    of those files changes, when a changed file's cards move into or out of it, or
    when a module that one of its blocks includes changes. A deck left with no
    cards keeps its last package.
    """

    def __init__(
        self, paths: Sequence[Path], options: Options, builder: Build = build
    ) -> None:
        self.paths = list(paths)
        self.options = options
        self._build = builder
        self._files: dict[Path, _Entry] = {}

    def start(self) -> Report:
        """Build every deck and remember what each card file feeds."""
        report = self._build(self.paths, self.options)
        self._files = {}
        self._index(find_sources(self.paths))
        return report

    def changed(self, paths: Iterable[Path]) -> Report | None:
        """Rebuild the decks that the changed `paths` touch; None if they touch none.

        `paths` may name card files (new, edited or deleted), helper modules, note
        type files, and anything else, which is ignored.
        """
        changed = {_absolute(path) for path in paths}
        cards = {path for path in changed if self._is_card_file(path)}
        modules = changed - cards
        decks = set().union(*(self._decks(path) for path in cards))
        for path in cards:
            self._files.pop(path, None)
        self._index(sorted(path for path in cards if path.is_file()))
        decks |= set().union(*(self._decks(path) for path in cards))
        decks |= {
            deck
            for entry in self._files.values()
            if entry.includes & modules
            for deck in entry.decks
        }
        rebuild = {path for path, entry in self._files.items() if entry.decks & decks}
        # A file that no longer parses feeds no deck, yet its errors must show.
        rebuild |= {path for path in cards if path.is_file()}
        if not rebuild:
            return None
        if self.options.bundle is not None:
            return self._build(self.paths, self.options)
        return self._build(sorted(map(_shown, rebuild)), self.options)

    def _index(self, paths: Sequence[Path]) -> None:
        for file in load(paths, Report(), self.options):
            self._files[_absolute(file.path)] = _entry(file)

    def _decks(self, path: Path) -> frozenset[str]:
        entry = self._files.get(path)
        return entry.decks if entry is not None else frozenset()

    def _is_card_file(self, path: Path) -> bool:
        if path.suffix != ".md" or path.name.startswith("."):
            return False
        return path in self._files or any(
            path == root or path.is_relative_to(root)
            for root in map(_absolute, self.paths)
        )


def _entry(file: CardFile) -> _Entry:
    decks = {card.deck for card in file.cards} or {file.deck}
    includes = {
        _absolute(file.path.parent / block.options["include"].partition("#")[0])
        for card in file.cards
        for block in card.blocks
        if block.options.get("include")
    }
    includes |= {
        card.anki_note_type.path for card in file.cards if card.anki_note_type
    }
    return _Entry(frozenset(decks), frozenset(includes))


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _shown(path: Path) -> Path:
    # Relative to the working folder where possible, as problems are reported.
    relative = os.path.relpath(path)
    return Path(relative) if not relative.startswith("..") else path
