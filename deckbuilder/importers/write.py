"""Write an import as card files in the format of docs/card-format.md.

Every deck becomes one card file; Anki note types go to `note-types/` and media
files to `media/` beside the card files, so every path a card file names is the same
short relative path. Everything is staged first and moved into place at the end:
an import that fails writes nothing, and nothing is written outside the output folder.
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import yaml

from deckbuilder.errors import ExportFormatError, OutputError
from deckbuilder.importers import (
    MEDIA_FOLDER,
    NOTE_TYPE_FOLDER,
    Imported,
    ImportedCard,
    ImportedDeck,
)
from deckbuilder.importers.plaintext import escape
from deckbuilder.model import Location
from deckbuilder.notetypes import NoteType, dump_note_type
from deckbuilder.options import Progress
from deckbuilder.report import Diagnostic, Severity

# CommonMark drops a heading's closing `#`s when a space precedes them.
_CLOSING_HASHES = re.compile(r"(?<=\s)#(?=#*\s*$)")
# A first question line that is a block of its own (a list, a fence, a table, math,
# a quote, indented code) cannot be a heading's text.
_BLOCK_START = re.compile(r"^(?:\s|[-+*]\s|\d+[.)]\s|[#>|]|```|~~~|\$\$|\\\[)")
# Characters a GUID may hold that would end a metadata entry or the comment.
_GUID_SAFE = "!#$&'()*+,-./:<=?@[]^_`{|}~"
"""Printable ASCII a GUID keeps as it is in card metadata; `%`, `;`, `>`, space,
quotes, backslashes and anything beyond ASCII are percent-encoded."""
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True)
class Written:
    """What an import wrote: the card files, note type files and media files."""

    card_files: tuple[Path, ...]
    note_type_files: tuple[Path, ...]
    media_files: tuple[Path, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    """The import's warnings, as `Imported.all_diagnostics` but with those about
    the cards of an export without lines (a package) at the card's heading in its
    card file; then warnings about what was written, such as decks a build cannot
    tell apart."""


def to_markdown(
    deck: ImportedDeck,
    *,
    deck_name: str,
    tags: Sequence[str] = (),
    note_types: Mapping[int, str] | None = None,
) -> str:
    """Return the card file for `deck`: front matter, the title, then every card.

    `tags` go to every card; `note_types` maps the id of each Anki note type the
    cards keep to its file, relative to the card file. A card whose question spans
    lines puts `???` before the answer; an empty side stays empty, so builds report
    the card as incomplete. The same arguments always give the same text.
    """
    return _card_file(deck, deck_name, tags, note_types or {})[0]


def _card_file(
    deck: ImportedDeck,
    deck_name: str,
    tags: Sequence[str],
    note_types: Mapping[int, str],
) -> tuple[str, list[int]]:
    """Return the card file for `deck`, and the line of each card's heading."""
    shared_tags = _shared_tags(deck.cards)
    shared_type = _shared_note_type(deck.cards)
    lines = ["---", f"deck: {_yaml_scalar(deck_name)}"]
    if all_tags := list(dict.fromkeys((*tags, *shared_tags))):
        words = ", ".join(_yaml_scalar(tag, in_list=True) for tag in all_tags)
        lines.append(f"tags: [{words}]")
    if shared_type:
        lines.append(f"note-type: {_yaml_scalar(note_types[shared_type])}")
    lines.append("---")
    if deck.title:
        lines += ["", _heading("#", escape(deck.title))]
    written = _line_count(lines)
    headings = []
    for card in deck.cards:
        metadata = _metadata(card, shared_tags, shared_type, note_types)
        card_lines = ["", *_card(card, metadata)]
        headings.append(written + 2)
        lines += card_lines
        written += _line_count(card_lines)
    return "\n".join(lines) + "\n", headings


def _line_count(parts: Sequence[str]) -> int:
    # A part may hold several lines: a card's answer is one part.
    return sum(part.count("\n") + 1 for part in parts)


def write_import(
    imported: Imported,
    out: Path,
    *,
    source: Path,
    deck_name: str | None = None,
    tags: Sequence[str] = (),
    force: bool = False,
    progress: Progress | None = None,
) -> Written:
    """Write `imported` under `out`: a card file, or a folder of them.

    `out` ending in `.md` is the card file of an export with one deck; otherwise it
    is a folder that gets one card file per deck. Existing files are replaced only
    with `force`. Raises OutputError, and writes nothing, when a file would be
    replaced without `force` or a path would leave the output folder.
    `progress("writing", done, total)` hears of each file staged.
    """
    from deckbuilder.files import commit, discard, stage

    single = out.suffix == ".md"
    if (single or deck_name) and len(imported.decks) != 1:
        names = ", ".join(deck.name or deck.title for deck in imported.decks[:3])
        raise ExportFormatError(
            f"export holds {len(imported.decks)} decks ({names}...)",
            Location(source, 1),
            "give --out a folder, which gets one card file per deck, and no --deck",
        )
    root = out.parent if single else out
    type_files = _note_type_files(imported.note_types)
    card_files = _card_files(imported, out, single, deck_name, source)
    planned: dict[Path, bytes | Callable[[], bytes]] = {}
    diagnostics = [*imported.diagnostics]
    for deck, (path, name) in zip(imported.decks, card_files, strict=True):
        text, headings = _card_file(deck, name, tags, type_files)
        planned[path] = text.encode()
        diagnostics += deck.diagnostics
        diagnostics += _card_diagnostics(deck, path, headings)
    for note_type in imported.note_types:
        text = dump_note_type(note_type, source=source.name)
        planned[root / type_files[note_type.id]] = text.encode()
    for media in imported.media:
        planned[root / MEDIA_FOLDER / safe_name(media.name, source)] = media.read

    _refuse_escapes(root, planned)
    if not force:
        _refuse_existing(planned)
    staged: list[tuple[Path, Path]] = []
    created: list[Path] = []  # folders made for the import, removed if it fails
    committed = False
    try:
        for done, (path, content) in enumerate(planned.items(), 1):
            data = content if isinstance(content, bytes) else content()
            created += _make_folders(path.parent)
            staged.append((stage(path, _writer(data)), path))
            if progress is not None:
                progress("writing", done, len(planned))
        for staged_file, path in staged:
            commit(staged_file, path)
        committed = True
    except OSError as error:
        raise OutputError(
            f"cannot write the import: {error}",
            Location(out, 1),
            "check that the output folder is writable and has space",
        ) from error
    finally:
        for staged_file, _ in staged:
            discard(staged_file)
        if not committed:
            for folder in reversed(created):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty
    return Written(
        diagnostics=(*diagnostics, *_package_clashes(card_files)),
        card_files=tuple(path for path, _ in card_files),
        note_type_files=tuple(root / type_files[t.id] for t in imported.note_types),
        media_files=tuple(root / MEDIA_FOLDER / m.name for m in imported.media),
    )


def _card_diagnostics(
    deck: ImportedDeck, path: Path, headings: Sequence[int]
) -> Iterator[Diagnostic]:
    """Yield the warnings about `deck`'s cards; those of an export without lines
    name the card's heading in the card file at `path`, where it will be edited."""
    for card, heading in zip(deck.cards, headings, strict=True):
        for diagnostic in card.diagnostics:
            if card.line == 0:
                diagnostic = replace(diagnostic, location=Location(path, heading))
            yield diagnostic


def _make_folders(folder: Path) -> list[Path]:
    """Make `folder` and its missing parents; return those made, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir()
    return list(reversed(missing))


def _writer(data: bytes) -> Callable[[Path], object]:
    return lambda path: path.write_bytes(data)


def safe_name(name: str, source: Path) -> str:
    """Return `name` if it is a plain file name; refuse one that leads elsewhere."""
    if not name or name in (".", "..") or _UNSAFE_NAME.search(name):
        raise ExportFormatError(
            f"media file name {name!r} would be written outside the media folder",
            Location(source, 1),
            "the export may have been tampered with; nothing was written",
        )
    return name


def media_path(name: str) -> str:
    """Return where a card file finds the media file `name`: `media/NAME`.

    The HTML converter percent-encodes the path as Markdown needs it.
    """
    return f"{MEDIA_FOLDER}/{name}"


def _card_files(
    imported: Imported, out: Path, single: bool, deck_name: str | None, source: Path
) -> list[tuple[Path, str]]:
    from deckbuilder.packages import package_name

    if single:
        deck = imported.decks[0]
        return [(out, deck_name or deck.name or out.stem)]
    files: list[tuple[Path, str]] = []
    taken: set[str] = set()
    for deck in imported.decks:
        name = deck_name or deck.name or deck.title or source.stem
        stem = _unique(package_name(name), taken)
        files.append((out / f"{stem}.md", name))
    return files


def _package_clashes(card_files: Sequence[tuple[Path, str]]) -> Iterator[Diagnostic]:
    """Warn of decks whose names differ only where package names cannot (`A/B` and
    `A-B`): building them one package per deck would fail."""
    from deckbuilder.packages import PackageNames

    names = PackageNames()
    for path, deck in card_files:
        if other := names.clash(deck):
            yield Diagnostic(
                Location(path, 2),
                Severity.WARNING,
                f'decks "{other}" and "{deck}" would both be built into '
                f"{names.name(deck)}.apkg",
                "build them with --bundle NAME, or rename one of the decks (in the "
                "card file, and in Anki for its existing cards)",
            )


def _note_type_files(note_types: Iterable[NoteType]) -> dict[int, str]:
    from deckbuilder.packages import package_name

    taken: set[str] = set()
    files = {}
    for note_type in sorted(note_types, key=lambda t: t.id):
        stem = _unique(package_name(note_type.name), taken)
        files[note_type.id] = str(PurePosixPath(NOTE_TYPE_FOLDER, f"{stem}.yaml"))
    return files


def _unique(stem: str, taken: set[str]) -> str:
    # Files on macOS and Windows compare without case.
    candidate, number = stem, 2
    while candidate.casefold() in taken:
        candidate, number = f"{stem}-{number}", number + 1
    taken.add(candidate.casefold())
    return candidate


def _refuse_escapes(root: Path, planned: Mapping[Path, object]) -> None:
    base = root.resolve()
    for path in planned:
        if not path.resolve().is_relative_to(base):
            raise OutputError(
                f"{path} would be written outside {root}",
                Location(path, 1),
                "remove the symbolic link that leads out of the output folder, or "
                "choose another --out",
            )


def _refuse_existing(planned: Mapping[Path, object]) -> None:
    existing = [path for path in planned if path.exists() or path.is_symlink()]
    if existing:
        others = len(existing) - 1
        raise OutputError(
            f"file already exists, and {others} more the import would write"
            if others
            else "file already exists",
            Location(existing[0], 1),
            "choose another --out, or pass --force to replace them",
        )


def _shared_tags(cards: Sequence[ImportedCard]) -> tuple[str, ...]:
    if not cards:
        return ()
    shared = set(cards[0].tags).intersection(*(card.tags for card in cards[1:]))
    return tuple(tag for tag in cards[0].tags if tag in shared)


def _shared_note_type(cards: Sequence[ImportedCard]) -> int:
    kinds = {card.note_type for card in cards}
    return kinds.pop() if len(kinds) == 1 else 0


def _metadata(
    card: ImportedCard,
    shared_tags: Sequence[str],
    shared_type: int,
    note_types: Mapping[int, str],
) -> str:
    entries = []
    if card.guid:
        entries.append(f"guid: {_encode_guid(card.guid)}")
    if card.note_type and card.note_type != shared_type:
        entries.append(f"note-type: {note_types[card.note_type]}")
    elif not card.note_type and card.type:
        entries.append(f"type: {card.type}")
    if own := [tag for tag in card.tags if tag not in shared_tags]:
        entries.append(f"tags: {' '.join(own)}")
    return f"<!-- {'; '.join(entries)} -->" if entries else ""


def _encode_guid(guid: str) -> str:
    return urllib.parse.quote(guid, safe=_GUID_SAFE)


def _card(card: ImportedCard, metadata: str) -> list[str]:
    question = card.question.strip("\n")
    first, _, rest = question.partition("\n")
    heading_text = first.strip()
    if _BLOCK_START.match(first) or (rest and not rest.startswith("\n")):
        # The first line cannot stand alone as the heading: all of it goes above
        # `???`, under a bare heading.
        heading_text, rest = "", question
    lines = [_heading("##", heading_text)]
    if metadata:
        lines.append(metadata)
    if rest.strip():
        lines += ["", rest.strip("\n"), "", "???"]
    if card.answer.strip():
        lines += ["", card.answer.strip("\n")]
    for name, text in card.fields:
        lines += ["", f"<!-- field: {name} -->"]
        if text.strip():
            lines += ["", text.strip("\n")]
    return lines


def _heading(hashes: str, text: str) -> str:
    if not text:
        return hashes
    return f"{hashes} " + _CLOSING_HASHES.sub(r"\\#", text)


def _yaml_scalar(value: str, *, in_list: bool = False) -> str:
    """Return `value` as a YAML scalar: plain when it reads back unchanged."""
    plain, expected = (f"[{value}]", [value]) if in_list else (value, value)
    try:
        loaded = yaml.safe_load(plain)
    except yaml.YAMLError:
        loaded = None
    if value.strip() == value and value.isprintable() and loaded == expected:
        return value
    return json.dumps(value, ensure_ascii=not value.isprintable())
