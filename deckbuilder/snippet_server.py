"""The helper process that runs card code: pre-imports, then forks one child per card.

The parent (`deckbuilder.runner`) starts this file as a script, so it imports nothing
from deckbuilder and stays quick to start; jobs and events travel as JSON lines.

`serve` pre-imports heavy modules once and then forks a child per card. It must never
run a TensorFlow op itself: a process that has run ops and then forks can deadlock its
children. `--once` runs a single card in this process, for the process-per-card runner.
"""

from __future__ import annotations

import builtins
import faulthandler
import importlib
import io
import json
import logging
import os
import random
import resource
import select
import signal
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Callable, Sequence
from typing import Any

Event = dict[str, Any]
Send = Callable[[Event], None]

_SEEDERS = {
    "numpy": ("random", "seed"),
    "tensorflow": ("random", "set_seed"),
    "keras": ("utils", "set_random_seed"),
}
"""Modules seeded before a card runs, when imported, and their seeding functions."""

INTERNAL_ERROR = 70
"""Exit code of a child whose runner code failed, as opposed to the card's code."""
_POLL = 0.1
"""Seconds between checks whether a card's process has exited."""
_DRAIN = 1.0
"""Seconds to wait for the events of a card whose process has exited."""


def main(argv: Sequence[str] | None = None) -> None:
    """Serve jobs from stdin: `--once` runs one, `--preload a,b` pre-imports first."""
    args = list(sys.argv[1:] if argv is None else argv)
    # Events go to a copy of the original stdout; fd 1 itself joins stderr, so that
    # anything an import prints cannot corrupt the event stream.
    events = os.dup(1)
    os.dup2(2, 1)
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(__file__):
        del sys.path[0]  # deckbuilder/ is not a place to import card modules from
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    jobs = _Lines(0)
    if "--once" in args:
        job = jobs.next_line()
        if job is not None:
            _run_guarded(json.loads(job), _sender(events))
        os._exit(0)
    preload = args[args.index("--preload") + 1] if "--preload" in args else ""
    serve(jobs, events, [name for name in preload.split(",") if name])


def serve(jobs: _Lines, events: int, preload: Sequence[str]) -> None:
    """Pre-import `preload`, then fork a child for each job until stdin closes."""
    send = _sender(events)
    loaded, missing = _preload(preload)
    send({"event": "ready", "preloaded": loaded, "missing": missing})
    while (line := jobs.next_line()) is not None:
        job = json.loads(line)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            os.close(events)
            _detach(jobs.fd)
            _run_guarded(job, _sender(write_end))
            os._exit(0)
        os.close(write_end)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass  # the child got there first, or is already gone
        send({"event": "pid", "pid": pid})
        status = _relay(read_end, pid, jobs, events)
        send({"event": "exit", "status": os.waitstatus_to_exitcode(status)})


def run_card(job: Event, send: Send) -> None:
    """Run a card's steps in order in one fresh namespace, reporting each step."""
    _capture(job["stdout"], job["stderr"])
    _limit_memory(job["memory"])
    _enter(job["workdir"], job["project"])
    sys.path[:0] = job["sys_path"]
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    _seed(job["seed"], job["seed_modules"])
    namespace = _fresh_main(job["file"])
    output = os.open(job["stdout"], os.O_RDONLY)
    for index, step in enumerate(job["steps"]):
        send({"event": "start", "step": index})
        start = os.lseek(1, 0, os.SEEK_CUR)
        error = _exec_step(step, namespace)
        sys.stdout.flush()
        end = os.lseek(1, 0, os.SEEK_CUR)
        if error is not None:
            send({"event": "error", "step": index, **error})
            return
        printed = os.pread(output, end - start, start) if step["capture"] else b""
        send(
            {
                "event": "done",
                "step": index,
                "output": printed.decode("utf-8", "backslashreplace"),
            }
        )


def _limit_memory(limit: int) -> None:
    # RLIMIT_DATA rather than RLIMIT_AS: TensorFlow reserves far more address space
    # than it ever writes to. The limit counts what the process inherited from the
    # helper (the preloaded modules) too; a card that allocates past it gets a
    # MemoryError, or dies if a C library cannot cope.
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _enter(workdir: str, project: str) -> None:
    """Make a fresh temporary folder the card's working folder, home and temp folder.

    Relative paths, `~` and `tempfile` then all land in a folder that the runner
    deletes after the card. Absolute paths still reach anywhere: this is not a
    sandbox.
    """
    os.chdir(workdir)
    for name in ("HOME", "TMPDIR", "TEMP", "TMP"):
        os.environ[name] = workdir
    os.environ["DECKBUILDER_PROJECT"] = project
    tempfile.tempdir = workdir


def _exec_step(step: Event, namespace: dict[str, Any]) -> Event | None:
    expected = step["raises"]
    # Blank lines in front make line N of the code line N of its file, so that
    # tracebacks, SyntaxErrors and linecache all point into the .md file.
    source = "\n" * (step["line"] - 1) + step["code"]
    try:
        exec(compile(source, step["path"], "exec", dont_inherit=True), namespace)
    except BaseException as error:  # noqa: BLE001 - SystemExit is a card failure too
        if expected and _is_expected(error, expected, namespace):
            return None
        return {
            "kind": "exception",
            "exception": _class_name(type(error)),
            "message": "".join(traceback.format_exception_only(error)).rstrip(),
            "frames": _frames(error),
            "where": _syntax_error_place(error),
        }
    if expected:
        return {
            "kind": "no-raise",
            "exception": "",
            "message": f"expected {expected} to be raised, but the block ran through",
            "frames": [],
        }
    return None


def _is_expected(error: BaseException, name: str, namespace: dict[str, Any]) -> bool:
    """Return whether `error` is the class `name` names, by name or as the card's
    code would spell it (`tf.errors.InvalidArgumentError`)."""
    if any(name in (cls.__name__, _class_name(cls)) for cls in type(error).__mro__):
        return True
    first, *attributes = name.split(".")
    try:
        expected = namespace[first] if first in namespace else getattr(builtins, first)
        for attribute in attributes:
            expected = getattr(expected, attribute)
    except (KeyError, AttributeError):
        return False
    return isinstance(expected, type) and isinstance(error, expected)


def _class_name(cls: type) -> str:
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _syntax_error_place(error: BaseException) -> list[object] | None:
    if isinstance(error, SyntaxError) and error.filename and error.lineno:
        return [error.filename, error.lineno]
    return None


def _frames(error: BaseException) -> list[list[object]]:
    frames = traceback.extract_tb(error.__traceback__)
    return [
        [frame.filename, frame.lineno or 0, frame.name, frame.line or ""]
        for frame in frames
        if frame.filename != __file__
    ]


def _capture(stdout: str, stderr: str) -> None:
    """Send fds 1 and 2, and Python's streams over them, to the job's files."""
    for fd, path in ((1, stdout), (2, stderr)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = _stream(1)
    sys.stderr = _stream(2)
    # A crash or a timeout then leaves the card's Python stack in the stderr file.
    faulthandler.enable(file=sys.stderr, all_threads=False)
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=False)


def _stream(fd: int) -> io.TextIOWrapper:
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(
        raw, encoding="utf-8", errors="backslashreplace", write_through=True
    )


def _seed(seed: int, modules: Sequence[str]) -> None:
    random.seed(seed)
    for name, (namespace, function) in _SEEDERS.items():
        if name not in modules and name not in sys.modules:
            continue
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue  # the card's own import will report it, at the card's line
        getattr(getattr(module, namespace), function)(seed)


def _fresh_main(path: str) -> dict[str, Any]:
    # A real module registered as __main__ lets pickle and dataclasses find classes
    # that a card defines.
    module = types.ModuleType("__main__")
    module.__file__ = path
    sys.modules["__main__"] = module
    return module.__dict__


def _run_guarded(job: Event, send: Send) -> None:
    try:
        run_card(job, send)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - report, then die with a telling code
        send({"event": "internal", "message": traceback.format_exc()})
        os._exit(INTERNAL_ERROR)


def _preload(names: Sequence[str]) -> tuple[list[str], list[str]]:
    loaded, missing = [], []
    for name in names:
        try:
            module = importlib.import_module(name)
            if name in _SEEDERS:
                # Resolve the seeding function now: numpy.random, for one, is a lazy
                # submodule that would otherwise be imported again in every child.
                getattr(module, _SEEDERS[name][0])
        except Exception:  # noqa: BLE001 - a card importing it will say why
            missing.append(name)
        else:
            loaded.append(name)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return loaded, missing


def _detach(jobs_fd: int) -> None:
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, jobs_fd)
    os.close(devnull)


def _relay(child: int, pid: int, jobs: _Lines, events: int) -> int:
    """Pass the child's events on until it closes its pipe; return its wait status.

    Processes the card started are killed with it: they share its process group.
    """
    line_open = False
    status: int | None = None
    drained = float("inf")
    while time.monotonic() < drained:
        ready, _, _ = select.select([child, jobs.fd], [], [], _POLL)
        if jobs.fd in ready and not jobs.fill():
            _kill_group(pid)  # the parent has gone: nobody wants this card any more
            os.waitpid(pid, 0)
            os._exit(0)
        if child in ready:
            data = os.read(child, 1 << 16)
            if not data:
                break
            write_all(events, data)
            line_open = not data.endswith(b"\n")
        elif status is None:
            reaped, wait_status = os.waitpid(pid, os.WNOHANG)
            if reaped == pid:
                # The card's process has exited, but a process it forked may hold
                # the pipe open: end the group, and stop waiting for one that left.
                status = wait_status
                _kill_group(pid)
                drained = time.monotonic() + _DRAIN
    os.close(child)
    if line_open:
        write_all(events, b"\n")  # a child killed mid-event: end the torn line
    _kill_group(pid)
    return os.waitpid(pid, 0)[1] if status is None else status


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _sender(fd: int) -> Send:
    owner = os.getpid()

    def send(event: Event) -> None:
        # A process that the card's code forked runs on through the same steps; its
        # events would be taken for the card's.
        if os.getpid() == owner:
            write_all(fd, (json.dumps(event) + "\n").encode())

    return send


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd`, however many writes that takes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Lines:
    """Newline-delimited messages read from a file descriptor, buffered."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.closed = False

    def fill(self) -> bool:
        """Read what is available; return False at end of file."""
        data = os.read(self.fd, 1 << 16)
        self.buffer += data
        self.closed = not data
        return bool(data)

    def next_line(self) -> bytes | None:
        while b"\n" not in self.buffer:
            if self.closed or not self.fill():
                return None
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line


if __name__ == "__main__":
    main()
