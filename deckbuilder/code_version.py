"""Name the code that builds notes: deckbuilder's version and files, its libraries'."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
from pathlib import Path

from deckbuilder.cache_codec import digest

LIBRARIES = ("markdown", "pygments", "genanki")
"""Libraries whose output ends up in the notes or the packages."""


@functools.cache
def code_version() -> str:
    """Return a digest of deckbuilder's version, its own files and its libraries'
    versions: an edited checkout keeps its version number but not its files."""
    from deckbuilder import __version__

    package = Path(__file__).parent
    files = hashlib.sha256(__version__.encode())
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".css") and "__pycache__" not in path.parts:
            files.update(str(path.relative_to(package)).encode() + b"\0")
            files.update(path.read_bytes())
    return digest(files.hexdigest(), *map(_distribution, LIBRARIES))


def _distribution(library: str) -> str:
    """Name the installed distribution of `library`, its version included."""
    # Its .dist-info folder beside it says as much as importlib.metadata would, at
    # a fraction of the cost of importing that, which a rebuild that nothing
    # changed would spend a fifth of its time on.
    spec = importlib.util.find_spec(library)
    if spec is not None and spec.origin is not None:
        folder = Path(spec.origin).parent.parent
        prefix = f"{library}-"
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            names = sorted(
                entry.name
                for entry in entries
                if entry.name.lower().startswith(prefix)
                and entry.name.endswith(".dist-info")
            )
            if names:
                return f"{library} {' '.join(names)}"
    from importlib import metadata

    try:
        return f"{library} {metadata.version(library)}"
    except metadata.PackageNotFoundError:
        return f"{library} unknown"
