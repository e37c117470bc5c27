"""Chain the stages: find sources, parse, check, render and package them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from deckbuilder import inputs
from deckbuilder.checks import check_across, ships
from deckbuilder.errors import OutputError, SourceError
from deckbuilder.files import remove_abandoned
from deckbuilder.model import Card, CardFile, CardSummary, FileSummary
from deckbuilder.options import Options, ticker
from deckbuilder.packages import Packages, Placed, package_names
from deckbuilder.report import Diagnostic, Report
from deckbuilder.sources import find_sources, read_input

if TYPE_CHECKING:
    from deckbuilder.cache import BuildCache, Stored
    from deckbuilder.package import Note
    from deckbuilder.parallel import Rendering

T = TypeVar("T")
N = TypeVar("N", "Note", "Stored", "Note | Stored")


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


def _counted(items: Sequence[T], step: str, options: Options | None) -> Iterator[T]:
    """Yield `items`, telling the options' progress callback how many are done."""
    tick = ticker(step, len(items), options)
    for item in items:
        yield item
        tick()


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
            settled = _build(paths, options, report, cache)
    finally:
        if cache is not None:
            cache.close()
    if cache is not None and settled:
        try:
            manifest.record(paths, options, read, report, cache.package_digest)
        except (OSError, OutputError):
            pass  # the next build is a full one, which is slower, not wrong
    return report


def _build(
    paths: Sequence[Path], options: Options, report: Report, cache: BuildCache | None
) -> bool:
    """Build, and tell whether the next build with the same inputs may replay this
    one's report: not when a stale package could not be removed."""
    from deckbuilder import parallel

    packages = None
    finished = False
    try:
        # Packages are staged as their last notes come back from the workers,
        # while the workers render the notes of the next ones.
        with parallel.Rendering(entries=cache is not None) as rendering:
            plan = _plan(paths, options, report, cache, rendering)
            packages = Packages(
                plan.cards,
                options,
                report,
                css=_stylesheet(plan.cards),
                cache=cache,
                read=lambda note: _read(note, cache, options),
            )
            plan.cards.clear()  # rendering lets each card go once it is done
            for note in _notes(plan, rendering, report, cache, options):
                packages.add(note)
        # Only a build of the project's card folders knows every deck there is.
        packages.commit(plan.sources if _is_whole(paths, options) else None)
        finished = not report.errors
    finally:
        # A build with errors, or interrupted, leaves what it found: no staged
        # packages, no cache or folders it made.
        if packages is not None:
            packages.discard()
        if cache is not None and not finished:
            cache.forget()
        if packages is not None and not finished:
            packages.remove_created()
    if cache is not None and finished:
        cache.save()
    return packages is not None and not packages.removal_failed


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
    sources: list[Path]
    """The card files read."""


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
    plan = _Plan([], [], [], [])
    read = Report()
    incomplete = Report()

    def listed(sources: list[Path]) -> None:
        plan.sources.extend(sources)
        # A build with nothing to take from a cache renders every card it reads.
        if cache is None or cache.empty:
            rendering.expect(sum(_size(source) for source in sources))

    for file in _loaded(paths, read, options, cache, listed):
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
    listed: Callable[[list[Path]], object] = lambda sources: None,
) -> Iterator[CardFile | FileSummary]:
    """Yield each card file under `paths` parsed, or, with a `cache`, its summary
    where it need not be parsed again; `listed` is given the files first."""
    sources = find_sources(paths)
    listed(sources)
    for path in _counted(sources, "reading", options):
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
    tick = ticker("rendering", len(plan.found), options)
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


def _parsed(
    card: Card | CardSummary, cache: BuildCache | None, options: Options
) -> Card:
    if isinstance(card, Card):
        return card
    # A summary stands for a card only while its note is in the cache (see
    # `BuildCache.parsed`); should the cache fail since, the card is parsed.
    assert cache is not None
    return _card_again(card, cache, options)


def _read(item: Note | Stored, cache: BuildCache | None, options: Options) -> Note:
    """Return the note to write for `item`, reading a cached one back."""
    from deckbuilder import parallel
    from deckbuilder.cache import Stored

    if not isinstance(item, Stored):
        return item
    assert cache is not None
    note = cache.read(item)
    if note is not None and _placed_as(note, item):
        return note
    # Its summary read back and its note did not, or not as its card places it: a
    # damaged cache. The card renders as it did, diagnostics included, so the report
    # stands.
    card = item.card
    if isinstance(card, CardSummary):
        card = _card_again(card, cache, options)
    (fresh,) = parallel.render_cards([card])
    cache.remember_note(item.key, fresh)
    return fresh[0]


def _placed_as(note: Note, stored: Stored) -> bool:
    """Tell whether `note` has the deck and note type its card gave the package."""
    return (note.deck, note.note_type, note.anki_note_type) == (
        stored.deck,
        stored.note_type,
        stored.anki_note_type,
    )


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


def _group(notes: Sequence[N], options: Options, report: Report) -> dict[str, list[N]]:
    errors: list[Diagnostic] = []
    packages: dict[str, list[N]] = {}
    for note, name in zip(notes, package_names(notes, options, errors), strict=True):
        if name is not None:
            packages.setdefault(name, []).append(note)
    report.diagnostics.extend(errors)
    return packages


def _is_whole(paths: Sequence[Path], options: Options) -> bool:
    """Tell whether `paths` are the project's card folders and files, all of them."""
    given = {os.path.realpath(path) for path in paths}
    return given == {os.path.realpath(path) for path in options.cards}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reading it says what is wrong


def _stylesheet(notes: Sequence[Placed]) -> str:
    from deckbuilder.highlight import stylesheet

    # One note type serves every deck, so every package of a build carries the CSS of
    # all its decks, each scoped to its own deck.
    return stylesheet() + "".join(sorted({note.css for note in notes if note.css}))
