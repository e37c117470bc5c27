"""Output blocks: compare them with what code printed, and rewrite them from a run."""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

from deckbuilder.errors import SourceError
from deckbuilder.fences import Fence, find_fences
from deckbuilder.files import replace_file
from deckbuilder.model import CodeBlock, Location
from deckbuilder.textlines import TextLines


def normalise(text: str) -> str:
    """Return text as output blocks compare it: no trailing spaces or blank lines."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "".join(f"{line}\n" for line in lines)


def matches(block: CodeBlock, printed: str) -> bool:
    """Return whether `printed` is what the output block says."""
    return normalise(block.code) == normalise(printed)


def difference(block: CodeBlock, printed: str, name: str) -> str:
    """Return a unified diff from the output block to what was printed."""
    lines = difflib.unified_diff(
        normalise(block.code).splitlines(keepends=True),
        normalise(printed).splitlines(keepends=True),
        fromfile=f"{name} (output block)",
        tofile="printed",
    )
    return "".join(lines)


def rewrite(block: CodeBlock, printed: str) -> None:
    """Replace the output block's text in its file with `printed`.

    Everything else in the file is kept byte for byte (line endings and byte-order
    mark included), the file is replaced atomically, and concurrent rewrites of files
    in the same folder (pytest-xdist workers) take turns. The block is found again by
    its text, nearest to where it was parsed, since earlier rewrites may have moved
    it. Raises SourceError when it is no longer there, OutputError when the file
    cannot be written.
    """
    path = block.location.path
    with _folder_lock(path.parent):
        data = path.read_bytes()
        bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
        text = data[len(bom) :].decode("utf-8")
        lines = TextLines(text)
        fence = _find(block, lines.lines)
        body = _body(normalise(printed), fence.indent, fence.marker, block.location)
        assert fence.end is not None
        lines.replace(fence.start + 1, fence.end, body)
        replace_file(path, bom + str(lines).encode("utf-8"))


def _find(block: CodeBlock, lines: list[str]) -> Fence:
    candidates = [
        fence
        for fence in find_fences(lines)
        if fence.end is not None
        and fence.language == block.language
        and normalise(fence.code) == normalise(block.code)
    ]
    if not candidates:
        raise SourceError(
            "the output block changed while the tests ran",
            block.location,
            "run the tests again to update it",
        )
    return min(candidates, key=lambda f: abs(f.start + 1 - block.location.line))



def _body(text: str, indent: int, marker: str, location: Location) -> list[str]:
    closing = re.compile(rf"^[ ]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
    lines = text.split("\n")[:-1] if text else []
    if any(closing.match(line) for line in lines):
        raise SourceError(
            f"the printed output holds a line that would close the {marker} fence",
            location,
            f"fence the output block with a longer marker, e.g. {marker}{marker[0]}",
        )
    return [" " * indent + line if line else "" for line in lines]


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
