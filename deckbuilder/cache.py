"""Remember rendered notes and written packages between builds, keyed on their inputs.

The cache is one SQLite file of JSON entries under the output folder. A note is found
again only when everything that shapes it is the same: the parsed card (its text,
place, deck, tags, type, CSS and the code its blocks include), the contents of the
media files it shows, the options that can reach rendering, deckbuilder's version and
source code, and the versions of the libraries that render and pack. A package is left
in place only when its notes' contents, stylesheet, timestamp and path are the same
and the file on disk is still the one written for them. A note's contents digest, its
media and its diagnostics are also kept apart, in a small summary: a package left in
place needs no more of its notes, so a rebuild reads back only the notes of the
packages it writes. A note whose rendering gave an error is never kept, and a build
with errors that made the file removes it. A cache that is
missing, unreadable, corrupt or from another version is ignored and rebuilt; it never
fails a build.

A card file is not parsed again when its contents, its path and the working folder,
the options and the code are those of a build that parsed it, the project roots the
parse asked about are the same, and every note it ships is in the cache: the checks
across cards get a summary of each card instead (`CardSummary`). Only files whose
parse read nothing but the file itself are kept so: a file that includes code or
names a note type or stylesheet is parsed every time, as those paths are resolved
through symbolic links that no fingerprint covers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deckbuilder import code_version
from deckbuilder.cache_codec import (
    NoteEntry,
    Rendered,
    card_summary,
    check_files,
    decode_diagnostics,
    decode_media,
    decode_rendered,
    digest,
    encode_diagnostic,
    note_entry,
)
from deckbuilder.inputs import Inputs, file_digest
from deckbuilder.model import Card, CardSummary, FileSummary, Location
from deckbuilder.options import Options
from deckbuilder.report import Diagnostic, Severity

if TYPE_CHECKING:
    from deckbuilder.media import MediaFile
    from deckbuilder.notetypes import NoteType
    from deckbuilder.package import Note
    from deckbuilder.parse import Parsed

FOLDER = ".deckbuilder-cache"
"""The cache's folder inside the output folder."""
FORMAT = 7
"""Version of the file's layout; a file of another layout is replaced."""
BATCH = 500
"""Notes written at a time."""
NOT_RENDERING = frozenset(
    {"cards", "out", "bundle", "strict", "source_date_epoch", "cache", "progress"}
)
"""Options that cannot change a rendered note: what to read (the cards themselves are
keyed), where and how to group the packages (package entries are keyed on their path
and notes), which diagnostics are errors (they are counted afresh each build), the
note time (package entries are keyed on it), whether to cache, and who hears of
progress. Every other option is part of the key, so one added later invalidates the
cache rather than leaving it stale."""


@dataclass(frozen=True)
class Stored:
    """A card's note found in the cache and not read back yet.

    It carries what grouping, the note time, the stylesheet, the package key and
    the layout of its package need: a note's deck, place, note type and CSS are its
    card's, its media and contents digest are in the cache's summary. The note itself
    is read (`BuildCache.read`) only for a package that is written, as it is written.
    """

    key: str
    card: Card | CardSummary
    media: tuple[MediaFile, ...]
    contents: str

    @property
    def deck(self) -> str:
        return self.card.deck

    @property
    def note_type(self) -> str:
        return self.card.note_type

    @property
    def location(self) -> Location:
        return self.card.location

    @property
    def css(self) -> str:
        return self.card.css

    @property
    def anki_note_type(self) -> NoteType | None:
        # A file that names a note type is parsed every time: its cards are Cards.
        return self.card.anki_note_type if isinstance(self.card, Card) else None


class BuildCache:
    """The notes and packages of earlier builds, in an SQLite file of JSON entries.

    Notes are read one by one as the build asks for them, and a build writes only the
    notes it rendered and deletes the ones it no longer has: a one-card change costs
    one row, not the whole cache.
    """

    def __init__(self, path: Path | None, options: Options) -> None:
        """Open the cache at `path`; with None, remember nothing and keep nothing."""
        self._path = path
        self._salt = _salt(options)
        self._database: sqlite3.Connection | None = None
        self._notes_stored = 0
        """How many notes the file holds."""
        self._found: set[str] = set()
        self._fresh: set[str] = set()
        """Keys of the notes rendered by this build and kept."""
        self._pending: list[tuple[str, NoteEntry]] = []
        """Entries of rendered notes not written yet."""
        self._created = False
        """Whether this build made the file, which a build with errors then removes."""
        self._failed = False
        """Whether writing failed, after which this build writes nothing more."""
        self._packages: dict[str, Any] = {}
        self._kept_packages: dict[str, Any] = {}
        self._contents: dict[int, str] = {}
        """Digest of each note's contents, by the note's id, for the package keys."""
        self._summaries: dict[str, str] | None = None
        """Every note's summary, by key, read at once on first use."""
        self._ships_incomplete = options.include_incomplete
        self._stored: dict[str, tuple[Stored, list[Diagnostic]]] = {}
        """Notes found for the cards of card files taken from the cache."""
        self._card_keys: dict[int, tuple[Card, str]] = {}
        """Keys computed for the summary of a parsed file, for `key` to hand out."""
        self._files_stored = 0
        self._files_found: set[str] = set()
        self._fresh_files: dict[str, str] = {}
        if path is not None:
            self._open(path)

    @classmethod
    def for_build(cls, options: Options) -> BuildCache:
        """Return the cache in the output folder of `options`."""
        return cls(options.out / FOLDER / "cache.sqlite", options)

    @property
    def empty(self) -> bool:
        """Tell whether the cache holds no note: every card is to be rendered."""
        return self._notes_stored == 0

    def key(self, card: Card) -> str:
        """Return the key of everything that shapes the note of `card`."""
        known = self._card_keys.pop(id(card), None)
        if known is not None and known[0] is card:
            return known[1]
        return _card_key(self._salt, card)

    def parsed(
        self, path: Path, data: bytes
    ) -> tuple[FileSummary, list[Diagnostic]] | None:
        """Return the summary of the card file at `path` holding `data`, and the
        diagnostics of its parse, if it need not be parsed again."""
        key = self._file_key(path, data)
        text = self._entry_text("files", key)
        if text is None:
            return None
        try:
            found = self._file_summary(path, json.loads(text))
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            return None
        if found is not None:
            self._files_found.add(key)
        return found

    def _file_summary(
        self, path: Path, entry: dict[str, Any]
    ) -> tuple[FileSummary, list[Diagnostic]] | None:
        from deckbuilder.sources import project_root

        for folder, root in entry["roots"].items():
            now = project_root(Path(folder, "file"))
            if (str(now) if now is not None else None) != root:
                return None
        deck, css, deck_line = entry["deck"], entry["css"], entry["deck_line"]
        if type(deck) is not str or type(css) is not str or type(deck_line) is not int:
            raise TypeError("deck, its line or stylesheet")
        cards = tuple(
            card_summary(path, deck, css, row, deck_line) for row in entry["cards"]
        )
        diagnostics = decode_diagnostics(entry["diagnostics"])
        # Cards whose notes are not all in the cache must be rendered, which takes
        # the parsed cards.
        stored = {}
        for card in cards:
            if card.is_complete or self._ships_incomplete:
                found = self.stored(card.key, card)
                if found is None:
                    return None
                stored[card.key] = found
        self._stored.update(stored)
        return FileSummary(path, cards), diagnostics

    def remember_parsed(
        self, path: Path, data: bytes, parsed: Parsed, read: Inputs
    ) -> None:
        """Keep the summary of the card file at `path` holding `data`, which parsed
        into `parsed` reading `read` besides the file itself."""
        if self._path is None or read.files or read.listings:
            return
        cards = parsed.file.cards
        keys = [_card_key(self._salt, card) for card in cards]
        self._card_keys.update(
            (id(card), (card, key)) for card, key in zip(cards, keys, strict=True)
        )
        entry = {
            "roots": read.roots,
            "deck": parsed.file.deck,
            "deck_line": cards[0].deck_line if cards else 0,
            # Every card of a file has the file's deck and stylesheet.
            "css": cards[0].css if cards else "",
            "cards": [
                [
                    key,
                    card.location.line,
                    list(card.tags),
                    card.note_type,
                    card.explicit_id,
                    card.id,
                    card.title,
                    " ".join(card.question.split()),
                    card.has_question,
                    card.has_answer,
                    card.is_complete,
                    list(card.tag_lines),
                ]
                for card, key in zip(cards, keys, strict=True)
            ],
            "diagnostics": [encode_diagnostic(d) for d in parsed.diagnostics],
        }
        shared = {(card.deck, card.css) for card in cards}
        if shared <= {(entry["deck"], entry["css"])}:
            self._fresh_files[self._file_key(path, data)] = json.dumps(entry)

    def _file_key(self, path: Path, data: bytes) -> str:
        # The path names the cards' locations and, when relative, other files from
        # the working folder; the options and the code are in the salt.
        contents = hashlib.sha256(data).hexdigest()
        return digest(self._salt, "card file", os.getcwd(), str(path), contents)

    def stored(
        self, key: str, card: Card | CardSummary
    ) -> tuple[Stored, list[Diagnostic]] | None:
        """Return the cached note of `card` under `key`, unread, with its diagnostics.

        Only the note's summary is read: the media files it shows must have the
        contents they had when it was rendered.
        """
        if key in self._stored:
            return self._stored.pop(key)
        text = self._summary_text(key)
        if text is None:
            return None
        try:
            summary = json.loads(text)
            contents, line = summary["contents"], summary["line"]
            if not isinstance(contents, str) or type(line) is not int:
                raise TypeError("contents or line")
            check_files(summary["files"])
            media = decode_media(summary["media"])
            diagnostics = decode_diagnostics(summary["diagnostics"])
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            return None
        if media and not _inside(media, card.location.path):
            return None  # the project moved: rendering says the media are outside
        self._found.add(key)
        lines = card.location.line - line
        if lines:
            diagnostics = [_moved(d, card.location.path, lines) for d in diagnostics]
        return Stored(key, card, media, contents), diagnostics

    def read(self, stored: Stored) -> Note | None:
        """Return the note `stored` stands for, or None if it cannot be read back."""
        rendered = self._entry(stored.key)
        if rendered is None or rendered[1] != stored.contents:
            return None
        # A card keeps its key when lines above it come or go: its note moves too.
        return dataclasses.replace(rendered[0][0], location=stored.location)

    def note(self, key: str) -> Rendered | None:
        """Return the note and diagnostics stored under `key`, if any."""
        rendered = self._entry(key)
        if rendered is None:
            return None
        self._contents[id(rendered[0][0])] = rendered[1]
        self._found.add(key)
        return rendered[0]

    def _entry_text(self, table: str, key: str) -> str | None:
        """Return the JSON text kept under `key` in `table`, if any; a database
        that fails to answer closes the cache."""
        if self._database is None:
            return None
        try:
            row = self._database.execute(
                f"SELECT entry FROM {table} WHERE key = ?",  # noqa: S608 - our table
                (key,),
            ).fetchone()
        except sqlite3.Error:
            self.close()
            return None
        return None if row is None else str(row[0])

    def _entry(self, key: str) -> tuple[Rendered, str] | None:
        text = self._entry_text("notes", key)
        if text is None:
            return None
        try:
            entry = json.loads(text)
            rendered = decode_rendered(entry)
            contents = entry["contents"]
            if not isinstance(contents, str):
                raise TypeError("contents")
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            return None
        return rendered, contents

    def _summary_text(self, key: str) -> str | None:
        if self._database is None:
            return None
        if self._summaries is None:
            # One query for all: ten thousand queries of one row cost 0.1 s.
            try:
                rows = self._database.execute("SELECT key, summary FROM summaries")
                self._summaries = dict(rows.fetchall())
            except sqlite3.Error:
                self.close()
                return None
        text = self._summaries.get(key)
        return text if isinstance(text, str) else None

    def remember_note(
        self, key: str, rendered: Rendered, entry: NoteEntry | None = None
    ) -> None:
        """Store a freshly rendered note under `key`, with its `note_entry` if it
        was made where the note was rendered.

        Notes are written in batches as they come, so that a build does not hold
        them all; a note whose rendering gave an error is never kept, as what
        fixes it (a missing file put in place, say) need not change its key.
        """
        if entry is None:
            entry = note_entry(*rendered)
        self._contents[id(rendered[0])] = entry.contents
        if any(d.severity is Severity.ERROR for d in rendered[1]):
            return
        self._fresh.add(key)
        self._pending.append((key, entry))
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._path is None or self._failed or not self._pending:
            return
        try:
            if self._database is None:
                self._create(self._path)
                self._created = True
            assert self._database is not None
            with self._database:
                self._write_notes(self._database)
        except (OSError, sqlite3.Error):
            # A cache that cannot be written costs speed, not correctness.
            self._failed = True
            self.close()
        self._pending.clear()

    def package_key(
        self, path: Path, notes: Sequence[Note | Stored], css: str, timestamp: float
    ) -> str | None:
        """Return the key of the package at `path`, or None if a note is not cached."""
        # A note's id is taken once: the note is let go once packed, and its id
        # may then be another object's. A cached note's contents are those of its
        # card where it was when rendered, so its place now is added.
        keys = [
            note.contents
            if isinstance(note, Stored)
            else self._contents.pop(id(note), None)
            for note in notes
        ]
        known = [
            digest(key, str(note.location))
            for key, note in zip(keys, notes, strict=True)
            if key is not None
        ]
        if len(known) < len(keys):
            return None
        return digest(self._salt, str(path), css, repr(timestamp), *known)

    def package_is_current(self, path: Path, key: str | None) -> bool:
        """Tell whether `path` holds what a build would write under `key`."""
        entry = self._packages.get(_place(path))
        if key is None or not isinstance(entry, dict) or entry.get("key") != key:
            return False
        if entry.get("digest") != file_digest(path):
            return False
        self._kept_packages[_place(path)] = entry
        return True

    def remember_package(
        self,
        path: Path,
        key: str | None,
        written: Path,
        sources: Sequence[Path],
        project: Path,
    ) -> None:
        """Record that `written`, to be moved to `path`, holds the package of `key`,
        made from the card files `sources` by a build of the `project` folder."""
        if key is None:
            return
        digest = file_digest(written)
        if digest is not None:
            self._kept_packages[_place(path)] = {
                "key": key,
                "digest": digest,
                "sources": sorted({_place(source) for source in sources}),
                "project": _place(project),
            }

    def stale_packages(
        self,
        folder: Path,
        written: Sequence[Path],
        read: Sequence[Path],
        project: Path,
    ) -> list[Path]:
        """Return the packages an earlier build of `project` wrote into `folder`
        that this build, which read every card file of the project (`read`) and
        wrote `written`, would not write.

        Such a package's card files are all gone or `read`, and it still holds what
        was written: the user's own files, packages changed since, another
        project's packages (in a shared output folder) and packages of card files
        this build did not read are not the cache's to remove. Paths are compared
        as the files they lead to, so the working folder and the spelling of
        `--out` do not matter, nor does case where the file system ignores it.
        """
        done = {os.path.realpath(path) for path in written}
        seen = {os.path.realpath(path) for path in read}
        home, owner = os.path.realpath(folder), _place(project)
        stale = []
        for name, entry in self._packages.items():
            path = Path(name)
            if (
                not isinstance(entry, dict)
                or entry.get("project") != owner
                or not path.is_absolute()
                or os.path.realpath(path.parent) != home
                or os.path.realpath(path) in done
            ):
                continue
            digest, sources = entry.get("digest"), entry.get("sources")
            if (
                not isinstance(digest, str)
                or not isinstance(sources, list)
                or not all(isinstance(s, str) and os.path.isabs(s) for s in sources)
            ):
                continue
            if all(
                not os.path.exists(source) or os.path.realpath(source) in seen
                for source in sources
            ):
                # Asked last, of the few left: it looks at every package written.
                if not _same_file(path, written) and file_digest(path) == digest:
                    stale.append(path)
        return stale

    def keep_package_entries(self, removed: Sequence[Path]) -> None:
        """Keep the entries of the earlier builds' packages that this build neither
        wrote nor removed, and that are still there: a later full build may find
        them stale (a build of some card files only cannot tell)."""
        gone = {_place(path) for path in removed}
        for name, entry in self._packages.items():
            if name not in self._kept_packages and name not in gone:
                if os.path.isabs(name) and os.path.exists(name):
                    self._kept_packages[name] = entry

    def package_digest(self, path: Path) -> str | None:
        """Return the SHA-256 of what this build left at `path`, if it knows it."""
        entry = self._kept_packages.get(_place(path))
        digest = entry.get("digest") if isinstance(entry, dict) else None
        return digest if isinstance(digest, str) else None

    def save(self) -> None:
        """Write what this build made; forget what it did not use."""
        if self._path is None or self._failed:
            return
        self._flush()
        unused = self._notes_stored - len(self._found)
        unused_files = self._files_stored - len(self._files_found)
        if (
            not self._created
            and not self._fresh
            and not self._fresh_files
            and not unused
            and not unused_files
            and self._kept_packages == self._packages
        ):
            return
        try:
            if self._database is None:
                self._create(self._path)
            assert self._database is not None
            with self._database:
                self._prune(self._database, unused > 0)
                self._write_files(self._database, unused_files > 0)
        except (OSError, sqlite3.Error):
            pass  # a cache that cannot be written costs speed, not correctness
        finally:
            self.close()

    def forget(self) -> None:
        """End a build with errors, or interrupted: keep the notes written, but
        remove the file if this build made it, as such a build leaves nothing in
        the output folder; write nothing more."""
        self._failed = True
        self.close()
        if self._created and self._path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self._path}{suffix}").unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self._path.parent.rmdir()

    def _write_notes(self, database: sqlite3.Connection) -> None:
        notes = [(key, entry.note) for key, entry in self._pending if entry.note]
        database.executemany("INSERT OR REPLACE INTO notes VALUES (?, ?)", notes)
        # A note the file cannot hold (a field of another kind) gets no summary
        # either, so it is never found.
        summaries = [(key, entry.summary) for key, entry in self._pending if entry.note]
        database.executemany(
            "INSERT OR REPLACE INTO summaries VALUES (?, ?)", summaries
        )

    def _prune(self, database: sqlite3.Connection, prune: bool) -> None:
        if prune:
            kept = [(key,) for key in (*self._found, *self._fresh)]
            database.execute("CREATE TEMP TABLE kept (key TEXT PRIMARY KEY)")
            database.executemany("INSERT OR IGNORE INTO kept VALUES (?)", kept)
            for table in ("notes", "summaries"):
                database.execute(
                    f"DELETE FROM {table} WHERE key NOT IN (SELECT key FROM kept)"
                )
        database.execute("DELETE FROM packages")
        database.executemany(
            "INSERT INTO packages VALUES (?, ?)",
            [(path, json.dumps(entry)) for path, entry in self._kept_packages.items()],
        )

    def _write_files(self, database: sqlite3.Connection, prune: bool) -> None:
        database.executemany(
            "INSERT OR REPLACE INTO files VALUES (?, ?)", self._fresh_files.items()
        )
        if prune:
            kept = [(key,) for key in (*self._files_found, *self._fresh_files)]
            database.execute("CREATE TEMP TABLE kept_files (key TEXT PRIMARY KEY)")
            database.executemany("INSERT OR IGNORE INTO kept_files VALUES (?)", kept)
            database.execute(
                "DELETE FROM files WHERE key NOT IN (SELECT key FROM kept_files)"
            )

    def _open(self, path: Path) -> None:
        if not path.is_file():
            return
        database = None
        try:
            database = _connect(path)
            (stored_format,) = database.execute(
                "SELECT value FROM meta WHERE name = 'format'"
            ).fetchone()
            if stored_format != FORMAT:
                raise ValueError(f"cache format {stored_format!r}")
            (self._notes_stored,) = database.execute(
                "SELECT count(*) FROM notes"
            ).fetchone()
            (self._files_stored,) = database.execute(
                "SELECT count(*) FROM files"
            ).fetchone()
            for package, entry in database.execute("SELECT * FROM packages"):
                self._packages[package] = json.loads(entry)
        except (sqlite3.Error, TypeError, ValueError, RecursionError):
            if database is not None:
                database.close()
            self._packages, self._notes_stored, self._files_stored = {}, 0, 0
            return
        self._database = database

    def _create(self, path: Path) -> None:
        # A file that is not this layout of the cache is replaced, never repaired.
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        database = _connect(path)
        with database:
            database.executescript(
                """
                CREATE TABLE meta (name TEXT PRIMARY KEY, value);
                CREATE TABLE notes (key TEXT PRIMARY KEY, entry TEXT NOT NULL);
                CREATE TABLE summaries (key TEXT PRIMARY KEY, summary TEXT NOT NULL);
                CREATE TABLE files (key TEXT PRIMARY KEY, entry TEXT NOT NULL);
                CREATE TABLE packages (path TEXT PRIMARY KEY, entry TEXT NOT NULL);
                """
            )
            database.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
        self._database = database
        self._found.clear()
        self._files_found.clear()
        self._summaries = {}

    def close(self) -> None:
        """Close the file; a cache closed before `save` keeps what it had."""
        if self._database is not None:
            self._database.close()
            self._database = None


def _connect(path: Path) -> sqlite3.Connection:
    database = sqlite3.connect(path, timeout=10)
    # A write-ahead log needs no sync to disk at every commit; a cache lost to a power
    # cut is rebuilt like any other.
    database.execute("PRAGMA journal_mode = WAL")
    database.execute("PRAGMA synchronous = NORMAL")
    return database


def _salt(options: Options) -> str:
    rendering = {
        field.name: getattr(options, field.name)
        for field in dataclasses.fields(options)
        if field.name not in NOT_RENDERING
    }
    return digest(code_version.code_version(), repr(sorted(rendering.items())))


def _card_key(salt: str, card: Card) -> str:
    # Keyed as if the card began on line 1, so that lines added or removed above
    # it leave its note in the cache: only its place changes (see `read`).
    return digest(salt, repr(card.moved(1 - card.location.line)))


def _same_file(path: Path, written: Sequence[Path]) -> bool:
    """Tell whether `path` is one of the files `written`, under another name (on a
    file system that ignores case, `All.apkg` is `all.apkg`)."""
    for other in written:
        with contextlib.suppress(OSError):
            if os.path.samefile(path, other):
                return True
    return False


def _place(path: Path) -> str:
    """Return how the cache names a package or card file: by its absolute path, so
    that builds from other working folders agree."""
    return os.path.abspath(path)


def _inside(media: tuple[MediaFile, ...], card_file: Path) -> bool:
    """Tell whether the media files are inside the project of `card_file`."""
    from deckbuilder.sources import project_boundary

    boundary = project_boundary(card_file)
    return all(file.path.is_relative_to(boundary) for file in media)


def _moved(diagnostic: Diagnostic, path: Path, lines: int) -> Diagnostic:
    """Return `diagnostic` moved with its card, if it is in the card's file."""
    if diagnostic.location.path != path:
        return diagnostic
    return dataclasses.replace(diagnostic, location=diagnostic.location.moved(lines))
