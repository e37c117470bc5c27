"""Group notes into packages by deck, and stage each as soon as its last note comes."""

from __future__ import annotations

import collections
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from deckbuilder import inputs
from deckbuilder.errors import OutputError, SourceError
from deckbuilder.files import commit, discard, remove_abandoned
from deckbuilder.model import Card, CardSummary, Location
from deckbuilder.options import Options, ticker
from deckbuilder.report import Diagnostic, Report, Severity

if TYPE_CHECKING:
    from deckbuilder.cache import BuildCache, Stored
    from deckbuilder.package import Note

Placed: TypeAlias = "Card | CardSummary | Note | Stored"
"""A card, or its note: each knows its deck, place and deck CSS."""
_NAME_BYTES = 200
"""Longest package file stem, in UTF-8 bytes."""


def package_name(deck: str) -> str:
    """Return the package file stem for a deck: `Machine Learning::GANs` gives
    `machine-learning.gans`."""
    parts = [
        re.sub(r"[^\w]+", "-", part.lower()).strip("-_") for part in deck.split("::")
    ]
    name = ".".join(part or "deck" for part in parts)
    if len(name.encode()) <= _NAME_BYTES:
        return name
    # File names hold at most 255 bytes, and the staged file adds a prefix and a
    # suffix; the hash keeps two long deck names that share a start apart.
    digest = hashlib.sha256(deck.encode()).hexdigest()[:12]
    cut = name.encode()[: _NAME_BYTES - 13].decode(errors="ignore")
    return f"{cut}-{digest}"


class PackageNames:
    """The package file names of decks, and which deck took each name first."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}  # a deck's notes are many, its name is one
        self._owners: dict[str, str] = {}

    def name(self, deck: str) -> str:
        """Return the package file stem of `deck` (see `package_name`)."""
        return self._names.get(deck) or self._names.setdefault(
            deck, package_name(deck)
        )

    def clash(self, deck: str) -> str | None:
        """Return the other deck that has the package name of `deck`, if any."""
        owner = self._owners.setdefault(self.name(deck), deck)
        return owner if owner != deck else None


class Packages:
    """The packages of a build, each staged as soon as its last note arrives and
    all moved into place at the end, unless the build has errors."""

    def __init__(
        self,
        cards: Sequence[Card | CardSummary],
        options: Options,
        report: Report,
        *,
        css: str,
        cache: BuildCache | None,
        read: Callable[[Note | Stored], Note],
    ) -> None:
        """Plan the packages of `cards`, whose notes `add` takes in their order.

        `css` is every package's stylesheet; `read` gives the note to write for one
        that `add` took, reading a cached one back, as the package is written.
        """
        self._options = options
        self._report = report
        self._cache = cache
        self._read = read
        self._errors: list[Diagnostic] = []
        """Errors found here, reported after the notes' diagnostics."""
        names = package_names(cards, options, self._errors)
        self._names = iter(names)
        self._left = collections.Counter(name for name in names if name is not None)
        self._notes: dict[str, list[Note | Stored]] = {name: [] for name in self._left}
        self._staged: dict[str, Path | None] = {}
        self._css = css
        self._created = _missing_folder(options.out)
        self._project = _project(options)
        self.removal_failed = False
        """Whether a package found stale could not be removed: the next build
        must try again, not replay this one's report."""
        self._tick: Callable[[], None] | None = None
        if self._writing:
            # What builds killed while writing left behind, looked for once: a
            # folder of N packages searched for each package would cost N * N.
            remove_abandoned(options.out)

    def add(self, note: Note | Stored) -> None:
        """Take the next note, in the order of the cards."""
        for file in note.media:
            # Read while rendering, maybe in a worker; the path as written is
            # recorded too, as it may lead elsewhere next time.
            inputs.record_file(file.path)
            inputs.record_file(file.written)
        name = next(self._names)
        if name is None or not self._writing:
            return
        self._notes[name].append(note)
        self._left[name] -= 1
        if self._left[name] == 0:
            self._stage(name)

    @property
    def _writing(self) -> bool:
        return not self._report.errors and not self._errors

    def commit(self, read: Sequence[Path] | None = None) -> None:
        """Move every staged package into place, unless the build has errors.

        `read` is given by a build that read every card file of the project: the
        packages earlier builds wrote that those files no longer make are removed.
        """
        self._report.diagnostics.extend(self._errors)
        self._errors = []
        if self._report.errors:
            return
        for name in self._notes:  # in the order of their first cards
            path = self._options.out / f"{name}.apkg"
            staged = self._staged[name]
            if staged is not None:
                try:
                    commit(staged, path)
                except OutputError as error:
                    # Those moved into place stay there, and are reported: a
                    # rename cannot be taken back once another has failed.
                    assert error.location is not None
                    self._report.error(error.location, error.message, error.remedy)
                    return
            del self._staged[name]
            self._report.packages.append(str(path))
        removed = self._remove_stale(read) if read is not None else []
        if self._cache is not None:
            self._cache.keep_package_entries(removed)

    def _remove_stale(self, read: Sequence[Path]) -> list[Path]:
        # A deck whose cards all went (deleted, moved, incomplete) leaves its package
        # of the last build, which Anki would import again.
        if self._cache is None:
            return []
        out = self._options.out
        written = [out / f"{name}.apkg" for name in self._notes]
        removed = []
        for found in self._cache.stale_packages(out, written, read, self._project):
            path = out / found.name  # as the user spells the folder
            try:
                path.unlink()
            except OSError as error:
                self.removal_failed = True
                self._report.warn(
                    Location(path, 1),
                    "cannot remove a package of an earlier build that this build "
                    f"does not write: {error.strerror}",
                    "delete it by hand before importing the folder into Anki",
                )
                continue
            removed.append(path)
            self._report.removed.append(str(path))
        return removed

    def discard(self) -> None:
        """Remove the staged packages not moved into place."""
        for staged in self._staged.values():
            if staged is not None:
                discard(staged)
        self._staged.clear()

    def remove_created(self) -> None:
        """Remove the output folders this build made, where they are empty."""
        if self._created is not None:
            _remove_created(self._options.out, self._created)

    def _stage(self, name: str) -> None:
        from deckbuilder.package import stage_package

        if self._tick is None:
            self._tick = ticker("packaging", len(self._notes), self._options)
        group = self._notes[name]
        self._notes[name] = []  # the notes go once packed; the name keeps its place
        path = self._options.out / f"{name}.apkg"
        timestamp = note_time(group, self._options)
        cache = self._cache
        key = None
        try:
            if cache is not None:
                key = cache.package_key(path, group, self._css, timestamp)
                if cache.package_is_current(path, key):
                    self._staged[name] = None
                    self._tick()
                    return
            written = stage_package(
                group, path, self._css, timestamp, read=self._read, tidy=False
            )
        except (OutputError, SourceError) as error:
            assert error.location is not None
            self._errors.append(
                Diagnostic(error.location, Severity.ERROR, error.message, error.remedy)
            )
            return
        self._staged[name] = written
        if cache is not None:
            sources = [note.location.path for note in group]
            cache.remember_package(path, key, written, sources, self._project)
        self._tick()


def _project(options: Options) -> Path:
    """Return the folder of the project a build's card folders belong to: builds of
    other projects into the same output folder leave its packages alone."""
    from deckbuilder.sources import project_root

    first = options.cards[0] if options.cards else Path()
    return project_root(first / "file") or Path(os.getcwd())


def package_names(
    cards: Sequence[Placed], options: Options, errors: list[Diagnostic]
) -> list[str | None]:
    """Return the package of each card; None for a card that has none, with an
    error in `errors` saying why."""
    if options.out.exists() and not options.out.is_dir():
        errors.append(
            Diagnostic(
                Location(options.out, 1),
                Severity.ERROR,
                f"output folder {options.out} is a file",
                "choose another folder with --out",
            )
        )
        return [None] * len(cards)
    if options.bundle is not None:
        return [options.bundle] * len(cards)
    names = PackageNames()
    packages: list[str | None] = []
    for card in cards:
        name = names.name(card.deck)
        if owner := names.clash(card.deck):
            errors.append(
                Diagnostic(
                    card.location,
                    Severity.ERROR,
                    f'decks "{owner}" and "{card.deck}" would both be written to '
                    f"{name}.apkg",
                    "rename one of the decks",
                )
            )
            packages.append(None)
            continue
        packages.append(name)
    return packages


def _missing_folder(folder: Path) -> Path | None:
    """Return the outermost folder of `folder` that does not exist yet, if any."""
    missing = None
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        missing = parent
    return missing


def _remove_created(folder: Path, created: Path) -> None:
    """Remove `folder` and its parents up to `created`, the ones this build made,
    where they are still empty."""
    for parent in (folder, *folder.parents):
        try:
            parent.rmdir()
        except OSError:
            return
        if parent == created:
            return


def note_time(notes: Sequence[Note | Stored], options: Options) -> float:
    """Return the modification time the notes of a package get: their newest
    source's, or SOURCE_DATE_EPOCH."""
    if options.source_date_epoch is not None:
        return float(options.source_date_epoch)
    # An edited image changes its note's field (its name comes from its content),
    # so media files count as sources; so do Anki note type files, since Anki takes
    # a note type's new templates and CSS only from a package newer than its own.
    sources = {note.location.path for note in notes}
    sources.update(file.path for note in notes for file in note.media)
    sources.update(n.anki_note_type.path for n in notes if n.anki_note_type)
    return max(source.stat().st_mtime for source in sources)
