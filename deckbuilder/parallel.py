"""Render cards into notes, on every core when there are enough of them to pay."""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from deckbuilder.model import Card
from deckbuilder.report import Diagnostic

if TYPE_CHECKING:
    from deckbuilder.package import Note
    from deckbuilder.render import Renderer

MINIMUM = 300
"""Fewest cards to render that are worth worker processes. Starting two workers and
moving cards and notes between processes costs 20 to 40 ms, as much as rendering 20
to 40 cards (benchmarks/README.md); the margin keeps the loss small on a machine whose
other core is busy. Below it a build renders in its own process, so small decks never
wait for workers."""
CHUNKS_PER_WORKER = 4
"""Cards go out in this many chunks per worker, so that a worker given slow cards
does not leave the others idle at the end."""

_renderer: Renderer | None = None
"""The worker's renderer, built on its first chunk and reused for the rest."""


def render_cards(
    cards: list[Card],
    *,
    done: Callable[[], object] = lambda: None,
    minimum: int | None = None,
    workers: int | None = None,
) -> list[tuple[Note, list[Diagnostic]]]:
    """Return each card's note and diagnostics, in the order of `cards`.

    The list is emptied as its cards are rendered, or handed to a worker, so that a
    build need not hold every card and every note at once. `done` is called once for
    every card rendered. With at least `minimum` cards (default `MINIMUM`) and more
    than one core (or `workers`), the cards are shared among worker processes; the
    notes are the same either way.
    """
    if not cards:
        return []  # a rebuild with every note cached imports no renderer
    count = workers if workers is not None else _cores()
    if len(cards) < (MINIMUM if minimum is None else minimum) or count < 2:
        return _render(cards, done)

    size = -(-len(cards) // (count * CHUNKS_PER_WORKER))
    chunks = -(-len(cards) // size)
    # Imported before the workers start, so that forked workers inherit the modules.
    import deckbuilder.notes  # noqa: F401
    import deckbuilder.render  # noqa: F401

    rendered = []
    # Frozen objects are left out of garbage collection, so forked workers do not
    # walk (and so copy) every page of the build's memory that they inherit.
    gc.freeze()
    try:
        pool = _context().Pool(min(count, chunks))
    finally:
        gc.unfreeze()
    with pool:
        for chunk in pool.imap(_render_in_worker, _taken(cards, size)):
            rendered += chunk
            for _ in chunk:
                done()
    return rendered


def _taken(cards: list[Card], size: int) -> Iterator[list[Card]]:
    """Yield `cards` in chunks of `size`, each removed from the list as it goes."""
    while cards:
        chunk = cards[:size]
        del cards[:size]
        yield chunk


def _render(
    cards: list[Card], done: Callable[[], object]
) -> list[tuple[Note, list[Diagnostic]]]:
    from deckbuilder.notes import card_note
    from deckbuilder.render import Renderer

    renderer = Renderer()
    rendered = []
    cards.reverse()
    while cards:
        rendered.append(card_note(cards.pop(), renderer))
        done()
    return rendered


def _render_in_worker(cards: Sequence[Card]) -> list[tuple[Note, list[Diagnostic]]]:
    from deckbuilder.notes import card_note
    from deckbuilder.render import Renderer

    global _renderer
    if _renderer is None:
        _renderer = Renderer()
    renderer = _renderer
    return [card_note(card, renderer) for card in cards]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _context() -> multiprocessing.context.BaseContext:
    # Forking starts a worker that already holds the imported renderer, in a few
    # milliseconds. It is safe only with no other threads running, and only on Linux:
    # macOS system libraries may crash in a forked child.
    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")
