"""Write output files atomically: complete under their name, or not there at all."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from deckbuilder.errors import OutputError
from deckbuilder.model import Location

_MODE = 0o644
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]+)\.[a-z0-9_]{8}$")
"""A staged file: `.NAME.PID.RANDOM`, beside NAME, written by process PID."""


def replace_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder.

    A symbolic link is written through, to the file it points at.
    """
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    temporary = stage(target, lambda staged: staged.write_bytes(data))
    commit(temporary, target)


def stage(path: Path, write: Callable[[Path], object], *, tidy: bool = True) -> Path:
    """Let `write` fill a new temporary file beside `path`; return that file.

    First the staged files of `path` that killed writers left are removed, unless
    `tidy` is false: a caller staging many files has `remove_abandoned` look through
    the folder once, rather than once for every file it stages.
    """
    where = Location(path, 1)
    if path.is_dir():
        raise OutputError(
            f"{path} is a folder", where, "choose a file name that is not taken"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(
            f"cannot create folder {path.parent}: {error.strerror}",
            where,
            "choose an output folder that can be created, e.g. build/",
        ) from error
    try:
        if tidy:
            remove_abandoned(path.parent, path.name)
        prefix = f".{path.name}.{os.getpid()}."
        # Resolved here, as mkstemp makes the folder absolute by its text: `..`
        # after a symbolic link would lead elsewhere than it does for the file.
        folder = os.path.realpath(path.parent)
        handle, name = tempfile.mkstemp(prefix=prefix, dir=folder)
        os.close(handle)
    except OSError as error:
        raise OutputError(
            f"cannot write to {path.parent}: {error.strerror}",
            where,
            "choose a folder you can write to",
        ) from error
    temporary = Path(name)
    try:
        write(temporary)
        mode = path.stat().st_mode & 0o7777 if path.exists() else _MODE
        os.chmod(temporary, mode)
    except OSError as error:
        discard(temporary)
        raise OutputError(
            f"cannot write {path}: {error.strerror}",
            where,
            "check the free disk space and the folder's permissions",
        ) from error
    except BaseException:
        discard(temporary)
        raise
    return temporary


def commit(temporary: Path, path: Path) -> None:
    """Move a staged file to its name in one step."""
    try:
        os.replace(temporary, path)
    except OSError as error:
        discard(temporary)
        raise OutputError(
            f"cannot write {path}: {error.strerror}",
            Location(path, 1),
            "check the folder's permissions",
        ) from error


def discard(temporary: Path) -> None:
    """Remove a staged file that will not be committed."""
    temporary.unlink(missing_ok=True)


def remove_abandoned(folder: Path, name: str | None = None) -> None:
    """Delete the staged files in `folder` (of `name` only, if given) whose writer is
    gone: a process killed between staging and committing leaves its file behind.

    A staged file's name holds the id of the process writing it, so the files of a
    build still running, such as another build into the same folder, are left alone.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or name not in (None, match["name"]):
            continue
        if not _running(int(match["pid"])):
            Path(entry.path).unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, as another user's process
    return True
