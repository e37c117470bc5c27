"""Run a card's code in a process of its own, with time limits and crash detection.

Both fill the `SnippetRunner` seam of `deckbuilder.jobs`. `ForkServerRunner` keeps one
helper process per pytest process (or xdist worker) that has imported the heavy modules
once, and forks a fresh child from it for every card; `SubprocessRunner` starts a new
interpreter per card and is the baseline the benchmark compares against.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from deckbuilder.card_run import (
    EXIT_GRACE,
    SERVER,
    START_TIMEOUT,
    CardFiles,
    CardRun,
    EventReader,
    ServerError,
    job_message,
    send,
)
from deckbuilder.jobs import CardJob, CardResult, Failure

ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_USE_LEGACY_KERAS": "1"}
"""Set for card code unless already set: quiet TensorFlow, and let `tf.compat.v1.layers`
find tf-keras (it must be set before Keras is first imported)."""


class _ChildRunner:
    """What both runners keep: the card code's environment and memory limit, and a
    temporary folder with a numbered set of files for each card."""

    def __init__(self, env: Mapping[str, str] | None = None, memory: int = 0) -> None:
        self.env = _environment(env)
        self.memory = memory
        self._folder = Path(tempfile.mkdtemp(prefix="deckbuilder-"))
        self._count = 0

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)

    def _next_files(self) -> CardFiles:
        self._count += 1
        return CardFiles(self._folder, self._count)


class ForkServerRunner(_ChildRunner):
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
        super().__init__(env, memory)
        self.preload = tuple(preload)
        self._server: subprocess.Popen[bytes] | None = None
        self._events: EventReader | None = None

    def run(self, job: CardJob) -> CardResult:
        started = time.monotonic()
        try:
            events = self._ensure_server()
        except ServerError as error:
            return CardResult(Failure("internal", str(error), None))
        assert self._server is not None and self._server.stdin is not None
        files = self._next_files()
        try:
            send(self._server.stdin.fileno(), job_message(job, files, self.memory))
            run = CardRun(job, events)
            run.wait_for_pid()
            run.drive()
        except ServerError as error:
            self._stop()
            return files.result(Failure("internal", str(error), None), {}, started)
        return files.result(run.failure(), run.outputs, started)

    def close(self) -> None:
        self._stop()
        super().close()

    def _ensure_server(self) -> EventReader:
        if self._server is not None and self._server.poll() is None:
            assert self._events is not None
            return self._events
        self._stop()
        log = (self._folder / "server.log").open("wb")
        with log:
            self._server = subprocess.Popen(
                [sys.executable, str(SERVER), "--preload", ",".join(self.preload)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=self.env,
                start_new_session=True,
            )
        assert self._server.stdout is not None
        self._events = EventReader(self._server.stdout.fileno(), self._log_tail)
        try:
            ready = self._events.next(time.monotonic() + START_TIMEOUT, "ready")
        except ServerError:
            self._stop()
            raise
        if ready is None:
            self._stop()
            raise ServerError(
                f"the snippet helper did not start within {START_TIMEOUT:g} s"
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
            server.wait(timeout=EXIT_GRACE)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()


class SubprocessRunner(_ChildRunner):
    """Run each card in a new interpreter: simple, isolated and slow to start."""

    def run(self, job: CardJob) -> CardResult:
        started = time.monotonic()
        files = self._next_files()
        process = subprocess.Popen(
            [sys.executable, str(SERVER), "--once"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=self.env,
            start_new_session=True,
        )
        assert process.stdin is not None and process.stdout is not None
        try:
            send(process.stdin.fileno(), job_message(job, files, self.memory))
            process.stdin.close()
            events = EventReader(process.stdout.fileno(), lambda: "")
            run = CardRun(job, events, pid=process.pid)
            run.drive(exit_on_eof=True)
            run.status = process.wait()
        except ServerError as error:
            process.kill()
            process.wait()
            return files.result(Failure("internal", str(error), None), {}, started)
        finally:
            process.stdout.close()
        return files.result(run.failure(), run.outputs, started)


def _environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ if extra is None else extra)
    for key, value in ENVIRONMENT.items():
        env.setdefault(key, value)
    return env
