"""Remember rendered notes and written packages between builds, keyed on their inputs.

The cache is one JSON file under the output folder. A note is found again only when
everything that shapes it is the same: the parsed card (its text, place, deck, tags,
type, CSS and the code its blocks include), the contents of the media files it shows,
the options that can reach rendering, deckbuilder's version and source code, and the
versions of the libraries that render and pack. A package is left in place only when
its notes' contents, stylesheet, timestamp and path are the same and the file on disk
is still the one written for them. Notes of a build with errors are never kept. A
cache that is missing, unreadable, corrupt or from another version is ignored and
rebuilt; it never fails a build.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from deckbuilder.errors import DeckbuilderError
from deckbuilder.files import commit, stage
from deckbuilder.model import Card, Location
from deckbuilder.options import Options
from deckbuilder.report import Diagnostic, Severity

if TYPE_CHECKING:
    from deckbuilder.package import Note

FOLDER = ".deckbuilder-cache"
"""The cache's folder inside the output folder."""
FORMAT = 1
"""Version of the file's layout; a file of another layout is ignored."""
LIBRARIES = ("markdown", "pygments", "genanki")
"""Libraries whose output ends up in the notes or the packages."""
NOT_RENDERING = frozenset(
    {"cards", "out", "bundle", "strict", "source_date_epoch", "cache", "progress"}
)
"""Options that cannot change a rendered note: what to read (the cards themselves are
keyed), where and how to group the packages (package entries are keyed on their path
and notes), which diagnostics are errors (they are counted afresh each build), the
note time (package entries are keyed on it), whether to cache, and who hears of
progress. Every other option is part of the key, so one added later invalidates the
cache rather than leaving it stale."""

Rendered: TypeAlias = tuple["Note", list[Diagnostic]]
"""A card's note and the diagnostics rendering it gave."""


class BuildCache:
    """The notes and packages of earlier builds, read from one file."""

    def __init__(self, path: Path | None, options: Options) -> None:
        """Read the cache at `path`; with None, remember nothing and keep nothing."""
        self._path = path
        self._salt = _salt(options)
        self._notes: dict[str, Any] = {}
        self._packages: dict[str, Any] = {}
        self._kept_packages: dict[str, Any] = {}
        self._changed = False
        self._contents: dict[int, str] = {}
        """Digest of each note's contents, by the note's id, for the package keys."""
        self._kept: dict[str, tuple[Rendered, object, str]] = {}
        """The notes of this build, found or rendered, with their media's
        fingerprints and their contents' digest: what the next build may reuse."""
        if path is not None:
            self._notes, self._packages = _read(path)

    @classmethod
    def for_build(cls, options: Options) -> BuildCache:
        """Return the cache in the output folder of `options`."""
        return cls(options.out / FOLDER / "cache.json", options)

    def key(self, card: Card) -> str:
        """Return the key of everything that shapes the note of `card`."""
        return _digest(self._salt, repr(card))

    def note(self, key: str) -> Rendered | None:
        """Return the note and diagnostics stored under `key`, if any."""
        # Taken out of the file's entries: once decoded, the note holds the strings,
        # and the entry's containers can go.
        entry = self._notes.pop(key, None)
        if entry is None:
            return None
        try:
            rendered = _decode_rendered(entry)
            contents = entry["contents"]
            if not isinstance(contents, str):
                raise TypeError("contents")
        except (KeyError, TypeError, ValueError, AttributeError):
            self._changed = True
            return None
        self._contents[id(rendered[0])] = contents
        self._kept[key] = (rendered, entry["files"], contents)
        return rendered

    def remember_note(self, key: str, rendered: Rendered) -> None:
        """Store a freshly rendered note under `key`."""
        note = rendered[0]
        # A note is keyed on its card, but its contents also depend on the media files
        # it shows: those are fingerprinted now, as they were when rendered, and
        # packages are keyed on the notes' contents themselves.
        files: dict[str, list[object]] = {}
        for path in _files_of(note):
            files[str(path)] = _fingerprint(path)
        contents = _digest(repr(note))
        self._contents[id(note)] = contents
        # Encoded only when saved, one note at a time: a build holds its notes once.
        self._kept[key] = (rendered, files, contents)
        self._changed = True

    def package_key(
        self, path: Path, notes: Sequence[Note], css: str, timestamp: float
    ) -> str | None:
        """Return the key of the package at `path`, or None if a note is not cached."""
        keys = [self._contents.get(id(note)) for note in notes]
        if None in keys:
            return None
        return _digest(self._salt, str(path), css, repr(timestamp), *keys)  # type: ignore[arg-type]

    def package_is_current(self, path: Path, key: str | None) -> bool:
        """Tell whether `path` holds what a build would write under `key`."""
        entry = self._packages.get(str(path))
        if key is None or not isinstance(entry, dict) or entry.get("key") != key:
            return False
        if entry.get("digest") != _file_digest(path):
            return False
        self._kept_packages[str(path)] = entry
        return True

    def remember_package(self, path: Path, key: str | None, written: Path) -> None:
        """Record that `written`, to be moved to `path`, holds the package of `key`."""
        if key is None:
            return
        digest = _file_digest(written)
        if digest is not None:
            self._kept_packages[str(path)] = {"key": key, "digest": digest}
            self._changed = True

    def save(self) -> None:
        """Write what this build used and made; keep nothing it did not use."""
        if self._path is None:
            return
        unused = (
            bool(self._notes) or self._kept_packages.keys() != self._packages.keys()
        )
        if not self._changed and not unused:
            return
        document = {
            "format": FORMAT,
            "notes": self._encoded(),
            "packages": self._kept_packages,
        }
        try:
            commit(
                stage(self._path, lambda staged: _dump(document, staged)), self._path
            )
        except (OSError, DeckbuilderError):
            pass  # a cache that cannot be written costs speed, not correctness

    def _encoded(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for key, (rendered, files, contents) in self._kept.items():
            try:
                entry = _encode_rendered(rendered)
            except TypeError:
                continue  # a field of a kind the file cannot hold: never cached
            yield key, {**entry, "files": files, "contents": contents}


def _dump(document: dict[str, Any], path: Path) -> None:
    # Entry by entry: one string of the whole document would cost as much memory
    # again as the notes it holds, and json.dump's streaming encoder is pure Python.
    with path.open("w", encoding="utf-8") as file:
        file.write("{")
        for number, (name, value) in enumerate(document.items()):
            file.write(("," if number else "") + json.dumps(name) + ":")
            if isinstance(value, int):
                file.write(json.dumps(value))
                continue
            items = value.items() if isinstance(value, dict) else value
            file.write("{")
            for index, (key, entry) in enumerate(items):
                separator = "," if index else ""
                file.write(f"{separator}{json.dumps(key)}:{json.dumps(entry)}")
            file.write("}")
        file.write("}")


def _read(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}, {}
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return {}, {}
    notes, packages = document.get("notes"), document.get("packages")
    if not isinstance(notes, dict) or not isinstance(packages, dict):
        return {}, {}
    return notes, packages


def _salt(options: Options) -> str:
    rendering = {
        field.name: getattr(options, field.name)
        for field in dataclasses.fields(options)
        if field.name not in NOT_RENDERING
    }
    return _digest(_code_version(), repr(sorted(rendering.items())))


@cache
def _code_version() -> str:
    """Return a digest of deckbuilder's version, its own files and its libraries'
    versions: an edited checkout keeps its version number but not its files."""
    from deckbuilder import __version__

    package = Path(__file__).parent
    files = hashlib.sha256(__version__.encode())
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".css") and "__pycache__" not in path.parts:
            files.update(str(path.relative_to(package)).encode() + b"\0")
            files.update(path.read_bytes())
    versions = []
    for library in LIBRARIES:
        try:
            versions.append(f"{library} {metadata.version(library)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{library} unknown")
    return _digest(files.hexdigest(), *versions)


def _digest(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


# The file holds notes as JSON: strings and numbers as they are, tuples, paths and
# dataclasses (locations, media files) tagged. Reading goes by the type hints of the
# note's own fields, so a damaged file cannot make anything but what a note holds, and
# never a number where the package expects text. Files a note refers to (its media)
# are keyed by their contents: a note is found again only while they are unchanged.


def _encode_rendered(rendered: Rendered) -> dict[str, Any]:
    note, diagnostics = rendered
    return {
        "note": _encode(note),
        "diagnostics": [
            [
                _encode(diagnostic.location),
                diagnostic.severity.value,
                diagnostic.message,
                diagnostic.remedy,
            ]
            for diagnostic in diagnostics
        ],
    }


def _decode_rendered(entry: dict[str, Any]) -> Rendered:
    from deckbuilder.package import Note

    for name, recorded in entry["files"].items():
        if not _unchanged(Path(name), recorded):
            raise ValueError(f"{name} has changed")
    note: Note = _decode(entry["note"], Note)
    diagnostics = []
    for location, severity, message, remedy in entry["diagnostics"]:
        diagnostics.append(
            Diagnostic(
                _decode(location, Location),
                Severity(severity),
                _decode(message, str),
                _decode(remedy, str),
            )
        )
    return note, diagnostics


def _encode(value: object) -> object:
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, tuple):
        return {"tuple": [_encode(item) for item in value]}
    if isinstance(value, Path):
        return {"path": str(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            "fields": {
                field.name: _encode(getattr(value, field.name))
                for field in dataclasses.fields(value)
            }
        }
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _files_of(value: object) -> Iterator[Path]:
    """Yield the files a note refers to; a location's path is the card's own file,
    which the card's key covers."""
    if isinstance(value, Path):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _files_of(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, Location | type):
        for field in dataclasses.fields(value):
            yield from _files_of(getattr(value, field.name))


T = TypeVar("T")


def _decode(value: object, kind: type[T] | Any) -> T:
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if kind in (str, int, bool):
        if type(value) is kind:
            return value  # type: ignore[return-value]
    elif origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        if isinstance(value, dict) and isinstance(value.get("tuple"), list):
            return tuple(_decode(item, arguments[0]) for item in value["tuple"])  # type: ignore[return-value]
    elif kind is Path:
        if isinstance(value, dict) and isinstance(value.get("path"), str):
            return Path(value["path"])  # type: ignore[return-value]
    elif dataclasses.is_dataclass(kind) and isinstance(kind, type):
        if isinstance(value, dict) and isinstance(value.get("fields"), dict):
            hints = _hints(kind)
            fields = value["fields"]
            if fields.keys() == hints.keys():
                decoded = {name: _decode(fields[name], hints[name]) for name in hints}
                return kind(**decoded)  # type: ignore[return-value]
    raise TypeError(f"{value!r} is not a {kind}")


@cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _fingerprint(path: Path) -> list[object]:
    try:
        stat = path.stat()
    except OSError:
        return []
    return [stat.st_size, stat.st_mtime_ns, _file_digest(path)]


def _unchanged(path: Path, recorded: object) -> bool:
    """Tell whether the file has the contents it had when `recorded`; it is read
    again only when its size or modification time differ."""
    if not isinstance(recorded, list) or len(recorded) != 3:
        return False
    try:
        stat = path.stat()
    except OSError:
        return False
    if recorded[:2] == [stat.st_size, stat.st_mtime_ns]:
        return True
    return bool(recorded[2] == _file_digest(path))
