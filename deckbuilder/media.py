"""Find the images and sounds a card's HTML refers to, and name them for the package."""

from __future__ import annotations

import functools
import hashlib
import html
import os
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deckbuilder.model import Location
from deckbuilder.report import Diagnostic, Severity
from deckbuilder.sources import project_boundary

_IMG_SRC = re.compile(
    r"""(?P<before><img\b[^>]*?\bsrc\s*=\s*)(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)'|(?P<bare>[^\s"'>]+))""",  # noqa: E501
    re.IGNORECASE,
)
_SOUND = re.compile(r"\[sound:(?P<name>[^\]]+)\]")
_CODE_OR_COMMENT = re.compile(
    r"<code\b.*?</code>|<!--.*?-->", re.DOTALL | re.IGNORECASE
)
_URL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//|#)")
_HASH_CHARACTERS = 20


@dataclass(frozen=True)
class MediaFile:
    """A file a card shows or plays: its name in the package, and where it is."""

    name: str
    """The name in the package and in Anki's media folder, from the file's content,
    so one file used twice is stored once and two files never share a name."""
    path: Path
    """The file, symbolic links resolved."""
    written: Path
    """The path as the card wrote it, from the card's folder, links unresolved: the
    note is made again when one of them is pointed elsewhere."""


@dataclass(frozen=True)
class Linked:
    """A field's HTML with media names rewritten, the files, and the problems."""

    html: str
    files: tuple[MediaFile, ...]
    diagnostics: tuple[Diagnostic, ...]


def link_media(field: str, *, source: str, path: Path, first_line: int) -> Linked:
    """Point the images and sounds of `field` at their names in the package.

    `field` is HTML rendered from `source`, the Markdown whose first line is
    `first_line` of the card file `path`. References are relative to the card file and
    must stay inside its project (or, outside any project, the card's folder). Web
    addresses are left alone; code and HTML comments are not searched.
    """
    linker = _Linker(source, path, first_line)

    def image(match: re.Match[str]) -> str:
        written = match["double"] or match["single"] or match["bare"] or ""
        name = linker.link(html.unescape(written), "image")
        return match[0] if name is None else f'{match["before"]}"{name}"'

    def sound(match: re.Match[str]) -> str:
        name = linker.link(html.unescape(match["name"]), "sound")
        return match[0] if name is None else f"[sound:{name}]"

    linked = _replace_outside_code(
        _SOUND, _replace_outside_code(_IMG_SRC, field, image), sound
    )
    return Linked(linked, tuple(linker.files.values()), tuple(linker.diagnostics))


def _replace_outside_code(
    pattern: re.Pattern[str], text: str, replace: Callable[[re.Match[str]], str]
) -> str:
    # `[sound:...]` in a code sample is text to show, not a sound to play.
    hidden = [match.span() for match in _CODE_OR_COMMENT.finditer(text)]

    def replace_visible(match: re.Match[str]) -> str:
        if any(start <= match.start() < end for start, end in hidden):
            return match[0]
        return replace(match)

    return pattern.sub(replace_visible, text)


class _Linker:
    def __init__(self, source: str, path: Path, first_line: int) -> None:
        self.source = source
        self.path = path
        self.first_line = first_line
        self.files: dict[str, MediaFile] = {}
        self.diagnostics: list[Diagnostic] = []

    @functools.cached_property
    def boundary(self) -> Path:
        """The folder media must stay inside; looked up only for a field that has
        media, as the search for the project walks up the file system."""
        return project_boundary(self.path)

    def link(self, written: str, kind: str) -> str | None:
        """Return the package name for the file `written` refers to, or None."""
        if _URL.match(written) or not written.strip():
            return None
        relative = urllib.parse.unquote(written)
        target = Path(os.path.realpath(self.path.parent / relative))
        if not target.is_relative_to(self.boundary):
            self._error(
                written,
                f"{kind} {relative!r} is outside the project",
                f"keep media inside {self.boundary}, next to the cards",
            )
            return None
        if not target.is_file():
            self._error(
                written,
                f"{kind} {relative!r} not found",
                f"no file {target}; paths are relative to the card file",
            )
            return None
        try:
            stat = target.stat()
            times = stat.st_mtime_ns, stat.st_ctime_ns
            name = _stored_name(target, stat.st_size, *times)
        except OSError as error:
            self._error(
                written,
                f"cannot read {kind} {relative!r}: {error.strerror}",
                "check the file's permissions",
            )
            return None
        written_path = self.path.parent / relative
        self.files.setdefault(name, MediaFile(name, target, written_path))
        return name

    def _error(self, written: str, message: str, remedy: str) -> None:
        self.diagnostics.append(
            Diagnostic(self._where(written), Severity.ERROR, message, remedy)
        )

    def _where(self, written: str) -> Location:
        # The HTML has lost the Markdown's lines, so the reference is looked up as
        # written, preferably where a reference can start.
        found = [
            offset + len(before)
            for before in ("(", "<", '"', "'", "=", "[sound:")
            if (offset := self.source.find(before + written)) != -1
        ]
        offset = min(found) if found else self.source.find(written)
        if offset == -1:
            return Location(self.path, self.first_line)
        line = self.source.count("\n", 0, offset)
        column = offset - (self.source.rfind("\n", 0, offset) + 1) + 1
        return Location(self.path, self.first_line + line, column)


@functools.lru_cache(maxsize=4096)
def _stored_name(path: Path, size: int, mtime_ns: int, ctime_ns: int) -> str:
    # Size and times are part of the key so that an edited file is read again; the
    # change time too, as an edit can keep the size and restore the modification
    # time, but cannot set the change time.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:_HASH_CHARACTERS]
    suffix = "".join(c for c in path.suffix.lower() if c.isascii() and c.isalnum())
    return f"{digest}.{suffix}" if suffix else digest
