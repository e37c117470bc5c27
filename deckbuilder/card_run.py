"""One card's run in a child: the helper's pipe, the deadlines and the child's files.

Both runners speak to `snippet_server` the same way: a job message in, JSON-line
events out, and the child's stdout and stderr left in files that are read back here.
"""

from __future__ import annotations

import json
import linecache
import os
import re
import select
import shutil
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deckbuilder import snippet_server
from deckbuilder.jobs import CardJob, CardResult, Failure, FailureKind, Frame

SERVER = Path(snippet_server.__file__)
START_TIMEOUT = 300.0
"""Seconds the helper may take to start and pre-import (TensorFlow takes a few)."""
EXIT_GRACE = 10.0
"""Seconds a child may take to exit once its last step is done or it was killed."""
_DUMP_PAUSE = 0.2
"""Seconds a timed-out child gets to write its Python stack before it is killed."""
_DUMP_FRAME = re.compile(
    r'^\s+File "(?P<path>.*)", line (?P<line>\d+) in (?P<name>.*)$'
)
_DUMP_START = re.compile(r"^(Fatal Python error: |Stack \(most recent call first\):)")


class ServerError(Exception):
    """The helper process broke the protocol or died."""


class EventReader:
    """JSON-line events from a pipe, read with deadlines."""

    def __init__(self, fd: int, log_tail: Callable[[], str]) -> None:
        self.fd = fd
        self.buffer = b""
        self.log_tail = log_tail

    def next(self, deadline: float, expect: str | None = None) -> dict[str, Any] | None:
        """Return the next event, or None once `deadline` (monotonic) has passed.

        Raises ServerError at end of file, or when the event is not `expect`.
        """
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                return None
            data = os.read(self.fd, 1 << 16)
            if not data:
                tail = self.log_tail()
                raise ServerError(
                    "the snippet helper process died" + (f":\n{tail}" if tail else "")
                )
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            event: dict[str, Any] = json.loads(line)
        except ValueError:
            event = {"event": "torn"}  # a child killed while writing an event
        if expect is not None and event.get("event") != expect:
            raise ServerError(f"the snippet helper sent {event!r}, not {expect!r}")
        return event


class CardRun:
    """Follows one card's events, enforcing each step's time limit."""

    def __init__(
        self, job: CardJob, events: EventReader, pid: int | None = None
    ) -> None:
        self.job = job
        self.events = events
        self.pid = pid
        self.step: int | None = None
        self.done = 0
        self.outputs: dict[int, str] = {}
        self.error: dict[str, Any] | None = None
        self.internal: str | None = None
        self.timed_out: int | None = None
        self.status: int | None = None
        # Until its first step starts, the child is starting up (a new interpreter
        # also imports what it seeds): that is not the card's time.
        self.deadline = time.monotonic() + (START_TIMEOUT if job.steps else EXIT_GRACE)

    def wait_for_pid(self) -> None:
        event = self.events.next(time.monotonic() + START_TIMEOUT, expect="pid")
        if event is None:
            raise ServerError("the snippet helper did not fork a child in time")
        self.pid = int(event["pid"])

    def drive(self, exit_on_eof: bool = False) -> None:
        """Consume events until the child has exited (or, without a server, EOF)."""
        for event in self._events(exit_on_eof):
            kind = event.get("event")
            if kind == "start":
                self.step = int(event["step"])
                self.deadline = time.monotonic() + self.job.steps[self.step].timeout
            elif kind == "done":
                self.done += 1
                if self.job.steps[int(event["step"])].capture:
                    self.outputs[int(event["step"])] = str(event["output"])
                if self.done == len(self.job.steps):
                    self.deadline = time.monotonic() + EXIT_GRACE
            elif kind == "error":
                self.error = event
            elif kind == "internal":
                self.internal = str(event["message"])
            elif kind == "exit":
                self.status = int(event["status"])
                return

    def _events(self, exit_on_eof: bool) -> Iterator[dict[str, Any]]:
        killed_at: float | None = None
        while True:
            try:
                event = self.events.next(self.deadline)
            except ServerError:
                if exit_on_eof:
                    return
                raise
            if event is not None:
                yield event
                continue
            if killed_at is not None:
                raise ServerError("a card's process did not die when killed")
            killed_at = time.monotonic()
            self.timed_out = self.step if self.step is not None else 0
            self._kill()
            self.deadline = killed_at + EXIT_GRACE

    def _kill(self) -> None:
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGUSR1)  # faulthandler: write the Python stack
            time.sleep(_DUMP_PAUSE)
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def failure(self) -> Failure | None:
        """Return why the card failed, from the events read, or None if it passed."""
        if self.timed_out is not None:
            step = self.job.steps[self.timed_out]
            message = f"{step.label} timed out after {step.timeout:g} s"
            return Failure("timeout", message, self.timed_out)
        if self.internal is not None:
            return Failure("internal", self.internal, self.step)
        if self.error is not None:
            frames = tuple(
                Frame(str(path), int(line), str(name), str(text))
                for path, line, name, text in self.error["frames"]
            )
            kind: FailureKind = (
                "no-raise" if self.error["kind"] == "no-raise" else "exception"
            )
            message = str(self.error["message"])
            where = self.error.get("where")
            place = (str(where[0]), int(where[1])) if where else None
            return Failure(kind, message, int(self.error["step"]), frames, place)
        if self.status != 0 or self.done < len(self.job.steps):
            return Failure("crash", _death(self.status), self.step)
        return None


@dataclass(frozen=True)
class CardFiles:
    """Where a child's fds 1 and 2 go; read back, cleaned up, and the stack parsed."""

    folder: Path
    number: int

    @property
    def stdout(self) -> Path:
        return self.folder / f"card-{self.number}.out"

    @property
    def stderr(self) -> Path:
        return self.folder / f"card-{self.number}.err"

    @property
    def workdir(self) -> Path:
        """The card's working folder, home and temporary folder."""
        return self.folder / f"card-{self.number}"

    def result(
        self, failure: Failure | None, outputs: Mapping[int, str], started: float
    ) -> CardResult:
        stdout, stderr = (_read_and_remove(path) for path in (self.stdout, self.stderr))
        shutil.rmtree(self.workdir, ignore_errors=True)
        if failure is not None and failure.kind in ("timeout", "crash"):
            stderr, frames = _split_stack_dump(stderr)
            failure = Failure(failure.kind, failure.message, failure.step, frames)
        duration = time.monotonic() - started
        return CardResult(failure, dict(outputs), stdout, stderr, duration)


def _split_stack_dump(stderr: str) -> tuple[str, tuple[Frame, ...]]:
    """Cut faulthandler's dump off `stderr` and return it as frames, innermost last."""
    lines = stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if _DUMP_START.match(line)), None)
    if start is None:
        return stderr, ()
    frames = []
    for line in lines[start:]:
        if (match := _DUMP_FRAME.match(line)) and match["path"] != str(SERVER):
            path, number = match["path"], int(match["line"])
            text = linecache.getline(path, number).strip()
            frames.append(Frame(path, number, match["name"], text))
    kept = "\n".join(lines[:start])
    return (kept + "\n" if kept else ""), tuple(reversed(frames))


def _death(status: int | None) -> str:
    if status is None:
        return "interpreter died"
    if status < 0:
        try:
            name = f" ({signal.Signals(-status).name})"
        except ValueError:
            name = ""
        return f"interpreter died: signal {-status}{name}"
    return f"interpreter died: exit code {status}"


def _read_and_remove(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="backslashreplace")
    except FileNotFoundError:
        return ""
    path.unlink()
    return text


def job_message(job: CardJob, files: CardFiles, memory: int) -> dict[str, Any]:
    """Return the message that asks the helper to run `job`; make its folder."""
    files.workdir.mkdir(mode=0o700)
    return {
        "file": str(job.file),
        "project": str(job.project),
        "workdir": str(files.workdir),
        "memory": memory,
        "sys_path": [str(path) for path in job.sys_path],
        "seed": job.seed,
        "seed_modules": list(job.seed_modules),
        "stdout": str(files.stdout),
        "stderr": str(files.stderr),
        "steps": [
            {
                "code": step.code,
                "path": str(step.path),
                "line": step.line,
                "raises": step.raises,
                "capture": step.capture,
            }
            for step in job.steps
        ],
    }


def send(fd: int, message: dict[str, Any]) -> None:
    """Write `message` to the helper as one JSON line."""
    try:
        snippet_server.write_all(fd, (json.dumps(message) + "\n").encode())
    except BrokenPipeError as error:
        raise ServerError("the snippet helper process is gone") from error
