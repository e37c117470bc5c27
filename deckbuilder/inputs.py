"""Record what a build reads from the file system, so a later build can tell it changed.

A build reads its inputs through `read_bytes` and asks `sources` where card files and
projects are; while `recording`, each answer is kept: the fingerprint (size,
modification time, SHA-256) of every file read, the card files found under each path
given, and the project root above each folder asked about. `unchanged` tells whether
the file system still gives those answers. Only the process that records sees what it
reads: rendering in worker processes must read nothing but the media files that its
notes name, which the build records from the notes.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_recording: contextvars.ContextVar[tuple[Inputs, ...]] = contextvars.ContextVar(
    "deckbuilder_inputs", default=()
)
"""The recordings under way, outermost first: each sees every read."""


@dataclass
class Inputs:
    """What one build read, as plain data that JSON can hold."""

    files: dict[str, list[object]] = field(default_factory=dict)
    """Each file read: [size, modification time in ns, SHA-256 of what was read,
    the file its path leads to through symbolic links]."""
    listings: list[tuple[list[str], list[str]]] = field(default_factory=list)
    """The paths given to look for card files in, and the card files found."""
    roots: dict[str, str | None] = field(default_factory=dict)
    """The project root above each folder asked about, or None outside any project."""

    def add_file(self, path: Path, data: bytes) -> None:
        """Record that `data` was read from `path`."""
        self._add(path, _fingerprint(path, data))

    def _add(self, path: Path, fingerprint: list[object]) -> None:
        earlier = self.files.get(str(path))
        if earlier is not None and earlier[2] != fingerprint[2]:
            # Read twice with different contents: what was built from it matches
            # neither, so no fingerprint may match it again.
            self.files[str(path)] = [-1, -1, "", ""]
            return
        self.files[str(path)] = fingerprint

    def unchanged(
        self,
        find: Callable[[Sequence[Path]], list[Path]],
        root: Callable[[Path], Path | None],
    ) -> bool:
        """Tell whether every file has the contents and time it had, and `find` and
        `root` (`sources.find_sources` and `sources.project_root`) give what they
        gave."""
        # Cheapest first: a file edited since has another time, found without
        # reading any file; the contents are compared last.
        if any(not _same_stat(Path(name), kept) for name, kept in self.files.items()):
            return False
        for folder, found in self.roots.items():
            now = root(Path(folder, "file"))
            if (str(now) if now is not None else None) != found:
                return False
        for paths, listed in self.listings:
            if [str(found) for found in find([Path(path) for path in paths])] != listed:
                return False
        return all(
            file_digest(Path(name)) == recorded[2]
            for name, recorded in self.files.items()
        )


@contextlib.contextmanager
def recording() -> Iterator[Inputs]:
    """Record, until the block ends, what this process reads through this module.

    A recording inside another sees what is read inside it; the outer one sees
    that too.
    """
    inputs = Inputs()
    token = _recording.set((*_recording.get(), inputs))
    try:
        yield inputs
    finally:
        _recording.reset(token)


def read_bytes(path: Path) -> bytes:
    """Return the contents of a file the build depends on, recording them.

    Every input of a build (card files, included code, stylesheets, media) is read
    here, or the build could not tell that it changed. OSError is left to the caller.
    """
    data = path.read_bytes()
    recordings = _recording.get()
    if recordings:
        fingerprint = _fingerprint(path, data)
        for inputs in recordings:
            inputs._add(path, fingerprint)
    return data


def record_file(path: Path) -> None:
    """Record a file the build depends on but read elsewhere (in a worker)."""
    if _recording.get():
        read_bytes(path)


def record_listing(paths: Sequence[Path], found: Sequence[Path]) -> None:
    """Record that the card files under `paths` are `found`."""
    for inputs in _recording.get():
        inputs.listings.append(([str(path) for path in paths], list(map(str, found))))


def record_root(folder: Path, root: Path | None) -> None:
    """Record that the project root above the files of `folder` is `root`."""
    for inputs in _recording.get():
        inputs.roots[str(folder)] = str(root) if root is not None else None


def _fingerprint(path: Path, data: bytes) -> list[object]:
    # The file is looked at after reading it: if it changed in between, the size
    # and time are of the new contents and the digest of the old ones, so they
    # never match the file again and the next build reads it afresh.
    stat = path.stat()
    digest = hashlib.sha256(data).hexdigest()
    return [stat.st_size, stat.st_mtime_ns, digest, os.path.realpath(path)]


def _same_stat(path: Path, recorded: list[object]) -> bool:
    try:
        stat = path.stat()
    except OSError:
        return False
    now = [stat.st_size, stat.st_mtime_ns]
    return now == recorded[:2] and os.path.realpath(path) == recorded[3]


def file_digest(path: Path) -> str | None:
    """Return the SHA-256 of the file at `path`, or None if it cannot be read."""
    try:
        return sha256_of(path)
    except OSError:
        return None


def sha256_of(path: Path) -> str:
    """Return the SHA-256 of the file at `path`; OSError if it cannot be read."""
    # Read in pieces: a package of 10,000 notes is a file of 28 MB, which would
    # otherwise be in memory beside the notes it was written from.
    with path.open("rb", buffering=0) as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
