"""What the command line shows, without Typer: a build's problems, summary and code."""

from __future__ import annotations

import codecs
import contextlib
import enum
import json
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from deckbuilder.errors import DeckbuilderError
from deckbuilder.options import Options, Progress
from deckbuilder.report import Report

_LATEST_EPOCH = 4_102_444_799  # 2099-12-31: zip entries cannot hold later times
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")  # the colour codes click's echo strips


class Format(enum.StrEnum):
    """How problems and the summary are shown."""

    TEXT = "text"
    JSON = "json"


class UsageProblem(Exception):
    """A command-line value the command cannot take; shown as a usage error."""


@dataclass(frozen=True)
class BuildRequest:
    """What `deckbuilder build` is asked to do, its values checked.

    `None` means not given on the command line: `[tool.deckbuilder]` decides.
    """

    paths: tuple[Path, ...] = ()
    """Card files and folders; none means the project's `cards`."""
    out: Path | None = None
    strict: bool | None = None
    include_incomplete: bool | None = None
    bundle: str | None = None
    """The one package's name, without .apkg (see `bundle_name`)."""
    output: Format = Format.TEXT
    no_cache: bool = False
    source_date_epoch: int | None = None
    """From the environment (see `source_date_epoch`)."""


def run_build(request: BuildRequest) -> int:
    """Run the build `request` asks for, show its report and return the exit code."""
    from deckbuilder.pipeline import build

    return execute(
        lambda options: build(card_paths(request.paths, options), options),
        request.output,
        "built",
        out=request.out,
        strict=request.strict,
        include_incomplete=request.include_incomplete,
        bundle=request.bundle,
        source_date_epoch=request.source_date_epoch,
        cache=False if request.no_cache else None,
    )


def execute(
    action: Callable[[Options], Report], output: Format, verb: str, **flags: object
) -> int:
    """Run a build or check, with progress on a terminal; show it, return the code."""
    from deckbuilder.config import resolve_options

    started = time.monotonic()
    with progress(output) as bars:
        try:
            options = resolve_options({**flags, "progress": bars})
            report = action(options)
        except DeckbuilderError as error:
            return fail(error, output)
    if output is Format.JSON:
        emit(report.as_dict())
    else:
        print_report(report, verb, started)
    return report.exit_code


def card_paths(given: Sequence[Path] | None, options: Options) -> list[Path]:
    """Return the card files and folders to read: those given, else the project's."""
    return list(given or options.cards)


def source_date_epoch(environ: Mapping[str, str]) -> int | None:
    """Return the fixed note time that SOURCE_DATE_EPOCH in `environ` asks for."""
    value = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    # isdecimal, not isdigit: int() refuses digits such as "²" that isdigit allows.
    if not value.isdecimal() or int(value) > _LATEST_EPOCH:
        raise UsageProblem(
            "SOURCE_DATE_EPOCH must be whole seconds since 1970, before 2100, "
            f"not {value!r}"
        )
    return int(value)


def bundle_name(value: str | None) -> str | None:
    """Return the package name that `--bundle` gives, without its .apkg."""
    if value is None:
        return None
    name = value.removesuffix(".apkg")
    if not re.fullmatch(r"\w[\w.-]*", name):
        raise UsageProblem(
            f"{value!r} is not a file name; use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return name


def fail(error: DeckbuilderError, output: Format) -> int:
    """Show the error that stopped a command; return the exit code."""
    if output is Format.JSON:
        emit(failure(error))
    else:
        echo(str(error), err=True)
    return 1


def failure(error: DeckbuilderError) -> dict[str, object]:
    """Return the JSON document of a command stopped by `error`."""
    # Some failures have no place, such as a card folder that does not exist.
    where = error.location
    problem = {
        "path": where.path.as_posix() if where else None,
        "line": where.line if where else None,
        "column": where.column if where else None,
        "severity": "error",
        "message": error.message,
        "remedy": error.remedy,
    }
    return {"problems": [problem], "summary": {**Report().summary(), "errors": 1}}


def emit(document: dict[str, object]) -> None:
    """Write `document` to stdout as the one JSON document of a command."""
    echo(json.dumps(document, indent=2, ensure_ascii=False))


def print_diagnostics(report: Report) -> None:
    """Write the report's problems to stderr, one a line."""
    for diagnostic in report.diagnostics:
        echo(str(diagnostic), err=True)


def print_report(report: Report, verb: str, started: float) -> None:
    """Write the problems and the summary to stderr, the packages to stdout."""
    print_diagnostics(report)
    echo(summary_line(report, verb, time.monotonic() - started), err=True)
    for package in report.packages:
        echo(f"wrote {package}")
    for package in report.removed:
        echo(f"removed {package} (an earlier build wrote it; this build does not)")


def progress(output: Format) -> AbstractContextManager[Progress | None]:
    """Return progress bars on stderr if a person watches it, else nothing."""
    from deckbuilder.terminal import ProgressBars, wants_progress

    if output is Format.JSON or not wants_progress(sys.stderr):
        return contextlib.nullcontext()
    return ProgressBars(sys.stderr)


def summary_line(report: Report, verb: str, seconds: float) -> str:
    """Return the last line of a build: what was done, the counts and the time."""
    counts = [
        count(report.decks, "deck"),
        count(report.cards, "card"),
        f"{report.incomplete} incomplete",
        count(len(report.warnings), "warning"),
        count(len(report.errors), "error"),
    ]
    return f"{verb} {', '.join(counts)} in {seconds:.2f}s"


def count(number: int, noun: str) -> str:
    """Return "1 card" or "2 cards"."""
    return f"{number} {noun}{'s' * (number != 1)}"


def echo(message: str, *, err: bool = False, nl: bool = True) -> None:
    """Write `message` to stdout or stderr and flush, as `typer.echo` writes it."""
    stream: TextIO | None = sys.stderr if err else sys.stdout
    if stream is None:  # pythonw on Windows has no standard streams
        return
    text = f"{message}\n" if nl else message
    if not _shows_colour(stream):
        text = _ANSI.sub("", text)
    # click writes UTF-8 (errors replaced) to the bytes underneath a stream that is
    # set up for ASCII or has no encoding, rather than fail on the first "é".
    binary = getattr(stream, "buffer", None) if _misconfigured(stream) else None
    if binary is not None:
        stream.flush()
        binary.write(text.encode("utf-8", "replace"))
        binary.flush()
        return
    if text:
        stream.write(text)
    stream.flush()


def _shows_colour(stream: TextIO) -> bool:
    # click keeps colour codes for a terminal (converting them on Windows, where
    # without colorama it strips them) and for a Jupyter kernel's stream.
    if type(stream).__module__.startswith("ipykernel."):
        return True
    try:
        return stream.isatty() and sys.platform != "win32"
    except Exception:
        return False


def _misconfigured(stream: TextIO) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding or getattr(stream, "errors", None) is None:
        return True
    try:
        return codecs.lookup(encoding).name == "ascii"
    except LookupError:
        return False
