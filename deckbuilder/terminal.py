"""Progress bars on a terminal, drawn with rich only when a person is watching."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

DELAY = 0.5
"""Seconds a build runs before bars appear, so that a quick one shows none."""


def wants_progress(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Return whether to draw progress on `stream`: a terminal, and not in CI."""
    # CI services set CI (to "true", "1" or their name); a log wants no redraws.
    if environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


class ProgressBars:
    """A progress callback (see `Options.progress`) that draws one bar per step.

    Nothing is drawn, and rich's progress module is not even imported, until the
    build has run for `delay` seconds. The bars vanish when closed, leaving the
    terminal to the problems and the summary.
    """

    def __init__(
        self,
        stream: TextIO,
        delay: float = DELAY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._delay = delay
        self._clock = clock
        self._started = clock()
        self._bars: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._latest: dict[str, tuple[int, int]] = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        self._latest[step] = (done, total)
        if self._bars is None:
            if self._clock() - self._started < self._delay:
                return
            self._bars = self._open()
        self._show(self._bars, step)

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Take the bars off the terminal."""
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    def _open(self) -> Progress:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        # Only reached once wants_progress said the stream is a terminal.
        console = Console(file=self._stream, force_terminal=True)
        bars = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        bars.start()
        for step in self._latest:
            self._show(bars, step)
        return bars

    def _show(self, bars: Progress, step: str) -> None:
        done, total = self._latest[step]
        if step not in self._tasks:
            self._tasks[step] = bars.add_task(step, total=total)
        bars.update(self._tasks[step], completed=done, total=total)
