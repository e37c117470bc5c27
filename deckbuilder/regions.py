"""Named regions of helper modules, shown on cards by `include=PATH#REGION` blocks."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from deckbuilder import inputs
from deckbuilder.errors import SourceError
from deckbuilder.model import Location
from deckbuilder.sources import project_root

_START = re.compile(r"^\s*#\s*region\b[ \t]*(?P<name>\S*)")
_END = re.compile(r"^\s*#\s*endregion\b")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_INCLUDE_HELP = "write e.g. include=../code_snippets/gan_tf2.py#generator"


@dataclass(frozen=True)
class Region:
    """The code between `# region NAME` and `# endregion` in a module."""

    path: Path
    name: str
    first_line: int
    """Line of the module where `code` starts (1-based)."""
    code: str
    """The region dedented, without the marker lines of regions nested in it."""
    runnable: str
    """Like `code`, but nested marker lines are blank, so that line N of it is line
    `first_line + N - 1` of the module: tracebacks then point into the module."""


def find_region(text: str, name: str, path: Path) -> Region:
    """Return the region called `name` in the module text read from `path`.

    Raises SourceError, located in the module, when the region is missing, named twice,
    or never closed.
    """
    lines = python_lines(text)
    starts = [i for i, line in enumerate(lines) if _region_name(line) == name]
    if not starts:
        raise SourceError(
            f"region {name!r} not found in {path}",
            Location(path, 1),
            f"mark it with a `# region {name}` line and an `# endregion` line",
        )
    if len(starts) > 1:
        raise SourceError(
            f"region {name!r} is marked twice in {path}",
            Location(path, starts[1] + 1),
            "give each region its own name",
        )
    start = starts[0]
    end = _region_end(lines, start, path)
    body = lines[start + 1 : end]
    kept = ["" if _is_marker(line) else line for line in body]
    first = 0
    while first < len(kept) and not kept[first].strip():
        first += 1
    runnable = textwrap.dedent("".join(f"{line}\n" for line in kept[first:]))
    runnable = runnable.rstrip() + "\n" if runnable.strip() else ""
    shown = "".join(
        f"{line}\n"
        for line, original in zip(python_lines(runnable), body[first:], strict=False)
        if not _is_marker(original)
    )
    return Region(path, name, start + first + 2, shown, runnable)


def include_region(spec: str, location: Location) -> Region:
    """Return the region an `include=PATH#REGION` option at `location` names.

    PATH is relative to the card file and must stay inside the card's project: the
    nearest folder above the card that holds a `pyproject.toml` or `.git`.
    """
    module, hash_sign, name = spec.partition("#")
    if not module or not hash_sign or not name:
        raise SourceError(
            f"include={spec!r} does not name a module and a region",
            location,
            _INCLUDE_HELP,
        )
    card = location.path.resolve()
    path = (card.parent / module).resolve()
    root = project_root(card) or card.parent
    if not path.is_relative_to(root):
        raise SourceError(
            f"include path {module!r} leaves the project folder {root}",
            location,
            "keep helper modules inside the project, e.g. in code_snippets/",
        )
    try:
        # Newlines as Path.read_text reads them.
        # By the path as written, so that a build can tell when a symbolic link
        # on the way is pointed elsewhere.
        text = inputs.read_bytes(location.path.parent / module).decode("utf-8")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8"
        raise SourceError(
            f"cannot read included module {module!r}: {reason}",
            location,
            "the path is relative to the card file; " + _INCLUDE_HELP,
        ) from error
    try:
        region = find_region(text, name, path)
    except SourceError as error:
        raise SourceError(error.message, location, error.remedy) from error
    # The card file's own control characters are refused when it is parsed; a region
    # is shown on the card too, and Anki reads U+001F as the end of a field.
    if control := _CONTROL.search(region.code):
        line = region.first_line + region.code.count("\n", 0, control.start())
        raise SourceError(
            f"region {name!r} of {module} holds the control character "
            f"U+{ord(control[0]):04X} (line {line} of the module)",
            location,
            f"write it as an escape such as \\x{ord(control[0]):02x}; Anki cannot "
            "store it in a note",
        )
    return region


def included_code(spec: str, written: str, location: Location) -> str:
    """Return the code an `include` block shows; the block itself must be empty."""
    if written.strip():
        raise SourceError(
            "a code block with `include=` must be empty",
            location,
            "delete the code inside the fences; the block shows the included region",
        )
    return include_region(spec, location).code


def python_lines(text: str) -> list[str]:
    """Split source text into lines as Python does: at \\n, \\r\\n and \\r only.

    `str.splitlines` also splits at form feeds, U+2028 and others that Python keeps
    inside a line (or a string literal), which would shift every line after them.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def _region_name(line: str) -> str | None:
    match = _START.match(line)
    return match["name"] if match else None


def _is_marker(line: str) -> bool:
    return bool(_START.match(line) or _END.match(line))


def _region_end(lines: list[str], start: int, path: Path) -> int:
    depth = 0
    for index in range(start + 1, len(lines)):
        if _START.match(lines[index]):
            depth += 1
        elif _END.match(lines[index]):
            if depth == 0:
                return index
            depth -= 1
    raise SourceError(
        f"region {_region_name(lines[start])!r} is never closed",
        Location(path, start + 1),
        "end it with an `# endregion` line",
    )
