"""Read and check metadata values: deck names, tags, note types, modules and GUIDs.

The values come from front matter and card metadata; each problem is located where
the value is written.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse

from deckbuilder.errors import SourceError
from deckbuilder.model import NOTE_TYPES, Location

# Anki writes GUIDs in printable ASCII, but a note imported from a text file may
# carry any text; only what would break the note (control characters) is refused.
_GUID_REFUSED = re.compile(r"[\x00-\x1f\x7f]")


def deck_name(value: object, location: Location | None) -> str:
    """Return the deck name `value` as Anki will store it; raise SourceError, at
    `location` (None for a command-line option), if Anki cannot use it."""
    if not isinstance(value, str) or not value.strip():
        raise SourceError(
            "deck name must be a non-empty string",
            location,
            "write e.g. `deck: Machine Learning::GANs`",
        )
    parts = [part.strip() for part in value.split("::")]
    # Anki drops colons at either end of a deck name part (`a:::b` becomes `a::b`),
    # which would silently merge decks that differ in the sources.
    if any(not part or part[0] == ":" or part[-1] == ":" for part in parts) or any(
        not c.isprintable() for c in value
    ):
        raise SourceError(
            f"deck name {value!r} cannot be used in Anki",
            location,
            "use printable text, with `::` only between non-empty deck names",
        )
    return "::".join(parts)


def read_tags(value: object, location: Location) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        words: list[object] = list(value.split())
    elif isinstance(value, list):
        words = value
    else:
        raise SourceError(
            "tags must be a list or a space-separated string",
            location,
            "write e.g. `tags: [gans, tensorflow]`",
        )
    tags = []
    for word in words:
        if isinstance(word, dict):
            # YAML reads `ml::` or `a: b` in a list as a mapping.
            raise SourceError(
                "a tag in the list ends with `:` or holds `: `, so YAML reads it as "
                "a mapping, not a tag",
                location,
                "quote the tag, e.g. `tags: ['ml::gans']`, and give every `::` a "
                "word on both sides",
            )
        if not isinstance(word, str | int) or not str(word).strip():
            raise SourceError(
                f"tag {word!r} is not a word", location, "write tags as words"
            )
        # Anki stores tags in Unicode's composed form (NFC).
        tag = unicodedata.normalize("NFC", str(word).strip())
        if problem := tag_problem(tag):
            raise SourceError(
                f"tag {tag!r} cannot be used in Anki: {problem}",
                location,
                "tags hold no spaces, quotes or invisible characters, and `::` only "
                "between words; use `-` to join words",
            )
        tags.append(tag)
    return tuple(tags)


def tag_problem(tag: str) -> str:
    # Anki splits tags at spaces (and U+3000), drops control characters and `"`, and
    # turns an empty part of `a::b` into `blank`; see normalize_tag_name in Anki's
    # rslib/src/tags/register.rs. Other spaces and invisible characters are refused
    # too: Anki keeps them, but no one could tell the tag from another.
    for char in tag:
        if char.isspace():
            return f"it holds the space U+{ord(char):04X}"
        if char == '"':
            return "it holds a double quote"
        if not char.isprintable():
            return f"it holds the invisible character U+{ord(char):04X}"
    if any(not part for part in tag.split("::")):
        return "`::` must stand between words"
    return ""


def merge_tags(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *second)))


def read_note_type(value: object, location: Location) -> str:
    if value not in NOTE_TYPES:
        raise SourceError(
            f"unknown note type {value!r}",
            location,
            f"use one of: {', '.join(NOTE_TYPES)}",
        )
    assert isinstance(value, str)
    return value


def read_guid(value: str | None, location: Location) -> str | None:
    if value is None:
        return None
    guid = urllib.parse.unquote(value)
    if not guid or _GUID_REFUSED.search(guid):
        raise SourceError(
            f"guid {value!r} is not an Anki GUID",
            location,
            "keep the guid as the import wrote it; delete it to give the card a new "
            "note",
        )
    return guid


def module_names(value: object, location: Location, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    names = value.split() if isinstance(value, str) else value
    if not isinstance(names, list) or not all(
        isinstance(name, str) and name.isidentifier() for name in names
    ):
        raise SourceError(
            f"{key} must name Python modules",
            location,
            f"write e.g. `{key}: gan_tf1`",
        )
    return tuple(names)

