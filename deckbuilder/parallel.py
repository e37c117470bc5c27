"""Render cards into notes, on every core when there are enough of them to pay."""

from __future__ import annotations

import collections
import contextlib
import gc
import os
import signal
import sys
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from deckbuilder.errors import DeckbuilderError
from deckbuilder.model import Card
from deckbuilder.report import Diagnostic

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from deckbuilder.cache_codec import NoteEntry
    from deckbuilder.package import Note
    from deckbuilder.render import Renderer

MINIMUM = 300
"""Fewest cards to render that are worth worker processes. Starting two workers and
moving cards and notes between processes costs 20 to 40 ms, as much as rendering 20
to 40 cards (benchmarks/README.md); the margin keeps the loss small on a machine whose
other core is busy. Below it a build renders in its own process, so small decks never
wait for workers."""
CHUNK = 50
"""Cards handed to a worker at a time: small enough that the first notes come back
while the card files are still being read, and that no worker idles long at the
end; large enough that moving them costs little beside rendering them."""

CARD_BYTES = 2000
"""Bytes of card file that a card takes, at most, as a rule: `minimum` times as many
bytes to read and render start the workers before the first file is read (see
`Rendering.expect`)."""

Rendered = tuple["Note", list[Diagnostic], "NoteEntry | None"]
"""A card's note, the diagnostics rendering it gave and, for a build with a cache,
the cache's entry for it, encoded where the note was rendered."""

_PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal a process gets when its parent ends."""

_renderer: Renderer | None = None
"""The worker's renderer, built on its first chunk and reused for the rest."""


class Rendering:
    """Cards handed over as they are read, their notes given back in the same order.

    Cards wait until there are `minimum` of them (default `MINIMUM`) and more than
    one core (or `workers`): then worker processes start and render them in chunks
    while the caller goes on reading cards and, later, writes packages from the
    first notes. With fewer, the cards are rendered in this process when the notes
    are asked for, so small decks never wait for workers; the notes are the same
    either way. With `entries`, each note comes with its cache entry (see
    `cache_codec.note_entry`), encoded in the worker too.
    """

    def __init__(
        self,
        *,
        entries: bool = False,
        minimum: int | None = None,
        workers: int | None = None,
    ) -> None:
        self._entries = entries
        self._minimum = MINIMUM if minimum is None else minimum
        self._workers = workers if workers is not None else _cores()
        self._waiting: list[Card] = []
        self._chunks: collections.deque[Future[list[Rendered]]] = collections.deque()
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Rendering:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def expect(self, size: int) -> None:
        """Start the workers now if `size` bytes of card files are about to be read
        and every card rendered, enough for `minimum` cards even if they are long.

        They then render the first cards while the rest are read, instead of
        waiting for `minimum` cards to be read first.
        """
        self._start_if(size >= self._minimum * CARD_BYTES)

    def add(self, card: Card) -> None:
        """Hand over `card`; its note comes back from `results` in this order."""
        self._waiting.append(card)
        self._start_if(len(self._waiting) >= self._minimum)
        if self._pool is not None and len(self._waiting) >= CHUNK:
            self._send()

    def results(self) -> Iterator[Rendered]:
        """Yield the note of every card handed over, in order, as each is ready.

        Every card must have been handed over before the first note is asked for.
        """
        if self._pool is None:
            yield from _rendered_here(self._waiting, self._entries)
            return
        from concurrent.futures.process import BrokenProcessPool

        if self._waiting:
            self._send()
        while self._chunks:
            try:
                chunk = self._chunks.popleft().result()
            except BrokenProcessPool:
                raise DeckbuilderError(
                    "a worker process rendering cards stopped before it was done",
                    remedy="it was killed, maybe for want of memory: build again, "
                    "or free memory",
                ) from None
            yield from chunk

    def close(self) -> None:
        """Stop the workers, if any, whether or not every note was taken."""
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        if self._chunks:
            # Interrupted or failed: what the workers are rendering is not wanted.
            # The executor has no public way to stop a busy worker before 3.14.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        self._chunks.clear()

    def _start_if(self, enough: bool) -> None:
        """Start the workers if there are `enough` cards to render, waiting or
        expected, more than one core, and no workers yet."""
        if enough and self._pool is None and self._workers > 1:
            self._start()

    def _start(self) -> None:
        # Imported only here: a build that renders in its own process does without
        # them (a tenth of the start of a rebuild that renders one card).
        from concurrent.futures import ProcessPoolExecutor

        # Imported before the workers start, so that forked workers inherit them.
        import deckbuilder.notes  # noqa: F401
        import deckbuilder.render  # noqa: F401

        if self._entries:
            import deckbuilder.cache_codec  # noqa: F401
        # Frozen objects are left out of garbage collection, so forked workers do not
        # walk (and so copy) every page of the build's memory that they inherit.
        gc.freeze()
        try:
            self._pool = ProcessPoolExecutor(
                self._workers,
                mp_context=_context(),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        finally:
            gc.unfreeze()

    def _send(self) -> None:
        assert self._pool is not None
        chunk, self._waiting = self._waiting, []
        for start in range(0, len(chunk), CHUNK):
            self._chunks.append(
                self._pool.submit(
                    _render_in_worker, chunk[start : start + CHUNK], self._entries
                )
            )


def render_cards(
    cards: list[Card],
    *,
    done: Callable[[], object] = lambda: None,
    minimum: int | None = None,
    workers: int | None = None,
) -> list[tuple[Note, list[Diagnostic]]]:
    """Return each card's note and diagnostics, in the order of `cards`.

    The list is emptied as its cards are handed over. `done` is called once for
    every card rendered. See `Rendering` for when workers render them.
    """
    with Rendering(minimum=minimum, workers=workers) as rendering:
        for card in cards:
            rendering.add(card)
        cards.clear()
        rendered = []
        for note, diagnostics, _ in rendering.results():
            rendered.append((note, diagnostics))
            done()
    return rendered


def _rendered_here(cards: list[Card], entries: bool) -> Iterator[Rendered]:
    """Yield the notes of `cards` rendered in this process, emptying the list."""
    if not cards:
        return  # a rebuild with every note cached imports no renderer
    from deckbuilder.render import Renderer

    renderer = Renderer()
    cards.reverse()
    while cards:
        yield _render_one(cards.pop(), renderer, entries)


def _render_one(card: Card, renderer: Renderer, entries: bool) -> Rendered:
    from deckbuilder.notes import card_note

    note, diagnostics = card_note(card, renderer)
    if not entries:
        return note, diagnostics, None
    from deckbuilder.cache_codec import note_entry

    return note, diagnostics, note_entry(note, diagnostics)


def _start_worker(build: int) -> None:
    # Ctrl-C reaches every process of the terminal's group: the build stops its
    # workers itself, and they must not print tracebacks of their own. Should the
    # build die without stopping them (SIGKILL, SIGTERM), Linux ends them too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != build:
            # The build died before the signal was asked for: it never comes.
            os._exit(1)


def _render_in_worker(cards: list[Card], entries: bool) -> list[Rendered]:
    from deckbuilder.render import Renderer

    global _renderer
    if _renderer is None:
        _renderer = Renderer()
    renderer = _renderer
    return [_render_one(card, renderer, entries) for card in cards]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _context() -> Any:
    # Forking starts a worker that already holds the imported renderer, in a few
    # milliseconds. It is safe only with no other threads running, and only on Linux:
    # macOS system libraries may crash in a forked child.
    import multiprocessing
    import threading

    if sys.platform == "linux" and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")
