"""Chain the stages: find sources, parse, check, render and package them."""

from __future__ import annotations

import collections
import hashlib
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, TypeVar, cast

from deckbuilder import inputs
from deckbuilder.checks import check_across, ships
from deckbuilder.errors import OutputError, SourceError
from deckbuilder.files import commit, discard, remove_abandoned
from deckbuilder.model import Card, CardFile, CardSummary, FileSummary, Location
from deckbuilder.options import Options
from deckbuilder.report import Diagnostic, Report, Severity
from deckbuilder.sources import find_sources, read_input

if TYPE_CHECKING:
    from deckbuilder.cache import BuildCache, Stored
    from deckbuilder.package import Note
    from deckbuilder.parallel import Rendering

T = TypeVar("T")
N = TypeVar("N", "Note", "Stored", "Note | Stored")
Placed: TypeAlias = "Card | CardSummary | Note | Stored"
"""A card, or its note: each knows its deck, place and deck CSS."""
_NAME_BYTES = 200
"""Longest package file stem, in UTF-8 bytes."""


def load(
    paths: Sequence[Path], report: Report, options: Options | None = None
) -> list[CardFile]:
    """Parse every card file under `paths`, recording problems in `report`."""
    return cast("list[CardFile]", list(_loaded(paths, report, options, None)))


def _parse(
    path: Path, options: Options | None, cache: BuildCache | None
) -> tuple[CardFile | FileSummary, Sequence[Diagnostic]]:
    # Imported here: a build that nothing changed parses nothing and imports no YAML.
    from deckbuilder.parse import parse_card_bytes, read_card_file

    if cache is None:
        parsed = read_card_file(path, options)
        return parsed.file, parsed.diagnostics
    data = read_input(path, SourceError, "card file")
    summary = cache.parsed(path, data)
    if summary is not None:
        return summary
    # What the parse reads besides the file decides whether its summary is kept.
    with inputs.recording() as read:
        parsed = parse_card_bytes(data, path, options)
    cache.remember_parsed(path, data, parsed, read)
    return parsed.file, parsed.diagnostics


def _ticker(step: str, total: int, options: Options) -> Callable[[], None]:
    """Report that `step` starts; return what to call as each of its items is done."""
    progress = options.progress
    if progress is None:
        return lambda: None
    progress(step, 0, total)
    done = itertools.count(1)
    return lambda: progress(step, next(done), total)


def _counted(items: Sequence[T], step: str, options: Options | None) -> Iterator[T]:
    """Yield `items`, telling the options' progress callback how many are done."""
    progress = options.progress if options is not None else None
    if progress is not None:
        progress(step, 0, len(items))
    for done, item in enumerate(items, 1):
        yield item
        if progress is not None:
            progress(step, done, len(items))


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


def check(paths: Sequence[Path], options: Options) -> Report:
    """Parse and render everything under `paths`, write nothing, report problems."""
    report = Report()
    _compile(paths, options, report)
    return report


def build(paths: Sequence[Path], options: Options) -> Report:
    """Build one package per deck (or one bundle) from the cards under `paths`.

    Nothing is written when there are errors; otherwise every package is staged
    first and then moved into place, so a failed build leaves the old ones alone.
    With the cache, a build whose inputs, options and code are those of the last
    build, and whose packages are still the ones it wrote, returns its report at
    once; otherwise notes and packages of earlier builds are reused where their own
    inputs are unchanged.
    """
    from deckbuilder import manifest

    if options.cache:
        replayed = manifest.replay(paths, options)
        if replayed is not None:
            remove_abandoned(options.out)  # as a full build does
            return replayed

    from deckbuilder.cache import BuildCache

    report = Report()
    cache = BuildCache.for_build(options) if options.cache else None
    try:
        with inputs.recording() as read:
            _build(paths, options, report, cache)
    finally:
        if cache is not None:
            cache.close()
    if cache is not None:
        try:
            manifest.record(paths, options, read, report, cache.package_digest)
        except (OSError, OutputError):
            pass  # the next build is a full one, which is slower, not wrong
    return report


def _build(
    paths: Sequence[Path], options: Options, report: Report, cache: BuildCache | None
) -> None:
    from deckbuilder import parallel

    packages = None
    try:
        # Packages are staged as their last notes come back from the workers,
        # while the workers render the notes of the next ones.
        with parallel.Rendering(entries=cache is not None) as rendering:
            plan = _plan(paths, options, report, cache, rendering)
            packages = _Packages(plan.cards, options, report, cache)
            plan.cards.clear()  # rendering lets each card go once it is done
            for note in _notes(plan, rendering, report, cache, options):
                packages.add(note)
        packages.commit()
    finally:
        if packages is not None:
            packages.discard()
    if cache is not None:
        if report.errors:
            cache.forget()
        else:
            cache.save()
    if report.errors:
        packages.remove_created()


def _compile(paths: Sequence[Path], options: Options, report: Report) -> list[Note]:
    """Return the note of every card to ship, all rendered, none from a cache."""
    from deckbuilder import parallel

    with parallel.Rendering() as rendering:
        plan = _plan(paths, options, report, None, rendering)
        notes = list(_notes(plan, rendering, report, None, options))
    return cast("list[Note]", notes)  # only a cache gives `Stored` notes


@dataclass
class _Plan:
    """The cards to ship, in order, and the notes the cache had for them."""

    cards: list[Card | CardSummary]
    keys: list[str]
    found: list[tuple[Stored, list[Diagnostic]] | None]
    """Each card's note from the cache; None for the cards handed over to render."""


def _plan(
    paths: Sequence[Path],
    options: Options,
    report: Report,
    cache: BuildCache | None,
    rendering: Rendering,
) -> _Plan:
    """Read the card files, check their cards and hand over those to render.

    Cards are handed over file by file, so that workers render the first files
    while the next are read; whether a card ships is its own business (see
    `checks.ships`), and the checks across cards only add diagnostics.
    """
    plan = _Plan([], [], [])
    read = Report()
    incomplete = Report()
    for file in _loaded(paths, read, options, cache):
        for card in file.cards:
            if not ships(card, options, incomplete):
                continue
            key = ""
            found = None
            if cache is not None:
                key = card.key if isinstance(card, CardSummary) else cache.key(card)
                found = cache.stored(key, card)
            if found is None:
                rendering.add(_parsed(card, cache, options))
            plan.cards.append(card)
            plan.keys.append(key)
            plan.found.append(found)
    report.diagnostics += read.diagnostics + incomplete.diagnostics
    report.incomplete += incomplete.incomplete
    check_across(plan.cards, report)
    report.decks = len({card.deck for card in plan.cards})
    report.cards = len(plan.cards)
    return plan


def _loaded(
    paths: Sequence[Path],
    report: Report,
    options: Options | None,
    cache: BuildCache | None,
) -> Iterator[CardFile | FileSummary]:
    """Yield each card file under `paths` parsed, or, with a `cache`, its summary
    where it need not be parsed again."""
    for path in _counted(find_sources(paths), "reading", options):
        try:
            parsed = _parse(path, options, cache)
        except SourceError as error:
            assert error.location is not None
            report.error(error.location, error.message, error.remedy)
            continue
        report.diagnostics.extend(parsed[1])
        yield parsed[0]


def _notes(
    plan: _Plan,
    rendering: Rendering,
    report: Report,
    cache: BuildCache | None,
    options: Options,
) -> Iterator[Note | Stored]:
    """Yield the note of every card in `plan`, rendered ones as they come back;
    their diagnostics go to `report` in the cards' order."""
    tick = _ticker("rendering", len(plan.found), options)
    for _ in filter(None, plan.found):
        tick()
    rendered = rendering.results()
    for index, found in enumerate(plan.found):
        if found is not None:
            plan.found[index] = None  # let it go once packed
            report.diagnostics.extend(found[1])
            yield found[0]
            continue
        note, diagnostics, entry = next(rendered)
        tick()
        if cache is not None:
            cache.remember_note(plan.keys[index], (note, diagnostics), entry)
        report.diagnostics.extend(diagnostics)
        yield note


class _Packages:
    """The packages of a build, each staged as soon as its last note arrives and
    all moved into place at the end, unless the build has errors."""

    def __init__(
        self,
        cards: Sequence[Card | CardSummary],
        options: Options,
        report: Report,
        cache: BuildCache | None,
    ) -> None:
        self._options = options
        self._report = report
        self._cache = cache
        self._errors: list[Diagnostic] = []
        """Errors found here, reported after the notes' diagnostics."""
        names = _package_names(cards, options, self._errors)
        self._names = iter(names)
        self._left = collections.Counter(name for name in names if name is not None)
        self._notes: dict[str, list[Note | Stored]] = {name: [] for name in self._left}
        self._staged: dict[str, Path | None] = {}
        self._css = _stylesheet(cards)
        self._created = _missing_folder(options.out)
        self._tick: Callable[[], None] | None = None
        if self._writing:
            # What builds killed while writing left behind, looked for once: a
            # folder of N packages searched for each package would cost N * N.
            remove_abandoned(options.out)

    def add(self, note: Note | Stored) -> None:
        """Take the next note, in the order of the cards."""
        for file in note.media:
            inputs.record_file(file.path)  # read while rendering, maybe in a worker
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

    def commit(self) -> None:
        """Move every staged package into place, unless the build has errors."""
        self._report.diagnostics.extend(self._errors)
        self._errors = []
        if self._report.errors:
            return
        for name in self._notes:  # in the order of their first cards
            path = self._options.out / f"{name}.apkg"
            staged = self._staged.pop(name)
            if staged is not None:
                commit(staged, path)
            self._report.packages.append(str(path))

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
            self._tick = _ticker("packaging", len(self._notes), self._options)
        group = self._notes[name]
        self._notes[name] = []  # the notes go once packed; the name keeps its place
        path = self._options.out / f"{name}.apkg"
        timestamp = _timestamp(group, self._options)
        cache = self._cache
        key = None
        try:
            if cache is not None:
                key = cache.package_key(path, group, self._css, timestamp)
                if cache.package_is_current(path, key):
                    self._staged[name] = None
                    self._tick()
                    return
            notes = _read(group, cache, self._options)
            del group
            written = stage_package(notes, path, self._css, timestamp, tidy=False)
        except (OutputError, SourceError) as error:
            assert error.location is not None
            self._errors.append(
                Diagnostic(error.location, Severity.ERROR, error.message, error.remedy)
            )
            return
        self._staged[name] = written
        if cache is not None:
            cache.remember_package(path, key, written)
        self._tick()


def _package_names(
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


def _parsed(
    card: Card | CardSummary, cache: BuildCache | None, options: Options
) -> Card:
    if isinstance(card, Card):
        return card
    # A summary stands for a card only while its note is in the cache (see
    # `BuildCache.parsed`); should the cache fail since, the card is parsed.
    assert cache is not None
    return _card_again(card, cache, options)


def _read(
    group: Sequence[Note | Stored], cache: BuildCache | None, options: Options
) -> list[Note]:
    """Return the notes of a package to write, reading cached ones back."""
    from deckbuilder import parallel
    from deckbuilder.cache import Stored

    notes = []
    for item in group:
        if not isinstance(item, Stored):
            notes.append(item)
            continue
        assert cache is not None
        note = cache.read(item)
        if note is None:
            # Its summary read back and its note did not: a damaged cache. The card
            # renders as it did, diagnostics included, so the report stands.
            card = item.card
            if isinstance(card, CardSummary):
                card = _card_again(card, cache, options)
            (fresh,) = parallel.render_cards([card])
            cache.remember_note(item.key, fresh)
            note = fresh[0]
        notes.append(note)
    return notes


def _card_again(summary: CardSummary, cache: BuildCache, options: Options) -> Card:
    """Parse the file of a card the build took from the cache's summary."""
    from deckbuilder.parse import read_card_file

    path = summary.location.path
    for card in read_card_file(path, options).file.cards:
        if cache.key(card) == summary.key:
            return card
    raise SourceError(
        "card file changed during the build", summary.location, "build again"
    )


def _group(
    notes: Sequence[N], options: Options, report: Report
) -> dict[str, list[N]]:
    errors: list[Diagnostic] = []
    packages: dict[str, list[N]] = {}
    for note, name in zip(notes, _package_names(notes, options, errors), strict=True):
        if name is not None:
            packages.setdefault(name, []).append(note)
    report.diagnostics.extend(errors)
    return packages


def _timestamp(notes: Sequence[Note | Stored], options: Options) -> float:
    if options.source_date_epoch is not None:
        return float(options.source_date_epoch)
    # An edited image changes its note's field (its name comes from its content),
    # so media files count as sources; so do Anki note type files, since Anki takes
    # a note type's new templates and CSS only from a package newer than its own.
    sources = {note.location.path for note in notes}
    sources.update(file.path for note in notes for file in note.media)
    sources.update(n.anki_note_type.path for n in notes if n.anki_note_type)
    return max(source.stat().st_mtime for source in sources)


def _stylesheet(notes: Sequence[Placed]) -> str:
    from deckbuilder.highlight import stylesheet

    # One note type serves every deck, so every package of a build carries the CSS of
    # all its decks, each scoped to its own deck.
    return stylesheet() + "".join(sorted({note.css for note in notes if note.css}))
