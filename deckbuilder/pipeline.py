"""Chain the stages: find sources, parse, check, render and package them."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast, overload

from deckbuilder import inputs
from deckbuilder.checks import select_cards
from deckbuilder.errors import OutputError, SourceError
from deckbuilder.files import commit, discard, remove_abandoned
from deckbuilder.model import Card, CardFile, CardSummary, FileSummary, Location
from deckbuilder.options import Options
from deckbuilder.report import Diagnostic, Report
from deckbuilder.sources import find_sources, read_input

if TYPE_CHECKING:
    from deckbuilder.cache import BuildCache, Stored
    from deckbuilder.package import Note

T = TypeVar("T")
N = TypeVar("N", "Note", "Stored", "Note | Stored")
_NAME_BYTES = 200
"""Longest package file stem, in UTF-8 bytes."""


@overload
def load(
    paths: Sequence[Path], report: Report, options: Options | None = None
) -> list[CardFile]: ...


@overload
def load(
    paths: Sequence[Path],
    report: Report,
    options: Options | None = None,
    *,
    cache: BuildCache,
) -> list[CardFile | FileSummary]: ...


def load(
    paths: Sequence[Path],
    report: Report,
    options: Options | None = None,
    *,
    cache: BuildCache | None = None,
) -> list[CardFile] | list[CardFile | FileSummary]:
    """Parse every card file under `paths`, recording problems in `report`.

    With a `cache`, a file that need not be parsed again gives a summary instead.
    """
    files: list[CardFile | FileSummary] = []
    for path in _counted(find_sources(paths), "reading", options):
        try:
            parsed = _parse(path, options, cache)
        except SourceError as error:
            assert error.location is not None
            report.error(error.location, error.message, error.remedy)
            continue
        report.diagnostics.extend(parsed[1])
        files.append(parsed[0])
    return files


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
    from deckbuilder.package import stage_package

    notes = _compile_cached(paths, options, report, cache)
    for file in {file.path for note in notes for file in note.media}:
        inputs.record_file(file)  # media are read while rendering, maybe in a worker
    packages = _group(notes, options, report)
    if report.errors:
        return

    # What builds killed while writing left behind, looked for once: a folder of
    # N packages searched for each package would cost N * N.
    remove_abandoned(options.out)
    css = _stylesheet(notes)
    staged: list[tuple[Path | None, Path]] = []
    try:
        for name, group in _counted(list(packages.items()), "packaging", options):
            path = options.out / f"{name}.apkg"
            timestamp = _timestamp(group, options)
            key = None
            if cache is not None:
                key = cache.package_key(path, group, css, timestamp)
                if cache.package_is_current(path, key):
                    staged.append((None, path))
                    continue
            written = stage_package(
                _read(group, cache, options), path, css, timestamp, tidy=False
            )
            staged.append((written, path))
            if cache is not None:
                cache.remember_package(path, key, written)
        for staged_file, path in staged:
            if staged_file is not None:
                commit(staged_file, path)
            report.packages.append(str(path))
    except (OutputError, SourceError) as error:
        assert error.location is not None
        report.error(error.location, error.message, error.remedy)
    finally:
        for staged_file, _ in staged:
            if staged_file is not None:
                discard(staged_file)
    if cache is not None and not report.errors:
        cache.save()


def _compile(paths: Sequence[Path], options: Options, report: Report) -> list[Note]:
    """Return the note of every card to ship, all rendered, none from a cache."""
    notes = _compile_cached(paths, options, report, None)
    return cast("list[Note]", notes)  # only a cache gives `Stored` notes


def _compile_cached(
    paths: Sequence[Path],
    options: Options,
    report: Report,
    cache: BuildCache | None,
) -> list[Note | Stored]:
    """Return the note of every card to ship; a cached one, unread, as `Stored`."""
    from deckbuilder import parallel

    files: Sequence[CardFile | FileSummary] = (
        load(paths, report, options)
        if cache is None
        else load(paths, report, options, cache=cache)
    )
    cards = select_cards(
        [card for file in files for card in file.cards], options, report
    )
    tick = _ticker("rendering", len(cards), options)

    # Cards found in the cache are done at once; the rest are rendered, on every
    # core when there are enough of them.
    keys = []
    if cache is not None:
        keys = [
            card.key if isinstance(card, CardSummary) else cache.key(card)
            for card in cards
        ]
    results: list[tuple[Note | Stored, list[Diagnostic]] | None] = [None] * len(cards)
    if cache is not None:
        results = [
            cache.stored(key, card) for key, card in zip(keys, cards, strict=True)
        ]
        for _ in filter(None, results):
            tick()
    missing = [index for index, result in enumerate(results) if result is None]
    report.decks = len({card.deck for card in cards})
    report.cards = len(cards)
    pending = [_parsed(cards[index], cache, options) for index in missing]
    # Rendering lets each card go once it is done; so must this function (a cached
    # note keeps its card, to render it again should the note not read back).
    del files, cards
    rendered = parallel.render_cards(pending, done=tick)
    for index, fresh in zip(missing, rendered, strict=True):
        results[index] = fresh
        if cache is not None:
            cache.remember_note(keys[index], fresh)

    notes = []
    for result in results:
        assert result is not None
        note, diagnostics = result
        report.diagnostics.extend(diagnostics)
        notes.append(note)
    return notes


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
    if options.out.exists() and not options.out.is_dir():
        report.error(
            Location(options.out, 1),
            f"output folder {options.out} is a file",
            "choose another folder with --out",
        )
        return {}
    if options.bundle is not None:
        return {options.bundle: list(notes)} if notes else {}
    packages: dict[str, list[N]] = {}
    names = PackageNames()
    for note in notes:
        name = names.name(note.deck)
        if owner := names.clash(note.deck):
            report.error(
                note.location,
                f'decks "{owner}" and "{note.deck}" would both be written to '
                f"{name}.apkg",
                "rename one of the decks",
            )
            continue
        packages.setdefault(name, []).append(note)
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


def _stylesheet(notes: Sequence[Note | Stored]) -> str:
    from deckbuilder.highlight import stylesheet

    # One note type serves every deck, so every package of a build carries the CSS of
    # all its decks, each scoped to its own deck.
    return stylesheet() + "".join(sorted({note.css for note in notes if note.css}))
