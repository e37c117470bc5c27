"""What a snippet runner is given and gives back: card jobs, failures, results.

`SnippetRunner` is the seam between the pytest plugin and the processes that run a
card's code; `deckbuilder.runner` holds its implementations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

FailureKind = Literal["exception", "no-raise", "timeout", "crash", "internal"]


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
