"""Read a card file's YAML front matter: every value as text, every problem located."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from deckbuilder.errors import SourceError
from deckbuilder.model import Location, location_at

KEYS = ("deck", "tags", "type", "setup", "css", "note-type")


class _BadKey(yaml.YAMLError):
    def __init__(self, message: str, remedy: str, mark: yaml.Mark) -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy
        self.mark = mark


class _FrontMatterLoader(yaml.BaseLoader):
    """Read every value as text, as written: `tags: [yes, 007]` stays `yes`, `007`."""

    def construct_mapping(
        self, node: yaml.MappingNode, deep: bool = False
    ) -> dict[Any, Any]:
        keys: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise _BadKey(
                    "front matter key is not a word",
                    "write `key: value` lines, e.g. `deck: Machine Learning::GANs`",
                    key_node.start_mark,
                )
            if key in keys:
                raise _BadKey(
                    f"front matter sets {key!r} twice",
                    "keep one of the two lines",
                    key_node.start_mark,
                )
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


def read_front_matter(lines: list[str], path: Path) -> tuple[dict[str, Any], int]:
    """Return the front matter's settings and the index of the first line after it."""
    if not lines or lines[0].rstrip() != "---":
        return {}, 0
    for index in range(1, len(lines)):
        if lines[index].rstrip() in ("---", "..."):
            break
    else:
        raise SourceError(
            "front matter is never closed",
            Location(path, 1),
            "end it with a line holding ---",
        )
    text = "\n".join(lines[1:index])
    try:
        loaded = yaml.load(text, Loader=_FrontMatterLoader)  # noqa: S506 - BaseLoader builds no objects
    except _BadKey as error:
        raise SourceError(
            error.message, _yaml_location(path, text, error.mark.index), error.remedy
        ) from error
    except yaml.reader.ReaderError as error:
        raise SourceError(
            f"front matter holds the character U+{error.character:04X}",
            _yaml_location(path, text, error.position),
            "delete it; YAML does not allow it",
        ) from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = (
            _yaml_location(path, text, mark.index)
            if mark is not None
            else Location(path, 1)
        )
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise SourceError(
            f"front matter is not valid YAML: {problem}",
            where,
            "write `key: value` lines, close every bracket and quote, and quote "
            "values that hold `: `, e.g. `deck: 'ML :: GANs'`",
        ) from error
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise SourceError(
            "front matter must be a mapping of keys to values",
            Location(path, 2),
            "write it as `key: value` lines, e.g. `deck: Machine Learning::GANs`",
        )
    for key in loaded:
        if key not in KEYS:
            raise SourceError(
                f"unknown front matter key {key!r}",
                Location(path, key_line(lines, index, str(key))),
                f"use one of: {', '.join(KEYS)}",
            )
    return loaded, index + 1


def _yaml_location(path: Path, text: str, offset: int) -> Location:
    # PyYAML counts U+0085, U+2028 and U+2029 as line breaks too, so its line numbers
    # can run ahead of the file's; its character offsets cannot.
    inside = location_at(path, text, min(offset, len(text)))
    return Location(path, inside.line + 1, inside.column)


def key_line(lines: list[str], end: int, key: str) -> int:
    """Return the line that sets `key` among the first `end` lines, or 1."""
    for index in range(1, end):
        if lines[index].lstrip().startswith(f"{key}:"):
            return index + 1
    return 1
