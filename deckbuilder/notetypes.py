"""Anki note type files: a note type kept as Anki has it, for cards that name it.

Cards imported from Anki keep the note type they had, so that building them updates
the very notes they came from: Anki matches a note type by id and its fields and
templates by name. The file is YAML:

    id: 1700000000001
    name: Basic
    kind: standard          # or cloze
    fields: [Front, Back]
    templates:
      - name: Card 1
        front: "{{Front}}"
        back: "{{FrontSide}}<hr id=answer>{{Back}}"
    css: ".card { font-size: 20px; }"
    sort-field: Front       # optional, the first field by default
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deckbuilder import inputs
from deckbuilder.errors import SourceError
from deckbuilder.model import Location
from deckbuilder.sources import project_boundary

KEYS = ("id", "name", "kind", "fields", "templates", "css", "sort-field")
KINDS = ("standard", "cloze")
_TEMPLATE_KEYS = ("name", "front", "back")
# Anki keeps ids in a signed 64-bit column.
_MAX_ID = (1 << 63) - 1
# Characters Anki does not allow in a field name: they would break `{{Field}}`.
_FIELD_NAME_FORBIDDEN = set(':{}"')
_FIELD_NAME_NOT_FIRST = ("#", "/", "^")
_REFERENCE = re.compile(r"\{\{(?![!=])[#^/]?(?:[^{}]*:)?(?P<field>[^{}:]*)\}\}")
"""A field a template names: `{{Field}}`, `{{#Field}}`, `{{text:hint:Field}}`."""
_SPECIAL_FIELDS = frozenset(
    name.casefold()
    for name in ("FrontSide", "Tags", "Type", "Deck", "Subdeck", "Card", "CardFlag",
                 "CardID")
)  # fmt: skip
"""Fields Anki fills in itself."""


@dataclass(frozen=True)
class Template:
    """One card template of a note type: the name and the two sides' HTML."""

    name: str
    front: str
    back: str


@dataclass(frozen=True)
class NoteType:
    """An Anki note type as its file describes it."""

    path: Path
    """The note type file, resolved."""
    id: int
    name: str
    cloze: bool
    fields: tuple[str, ...]
    templates: tuple[Template, ...]
    css: str = ""
    sort_field: int = 0
    """Index of the field Anki's browser sorts by."""

    @property
    def sort_field_name(self) -> str:
        return self.fields[self.sort_field]


def load_note_type(value: object, card_file: Path, location: Location) -> NoteType:
    """Read the note type file named by `value`, relative to `card_file`.

    `location` is where the name is written, for errors about the name itself.
    """
    if not isinstance(value, str) or not value.strip():
        raise SourceError(
            "note-type must name a note type file",
            location,
            "write the file's path relative to the card file, e.g. "
            "`note-type: note-types/basic.yaml`",
        )
    written = card_file.parent / value.strip()
    path = Path(os.path.realpath(written))
    boundary = project_boundary(card_file)
    if not path.is_relative_to(boundary):
        raise SourceError(
            f"note type file {value.strip()} is outside the project",
            location,
            f"keep note type files inside {boundary}, next to the cards",
        )
    try:
        # Read as a build input, so that a build can tell when the file changed;
        # by the path as written, so that a symbolic link pointed elsewhere is too.
        data = inputs.read_bytes(written)
    except OSError as error:
        missing = isinstance(error, FileNotFoundError | IsADirectoryError)
        raise SourceError(
            f"note type file {value.strip()} does not exist"
            if missing
            else f"note type file {value.strip()} cannot be read: {error.strerror}",
            location,
            "write the note type file's path relative to the card file's folder, "
            "e.g. `note-type: note-types/basic.yaml`",
        ) from error
    return _parse(path, data)


@functools.lru_cache(maxsize=64)
def _parse(path: Path, data: bytes) -> NoteType:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceError(
            f"note type file is not valid UTF-8: {error.reason}",
            Location(path, 1),
            "save it as UTF-8",
        ) from error
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data_ = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - the safe loader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SourceError(
            f"note type file is not valid YAML: {getattr(error, 'problem', error)}",
            Location(path, line),
            "fix the YAML; quote template text that holds `: ` or starts with `{`",
        ) from error
    return _NoteTypeReader(path, node).read(data_)


class _NoteTypeReader:
    def __init__(self, path: Path, node: yaml.Node | None) -> None:
        self.path = path
        self.lines: dict[str, int] = {}
        if isinstance(node, yaml.MappingNode):
            for key, _ in node.value:
                self.lines.setdefault(str(key.value), key.start_mark.line + 1)

    def error(self, key: str, message: str, remedy: str) -> SourceError:
        return SourceError(message, Location(self.path, self.lines.get(key, 1)), remedy)

    def read(self, data: Any) -> NoteType:
        if not isinstance(data, dict):
            raise self.error("", "note type file must be a mapping", _LAYOUT)
        for key in data:
            if key not in KEYS:
                raise self.error(
                    str(key),
                    f"unknown note type key {key!r}",
                    f"use one of: {', '.join(KEYS)}",
                )
        for key in ("id", "name", "fields", "templates"):
            if key not in data:
                raise self.error("", f"note type file has no {key!r}", _LAYOUT)
        fields = self.fields(data["fields"])
        kind = data.get("kind", "standard")
        if kind not in KINDS:
            raise self.error(
                "kind", f"unknown note type kind {kind!r}", "use standard or cloze"
            )
        return NoteType(
            path=self.path,
            id=self.note_type_id(data["id"]),
            name=self.text("name", data["name"], allow_empty=False),
            cloze=kind == "cloze",
            fields=fields,
            templates=self.templates(data["templates"], fields, kind == "cloze"),
            css=self.text("css", data.get("css", "")),
            sort_field=self.sort_field(data.get("sort-field"), fields),
        )

    def note_type_id(self, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not (
            0 < value <= _MAX_ID
        ):
            raise self.error(
                "id",
                f"note type id must be a positive whole number, not {value!r}",
                "keep the id Anki gave the note type: Anki matches note types by it",
            )
        return value

    def text(self, key: str, value: object, *, allow_empty: bool = True) -> str:
        if not isinstance(value, str) or not (allow_empty or value.strip()):
            raise self.error(key, f"note type {key} must be text", _LAYOUT)
        return value

    def fields(self, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.error(
                "fields", "note type fields must be a list of names", _LAYOUT
            )
        names: list[str] = []
        for name in value:
            if (
                not isinstance(name, str)
                or not name.strip()
                or name != name.strip()
                or set(name) & _FIELD_NAME_FORBIDDEN
                or name.startswith(_FIELD_NAME_NOT_FIRST)
            ):
                raise self.error(
                    "fields",
                    f"field name {name!r} cannot be used in Anki",
                    "name fields with words, without `:`, `{`, `}` or `\"`, and "
                    "not starting with `#`, `/` or `^`",
                )
            if name.casefold() in (known.casefold() for known in names):
                raise self.error(
                    "fields", f"field {name!r} is listed twice", "name each field once"
                )
            names.append(name)
        return tuple(names)

    def templates(
        self, value: object, fields: tuple[str, ...], cloze: bool
    ) -> tuple[Template, ...]:
        if not isinstance(value, list) or not value:
            raise self.error(
                "templates", "note type templates must be a list", _LAYOUT
            )
        if cloze and len(value) != 1:
            raise self.error(
                "templates",
                "a cloze note type has exactly one template",
                "keep the one Anki has",
            )
        templates = []
        for entry in value:
            if not isinstance(entry, dict) or set(entry) != set(_TEMPLATE_KEYS):
                raise self.error(
                    "templates",
                    "each template needs exactly `name`, `front` and `back`",
                    _LAYOUT,
                )
            name, front, back = (
                self.text("templates", entry[key]) for key in _TEMPLATE_KEYS
            )
            if not name.strip():
                raise self.error("templates", "a template has no name", _LAYOUT)
            for side in (front, back):
                self.check_references(name, side, fields)
            templates.append(Template(name, front, back))
        names = [template.name for template in templates]
        if len(set(names)) != len(names):
            raise self.error(
                "templates", "two templates share a name", "name each template once"
            )
        return tuple(templates)

    def check_references(self, name: str, side: str, fields: tuple[str, ...]) -> None:
        # Anki shows "there is no field called ..." on every card of a template that
        # names a field its note type lacks.
        if "{{=" in side:
            return  # other delimiters: Anki's rarely used `{{=<% %>=}}`
        known = {field.casefold() for field in fields} | _SPECIAL_FIELDS
        for match in _REFERENCE.finditer(side):
            field = match["field"].strip()
            if field and field.casefold() not in known:
                raise self.error(
                    "templates",
                    f"template {name!r} names the field {field!r}, which the note "
                    "type does not have",
                    f"use one of its fields ({', '.join(fields)}) or a special one "
                    "such as FrontSide, or add the field to `fields`",
                )

    def sort_field(self, value: object, fields: tuple[str, ...]) -> int:
        if value is None:
            return 0
        if value not in fields:
            raise self.error(
                "sort-field",
                f"sort-field {value!r} is not one of the fields",
                f"use one of: {', '.join(fields)}",
            )
        return fields.index(str(value))


_LAYOUT = (
    "a note type file holds id, name, kind, fields, templates (each with name, front "
    "and back), css and sort-field; see docs/card-format.md"
)


def dump_note_type(note_type: NoteType, *, source: str = "") -> str:
    """Return the YAML text of a note type file for `note_type`."""
    data: dict[str, Any] = {
        "id": note_type.id,
        "name": note_type.name,
        "kind": "cloze" if note_type.cloze else "standard",
        "fields": list(note_type.fields),
        "templates": [
            {"name": t.name, "front": t.front, "back": t.back}
            for t in note_type.templates
        ],
        "css": note_type.css,
    }
    if note_type.sort_field:
        data["sort-field"] = note_type.sort_field_name
    header = (
        f"# Anki note type {note_type.name!r}"
        + (f", imported from {source}" if source else "")
        + ".\n# Cards that name this file are built with it, so Anki updates the "
        "notes they\n# came from. Keep id, field names and template names as they "
        "are.\n"
    )
    return header + yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=88
    )


class _Dumper(yaml.SafeDumper):
    """Write text with line breaks as literal blocks, so templates read as HTML."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_text)
