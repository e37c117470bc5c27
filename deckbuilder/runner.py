"""Run a card's code in a process of its own, with time limits and crash detection.

`SnippetRunner` is the seam. `ForkServerRunner` keeps one helper process per pytest
process (or xdist worker) that has imported the heavy modules once, and forks a fresh
child from it for every card; `SubprocessRunner` starts a new interpreter per card and
is the baseline the benchmark compares against.
"""

from __future__ import annotations

import json
import linecache
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from deckbuilder import snippet_server

FailureKind = Literal["exception", "no-raise", "timeout", "crash", "internal"]

_SERVER = Path(snippet_server.__file__)
_START_TIMEOUT = 300.0
"""Seconds the helper may take to start and pre-import (TensorFlow takes a few)."""
_EXIT_GRACE = 10.0
"""Seconds a child may take to exit once its last step is done or it was killed."""
_DUMP_PAUSE = 0.2
"""Seconds a timed-out child gets to write its Python stack before it is killed."""
_DUMP_FRAME = re.compile(
    r'^\s+File "(?P<path>.*)", line (?P<line>\d+) in (?P<name>.*)$'
)
_DUMP_START = re.compile(r"^(Fatal Python error: |Stack \(most recent call first\):)")
ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_USE_LEGACY_KERAS": "1"}
"""Set for card code unless already set: quiet TensorFlow, and let `tf.compat.v1.layers`
find tf-keras (it must be set before Keras is first imported)."""


@dataclass(frozen=True)
class Step:
    """One piece of a card's code: a setup module, a setup block or a card block."""

    code: str
    path: Path
    """The file the code is in, for tracebacks: the card file or a helper module."""
    line: int
    """Line of `path` where `code` starts."""
    label: str
    """How messages name the step, e.g. `the block at cards/gans.md:12`."""
    timeout: float
    origin: int = 0
    """Line of the card file the step stands for: its block's opening fence, or the
    line that names its setup module."""
    setup: bool = False
    """Hidden setup, not shown on the card."""
    raises: str | None = None
    """Name of the exception class the step must raise."""
    capture: bool = False
    """Report what the step prints, for an output block."""


@dataclass(frozen=True)
class CardJob:
    """Everything needed to run one card's code, in order, in one namespace."""

    name: str
    file: Path
    """The card file; `__file__` in the card's namespace."""
    steps: tuple[Step, ...]
    project: Path
    """The project folder, given to the code as `DECKBUILDER_PROJECT`; the code runs
    in a fresh temporary folder."""
    sys_path: tuple[Path, ...] = ()
    seed: int = 0
    seed_modules: tuple[str, ...] = ()
    """Modules to seed before the card runs (random always is)."""


@dataclass(frozen=True)
class Frame:
    """One traceback entry."""

    path: str
    line: int
    name: str
    text: str


@dataclass(frozen=True)
class Failure:
    """Why a card did not pass."""

    kind: FailureKind
    message: str
    """The exception's last traceback line(s), or what happened to the process."""
    step: int | None
    """Index of the step that failed or was running, if known."""
    frames: tuple[Frame, ...] = ()
    """Traceback of the card's code, most recent call last; runner frames removed."""
    where: tuple[str, int] | None = None
    """File and line of a SyntaxError, which has no frame of its own."""


@dataclass(frozen=True)
class CardResult:
    """What running a card produced."""

    failure: Failure | None
    outputs: Mapping[int, str] = field(default_factory=dict)
    """What each finished step printed, for steps with `capture` set."""
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return self.failure is None


class SnippetRunner(Protocol):
    """Runs card jobs, each isolated from the others."""

    def run(self, job: CardJob) -> CardResult:
        """Run `job`; never raise for anything the card's code does."""
        ...

    def close(self) -> None:
        """Stop any helper processes."""
        ...


class ForkServerRunner:
    """Fork each card from a long-lived helper that has pre-imported heavy modules.

    The helper starts on the first `run`, so a session without card code never pays
    for it; `preload` names the modules it imports (missing ones are skipped).
    """

    def __init__(
        self,
        preload: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        memory: int = 0,
    ) -> None:
        self.preload = tuple(preload)
        self.env = _environment(env)
        self.memory = memory
        self._folder = Path(tempfile.mkdtemp(prefix="deckbuilder-"))
        self._server: subprocess.Popen[bytes] | None = None
        self._events: _EventReader | None = None
        self._count = 0

    def run(self, job: CardJob) -> CardResult:
        started = time.monotonic()
        try:
            events = self._ensure_server()
        except _ServerError as error:
            return CardResult(Failure("internal", str(error), None))
        assert self._server is not None and self._server.stdin is not None
        self._count += 1
        files = _Files(self._folder, self._count)
        try:
            _send(self._server.stdin.fileno(), _job_message(job, files, self.memory))
            run = _CardRun(job, events)
            run.wait_for_pid()
            run.drive()
        except _ServerError as error:
            self._stop()
            return files.result(Failure("internal", str(error), None), {}, started)
        return files.result(run.failure(), run.outputs, started)

    def close(self) -> None:
        self._stop()
        shutil.rmtree(self._folder, ignore_errors=True)

    def _ensure_server(self) -> _EventReader:
        if self._server is not None and self._server.poll() is None:
            assert self._events is not None
            return self._events
        self._stop()
        log = (self._folder / "server.log").open("wb")
        with log:
            self._server = subprocess.Popen(
                [sys.executable, str(_SERVER), "--preload", ",".join(self.preload)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=self.env,
                start_new_session=True,
            )
        assert self._server.stdout is not None
        self._events = _EventReader(self._server.stdout.fileno(), self._log_tail)
        try:
            ready = self._events.next(time.monotonic() + _START_TIMEOUT, "ready")
        except _ServerError:
            self._stop()
            raise
        if ready is None:
            self._stop()
            raise _ServerError(
                f"the snippet helper did not start within {_START_TIMEOUT:g} s"
            )
        return self._events

    def _log_tail(self) -> str:
        try:
            text = (self._folder / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-20:])

    def _stop(self) -> None:
        server, self._server, self._events = self._server, None, None
        if server is None:
            return
        assert server.stdin is not None and server.stdout is not None
        server.stdin.close()
        try:
            server.wait(timeout=_EXIT_GRACE)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()


class SubprocessRunner:
    """Run each card in a new interpreter: simple, isolated and slow to start."""

    def __init__(self, env: Mapping[str, str] | None = None, memory: int = 0) -> None:
        self.env = _environment(env)
        self.memory = memory
        self._folder = Path(tempfile.mkdtemp(prefix="deckbuilder-"))
        self._count = 0

    def run(self, job: CardJob) -> CardResult:
        started = time.monotonic()
        self._count += 1
        files = _Files(self._folder, self._count)
        process = subprocess.Popen(
            [sys.executable, str(_SERVER), "--once"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
        )
        assert process.stdin is not None and process.stdout is not None
        try:
            _send(process.stdin.fileno(), _job_message(job, files, self.memory))
            process.stdin.close()
            events = _EventReader(process.stdout.fileno(), lambda: "")
            run = _CardRun(job, events, pid=process.pid)
            run.drive(exit_on_eof=True)
            run.status = process.wait()
        except _ServerError as error:
            process.kill()
            process.wait()
            return files.result(Failure("internal", str(error), None), {}, started)
        finally:
            process.stdout.close()
        return files.result(run.failure(), run.outputs, started)

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)


class _ServerError(Exception):
    """The helper process broke the protocol or died."""


class _EventReader:
    """JSON-line events from a pipe, read with deadlines."""

    def __init__(self, fd: int, log_tail: Callable[[], str]) -> None:
        self.fd = fd
        self.buffer = b""
        self.log_tail = log_tail

    def next(self, deadline: float, expect: str | None = None) -> dict[str, Any] | None:
        """Return the next event, or None once `deadline` (monotonic) has passed.

        Raises _ServerError at end of file, or when the event is not `expect`.
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
                raise _ServerError(
                    "the snippet helper process died" + (f":\n{tail}" if tail else "")
                )
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            event: dict[str, Any] = json.loads(line)
        except ValueError:
            event = {"event": "torn"}  # a child killed while writing an event
        if expect is not None and event.get("event") != expect:
            raise _ServerError(f"the snippet helper sent {event!r}, not {expect!r}")
        return event


class _CardRun:
    """Follows one card's events, enforcing each step's time limit."""

    def __init__(
        self, job: CardJob, events: _EventReader, pid: int | None = None
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
        self.deadline = time.monotonic() + (
            _START_TIMEOUT if job.steps else _EXIT_GRACE
        )

    def wait_for_pid(self) -> None:
        event = self.events.next(time.monotonic() + _START_TIMEOUT, expect="pid")
        if event is None:
            raise _ServerError("the snippet helper did not fork a child in time")
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
                    self.deadline = time.monotonic() + _EXIT_GRACE
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
            except _ServerError:
                if exit_on_eof:
                    return
                raise
            if event is not None:
                yield event
                continue
            if killed_at is not None:
                raise _ServerError("a card's process did not die when killed")
            killed_at = time.monotonic()
            self.timed_out = self.step if self.step is not None else 0
            self._kill()
            self.deadline = killed_at + _EXIT_GRACE

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
class _Files:
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
        if (match := _DUMP_FRAME.match(line)) and match["path"] != str(_SERVER):
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


def _job_message(job: CardJob, files: _Files, memory: int) -> dict[str, Any]:
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


def _send(fd: int, message: dict[str, Any]) -> None:
    try:
        snippet_server.write_all(fd, (json.dumps(message) + "\n").encode())
    except BrokenPipeError as error:
        raise _ServerError("the snippet helper process is gone") from error


def _environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ if extra is None else extra)
    for key, value in ENVIRONMENT.items():
        env.setdefault(key, value)
    return env
