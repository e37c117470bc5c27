"""How the pytest plugin words problems: rootdir-relative places, folded tracebacks."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from deckbuilder.errors import DeckbuilderError
from deckbuilder.jobs import CardJob, Failure, Frame
from deckbuilder.model import Card, Location
from deckbuilder.plugin_options import format_size
from deckbuilder.report import Diagnostic, Severity

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
"""Terminal colour codes, which Keras puts in its error messages."""
_STDLIB = Path(os.__file__).parent.name


class Reporter:
    """Words the problems of one session, whose files lie under `rootpath`."""

    def __init__(self, rootpath: Path, memory: int) -> None:
        self.rootpath = rootpath
        self.memory = memory
        """The memory limit of each card's process, in bytes; 0 for none."""

    def failure(self, card: Card, job: CardJob, failure: Failure) -> str:
        """Return the report of a card whose run of `job` failed."""
        step = job.steps[failure.step] if failure.step is not None else None
        line = _failing_line(card, job, failure)
        where = f'{self.place(Location(card.location.path, line))}: card "{card.title}"'
        if failure.kind == "exception":
            if step is not None and (step.setup or step.path != card.location.path):
                where += f", in {step.label}"
            message = _ANSI.sub("", self.shorten_paths(failure.message))
            if "MemoryError" in failure.message:
                message += self.memory_hint()
            return "\n".join([where, *self.traceback(failure.frames), message])
        if failure.kind == "crash" and step is not None:
            message = f"{failure.message} while running {step.label}"
            if "SIGABRT" in failure.message or "SIGSEGV" in failure.message:
                message += self.memory_hint("if it ran out of memory: ")
        elif failure.kind == "internal":
            message = f"deckbuilder could not run the card: {failure.message}"
        else:
            message = failure.message
        stack = self.traceback(failure.frames, "It was running:")
        return "\n".join([f"{where}: {message}", *(stack if failure.frames else [])])

    def memory_hint(self, prefix: str = "") -> str:
        """Return the note on the memory limit that failures of allocation get."""
        if not self.memory:
            return ""
        size = format_size(self.memory)
        return (
            f"\n({prefix}each card may hold {size} of memory; "
            "--deckbuilder-memory raises the limit)"
        )

    def relative(self, path: Path | str) -> str:
        """Return `path` relative to the rootdir if it is inside it."""
        for candidate in (Path(path), Path(path).resolve()):
            if candidate.is_relative_to(self.rootpath):
                return str(candidate.relative_to(self.rootpath))
        return str(path)

    def shorten_paths(self, text: str) -> str:
        """Return `text` with paths inside the rootdir made relative to it."""
        return text.replace(f"{self.rootpath}{os.sep}", "")

    def place(self, location: Location) -> str:
        """Return `location` as `path:line`, the path relative to the rootdir."""
        return f"{self.relative(location.path)}:{location.line}"

    def describe(self, problem: DeckbuilderError | Diagnostic) -> str:
        """Return `problem` as a compiler-style line with a rootdir-relative path."""
        if isinstance(problem, DeckbuilderError):
            if problem.location is None:
                return str(problem)
            problem = Diagnostic(
                problem.location, Severity.ERROR, problem.message, problem.remedy
            )
        location = problem.location
        shown = Location(
            Path(self.relative(location.path)), location.line, location.column
        )
        return str(Diagnostic(shown, problem.severity, problem.message, problem.remedy))

    def traceback(
        self, frames: Sequence[Frame], title: str = "Traceback (most recent call last):"
    ) -> list[str]:
        """Return the lines of a traceback, each run of library frames folded."""
        lines = [title]
        for ours, group in _groups(frames, self._is_ours):
            if not ours:
                packages = ", ".join(dict.fromkeys(_package(f.path) for f in group))
                count = len(group)
                lines.append(f"  ... {count} frame{'s' * (count > 1)} in {packages}")
                continue
            for frame in group:
                lines.append(
                    f'  File "{self.relative(frame.path)}", line {frame.line}, '
                    f"in {frame.name}"
                )
                if frame.text:
                    lines.append(f"    {frame.text}")
        return lines

    def _is_ours(self, frame: Frame) -> bool:
        path = Path(frame.path)
        return path.is_relative_to(self.rootpath) and not {
            "site-packages",
            "dist-packages",
            ".venv",
        } & set(path.parts)


def _failing_line(card: Card, job: CardJob, failure: Failure) -> int:
    """Return the card file's line to blame: the innermost frame in it, else the
    line the failing step comes from, else the card's heading."""
    path = card.location.path
    if failure.where is not None and Path(failure.where[0]) == path:
        return failure.where[1]
    for frame in reversed(failure.frames):
        if Path(frame.path) == path:
            return frame.line
    if failure.step is not None:
        return job.steps[failure.step].origin or card.location.line
    return card.location.line


def _groups(
    frames: Sequence[Frame], ours: Callable[[Frame], bool]
) -> Iterator[tuple[bool, list[Frame]]]:
    group: list[Frame] = []
    for frame in frames:
        if group and ours(frame) != ours(group[0]):
            yield ours(group[0]), group
            group = []
        group.append(frame)
    if group:
        yield ours(group[0]), group


def _package(path: str) -> str:
    """Return the top-level package a library file belongs to, for a summary."""
    parts = Path(path).parts[:-1]
    for folder in ("site-packages", "dist-packages", _STDLIB):
        if folder in parts:
            return Path(path).parts[parts.index(folder) + 1].removesuffix(".py")
    return Path(path).parent.name or path
