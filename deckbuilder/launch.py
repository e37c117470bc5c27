"""The console script: a plain `deckbuilder build` at once, all else through Typer."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from deckbuilder import console
from deckbuilder.console import BuildRequest, Format

# Typer 0.29 spends about 0.15 s turning a command line into values (it imports
# pydantic and builds a TypeAdapter per parameter), three times the work of a
# rebuild with nothing changed. So the `build` command line, as cli.build declares
# it, is read here by hand; whatever this does not read exactly as Typer would goes
# to Typer.
_SWITCHES = {
    "--strict": ("strict", True),
    "--no-strict": ("strict", False),
    "--include-incomplete": ("include_incomplete", True),
    "--no-include-incomplete": ("include_incomplete", False),
    "--no-cache": ("no_cache", True),
}
_VALUED = {"--out": "out", "-o": "out", "--bundle": "bundle", "--format": "output"}


def main() -> None:
    """Run the command line: a plain build without Typer, anything else with it."""
    request = parse_build(sys.argv[1:])
    if request is None:
        from deckbuilder import cli

        cli.main()
        return
    sys.exit(_run(request))


def parse_build(
    args: Sequence[str], environ: Mapping[str, str] = os.environ
) -> BuildRequest | None:
    """Return the build that `args` (the command line after the program) asks for.

    Return None unless the answer is certain, for Typer to handle: another command,
    help, an unknown, repeated or combined option, a missing, empty or odd value,
    anything Typer would call a usage error.
    """
    # Windows: click expands wildcards in arguments. _PROG_COMPLETE: Typer answers
    # shell completion, whatever the command line.
    if args[:1] != ["build"] or os.name == "nt" or _completing(environ):
        return None
    split = _split(iter(args[1:]))
    if split is None:
        return None
    paths, values, switches = split
    try:
        output = Format(values.get("output", "text").casefold())  # case_sensitive=False
        bundle = console.bundle_name(values.get("bundle"))
        epoch = console.source_date_epoch(environ)
    except (ValueError, console.UsageProblem):
        return None
    out = values.get("out")
    return BuildRequest(
        paths=tuple(Path(path) for path in paths),
        out=None if out is None else Path(out),
        strict=switches.get("strict"),
        include_incomplete=switches.get("include_incomplete"),
        bundle=bundle,
        output=output,
        no_cache=switches.get("no_cache", False),
        source_date_epoch=epoch,
    )


def _split(
    args: Iterator[str],
) -> tuple[list[str], dict[str, str], dict[str, bool]] | None:
    # As click's parser splits them: options anywhere, `--` ends them, "-" is an
    # argument. Typer takes the last of a repeated option, a value starting with "-"
    # as the value, "-oX" as "-o X" and "-o=X" as "-o =X": none of them is plain.
    paths: list[str] = []
    values: dict[str, str] = {}
    switches: dict[str, bool] = {}
    for arg in args:
        name, equals, value = arg.partition("=")
        if arg == "--":
            paths.extend(args)
        elif arg == "-" or not arg.startswith("-"):
            paths.append(arg)
        elif name in _SWITCHES and not equals:
            field, on = _SWITCHES[name]
            if field in switches:
                return None
            switches[field] = on
        elif name in _VALUED and not (equals and name == "-o"):
            field = _VALUED[name]
            value = value if equals else next(args, "")
            if field in values or not _plain(value) or value.startswith("-"):
                return None
            values[field] = value
        else:
            return None
    if not all(_plain(path) for path in paths):
        return None
    return paths, values, switches


def _plain(value: str) -> bool:
    # Typer makes "" the path "." and fails on a NUL with a usage error.
    return bool(value) and "\0" not in value


def _completing(environ: Mapping[str, str]) -> bool:
    return any(
        name.startswith("_") and name.endswith("_COMPLETE") and value
        for name, value in environ.items()
    )


def _run(request: BuildRequest) -> int:
    # What Typer does around a command, for the two things a build can meet.
    try:
        return console.run_build(request)
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        if error.errno != errno.EPIPE:
            raise
        # The reader went away (`deckbuilder build | head -1`): exit quietly, and
        # keep Python from complaining about the pipe as it flushes at exit.
        sys.stdout = cast(TextIO, _Pacified(sys.stdout))
        sys.stderr = cast(TextIO, _Pacified(sys.stderr))
        return 1


class _Pacified:
    """A stream whose flush ignores a broken pipe, as click's PacifyFlushWrapper."""

    def __init__(self, wrapped: TextIO) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError as error:
            if error.errno != errno.EPIPE:
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)
