"""Tell, without parsing anything, that a build would write what the last one wrote.

After a build without errors, the manifest in the cache folder records what shaped
it: deckbuilder's code and libraries (the cache's code version, which also covers
the theme and the code colours of the stylesheet), the options, the paths given and
the working folder, everything the build read (`inputs`), its report, and the
digest of every package it left in place or wrote. When all of that is unchanged
and every package still holds those bytes, the next build returns the recorded
report and writes nothing: it would have written the same files. Anything else, a
missing or damaged manifest included, means a full build.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from deckbuilder.errors import DeckbuilderError
from deckbuilder.inputs import Inputs, sha256_of
from deckbuilder.model import Location
from deckbuilder.options import Options
from deckbuilder.report import Diagnostic, Report, Severity

NAME = "manifest.json"
"""The manifest's file in the cache folder."""
FORMAT = 2


def replay(paths: Sequence[Path], options: Options) -> Report | None:
    """Return the report of the last build if it would be built again unchanged."""
    from deckbuilder.sources import find_sources, project_root

    try:
        entry = json.loads(_path(options).read_bytes())
        if entry["format"] != FORMAT or entry["key"] != _key(paths, options):
            return None
        inputs = Inputs(**entry["inputs"])
        if not inputs.unchanged(find_sources, project_root):
            return None
        if not _outputs_unchanged(entry["outputs"]):
            return None
        return _report(entry["report"])
    except DeckbuilderError:
        return None  # such as a path given that is gone: the full build reports it
    except (OSError, ValueError, LookupError, TypeError, AttributeError):
        return None  # no manifest, or a damaged one
    except RecursionError:
        return None  # a manifest nested deeper than JSON can be read


def record(
    paths: Sequence[Path],
    options: Options,
    inputs: Inputs,
    report: Report,
    known: Callable[[Path], str | None] = lambda path: None,
) -> None:
    """Write the manifest of a build without errors; forget the last one otherwise.

    `known` gives the SHA-256 of a package when the build has it already.
    """
    from deckbuilder.files import replace_file

    path = _path(options)
    if report.errors:
        path.unlink(missing_ok=True)
        return
    outputs = {}
    for package in report.packages:
        digest = known(Path(package)) or sha256_of(Path(package))
        outputs[package] = [Path(package).stat().st_size, digest]
    entry = {
        "format": FORMAT,
        "key": _key(paths, options),
        "outputs": outputs,
        "inputs": {
            "files": inputs.files,
            "listings": inputs.listings,
            "roots": inputs.roots,
        },
        "report": _encode_report(report),
    }
    replace_file(path, json.dumps(entry).encode())


def _path(options: Options) -> Path:
    from deckbuilder.cache import FOLDER

    return options.out / FOLDER / NAME


def _key(paths: Sequence[Path], options: Options) -> str:
    from deckbuilder import code_version
    from deckbuilder.cache_codec import digest

    # Relative paths, in the options and in the recorded inputs, name other files
    # from another folder.
    return digest(
        code_version.code_version(), os.getcwd(), repr(list(paths)), repr(options)
    )


def _outputs_unchanged(outputs: dict[str, Any]) -> bool:
    for package, (size, digest) in outputs.items():
        path = Path(package)
        if path.stat().st_size != size or sha256_of(path) != digest:
            return False
    return True


def _encode_report(report: Report) -> dict[str, Any]:
    return {
        "diagnostics": [
            [str(d.location.path), d.location.line, d.location.column]
            + [d.severity.value, d.message, d.remedy]
            for d in report.diagnostics
        ],
        "decks": report.decks,
        "cards": report.cards,
        "incomplete": report.incomplete,
        "packages": report.packages,
    }


def _report(entry: dict[str, Any]) -> Report:
    diagnostics = [
        Diagnostic(Location(Path(path), line, column), Severity(severity), text, remedy)
        for path, line, column, severity, text, remedy in entry["diagnostics"]
    ]
    return Report(
        diagnostics=diagnostics,
        decks=entry["decks"],
        cards=entry["cards"],
        incomplete=entry["incomplete"],
        packages=list(entry["packages"]),
    )
