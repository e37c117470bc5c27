"""Settings from `[tool.deckbuilder]` in the project's pyproject.toml, folded into
Options with the command line's flags."""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deckbuilder.errors import ConfigError
from deckbuilder.model import NOTE_TYPES, Location
from deckbuilder.options import Options
from deckbuilder.sources import project_root

PYPROJECT = "pyproject.toml"
TABLE = "tool.deckbuilder"

_HEADER = re.compile(r"^\s*\[(?!\[)(?P<name>[^\]]*)\]")
_KEY = re.compile(r"""^(?P<indent>\s*)(?P<quote>["']?)(?P<key>[\w.-]+)(?P=quote)\s*=""")
_DECODE_PLACE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def resolve_options(flags: Mapping[str, object], start: Path | None = None) -> Options:
    """Return the options of the project around `start` (the working folder).

    `[tool.deckbuilder]` of the project's pyproject.toml gives the defaults and the
    `flags` (Options fields; `None` means not given) override them.
    """
    start = Path.cwd() if start is None else start
    pyproject = find_pyproject(start)
    settings = read_config(pyproject, start) if pyproject is not None else {}
    given = {name: value for name, value in flags.items() if value is not None}
    return dataclasses.replace(Options(), **{**settings, **given})


def find_pyproject(start: Path) -> Path | None:
    """Return the pyproject.toml of the project `start` is in, if it has one."""
    # project_root looks above its argument, so ask about a file inside `start`.
    root = project_root(start / PYPROJECT)
    if root is None or not (root / PYPROJECT).is_file():
        return None
    return root / PYPROJECT


def read_config(pyproject: Path, start: Path) -> dict[str, Any]:
    """Return the Options fields that `[tool.deckbuilder]` of `pyproject` sets.

    Paths in it are relative to the pyproject.toml's folder; they are returned
    relative to `start`, the working folder, as the command line's paths are.
    """
    shown = _shown(pyproject, start)
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"cannot read {PYPROJECT}: {error}",
            Location(shown, 1),
            "save it as UTF-8 text",
        ) from error
    table = _table(_load(text, shown), text, shown)
    places = _key_places(text, shown)
    settings: dict[str, Any] = {}
    for key, value in table.items():
        where = places.get(key, places.get("", Location(shown, 1)))
        if key not in _KEYS:
            raise ConfigError(
                f"unknown key {key!r} in [{TABLE}]",
                where,
                _suggestion(key),
            )
        setting = _Setting(key, where, pyproject.parent, start)
        settings.update(_KEYS[key](value, setting))
    return settings


def _load(text: str, shown: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        place = _DECODE_PLACE.search(message)
        line, column = text.count("\n") + 1, 1
        if place is not None and place[1] is not None:
            line, column = int(place[1]), int(place[2])
        problem = message[: place.start()] if place is not None else message
        raise ConfigError(
            f"{PYPROJECT} is not valid TOML: {problem}",
            Location(shown, line, column),
            "fix the TOML syntax; see https://toml.io",
        ) from error


def _table(document: dict[str, Any], text: str, shown: Path) -> dict[str, Any]:
    tool = document.get("tool", {})
    table = tool.get("deckbuilder", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        line = next(
            (n for n, row in enumerate(text.splitlines(), 1) if "deckbuilder" in row),
            1,
        )
        raise ConfigError(
            f"[{TABLE}] must be a table",
            Location(shown, line),
            f"write the settings as `key = value` lines under [{TABLE}]",
        )
    return table


def _key_places(text: str, shown: Path) -> dict[str, Location]:
    """Return where each key of `[tool.deckbuilder]` is written ("" for the header).

    tomllib gives no positions, so this scans the lines; the TOML is known to be
    valid by now, and keys written in unusual ways fall back to the table's header.
    """
    places: dict[str, Location] = {}
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header is not None:
            name = re.sub(r"""[\s"']""", "", header["name"])
            inside = name == TABLE
            if inside:
                places[""] = Location(shown, number)
            elif name.startswith(f"{TABLE}."):
                key = name.removeprefix(f"{TABLE}.").split(".")[0]
                places.setdefault(key, Location(shown, number))
            continue
        written = _KEY.match(line)
        if inside and written is not None:
            column = len(written["indent"]) + 1
            places.setdefault(written["key"], Location(shown, number, column))
    return places


def _suggestion(key: str) -> str:
    close = difflib.get_close_matches(key.replace("_", "-"), list(_KEYS), n=1)
    known = f"the keys are: {', '.join(_KEYS)}"
    return f"did you mean {close[0]!r}? {known}" if close else known


def _shown(path: Path, start: Path) -> Path:
    return Path(os.path.relpath(path, start))


@dataclass(frozen=True)
class _Setting:
    """One key as written: where, and the folders its paths are relative to."""

    key: str
    where: Location
    base: Path
    """The pyproject.toml's folder, which relative paths in it start from."""
    start: Path
    """The working folder, which the paths handed on are relative to."""

    def error(self, message: str, remedy: str) -> ConfigError:
        return ConfigError(f"{self.key} {message}", self.where, remedy)

    def path(self, value: str) -> Path:
        return (
            Path(value)
            if os.path.isabs(value)
            else _shown(self.base / value, self.start)
        )


def _cards(value: object, setting: _Setting) -> dict[str, Any]:
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list)
        or not items
        or not all(isinstance(item, str) and item.strip() for item in items)
    ):
        raise setting.error(
            f"must be a folder or a list of card files and folders, not {value!r}",
            f'write e.g. {setting.key} = ["cards"]',
        )
    for item in items:
        if not os.path.exists(setting.base / item):
            raise setting.error(
                f"names {item!r}, which does not exist",
                "give card files and folders relative to pyproject.toml, "
                'e.g. cards = ["cards"]',
            )
    # Folders name decks by the path below them, as cards/ does; deck names, and so
    # card ids, must not depend on the working folder, hence absolute paths.
    folders = [item for item in items if not item.endswith(".md")]
    return {
        "cards": tuple(setting.path(item) for item in items),
        "deck_folders": tuple(
            Path(os.path.abspath(setting.base / item)) for item in folders
        ),
    }


def _out(value: object, setting: _Setting) -> dict[str, Any]:
    if not isinstance(value, str) or not value.strip():
        raise setting.error(
            f"must be a folder, not {value!r}", f'write e.g. {setting.key} = "build"'
        )
    return {"out": setting.path(value)}


def _flag(field: str) -> _Read:
    def read(value: object, setting: _Setting) -> dict[str, Any]:
        if not isinstance(value, bool):
            raise setting.error(
                f"must be true or false, not {value!r}",
                f"write e.g. {setting.key} = true (lower case, no quotes)",
            )
        return {field: value}

    return read


def _note_type(value: object, setting: _Setting) -> dict[str, Any]:
    if value not in NOTE_TYPES:
        raise setting.error(
            f"names the unknown note type {value!r}",
            f"use one of: {', '.join(NOTE_TYPES)}",
        )
    return {"note_type": value}


def _theme(value: object, setting: _Setting) -> dict[str, Any]:
    if not isinstance(value, str) or not value.strip():
        raise setting.error(
            f"must name a stylesheet, not {value!r}",
            f'write e.g. {setting.key} = "styles/theme.css"',
        )
    # Absolute, as card files read it relative to themselves.
    path = Path(os.path.abspath(setting.base / value))
    if not path.is_file():
        raise setting.error(
            f"names {value!r}, which is not a file",
            "give the stylesheet's path relative to pyproject.toml",
        )
    return {"theme": path}


_Read = Callable[[object, _Setting], dict[str, Any]]
_KEYS: dict[str, _Read] = {
    "cards": _cards,
    "out": _out,
    "strict": _flag("strict"),
    "include-incomplete": _flag("include_incomplete"),
    "type": _note_type,
    "theme": _theme,
}
"""Each key of `[tool.deckbuilder]` and its reader, which returns Options fields."""
