"""The build cache: a rebuild gives the bytes a cold build gives, whatever changed."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import deckbuilder
from deckbuilder import cache, code_version, inputs, notes, parallel, pipeline
from deckbuilder.cache import BuildCache
from deckbuilder.model import Card, Location
from deckbuilder.options import Options
from deckbuilder.package import Note
from deckbuilder.report import Diagnostic, Report, Severity

DECK = """\
---
deck: Cached
---
## What is $x^2$ for $x = 3$?

Nine, see the table:

| x | x² |
| --- | --- |
| 3 | 9 |

## How is it computed?
<!-- id: square -->

```python
def square(x):
    return x * x
```

## Which language is this?

```klingon
Qapla'
```
"""


@pytest.fixture
def cards(tmp_path: Path) -> Path:
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "cached.md").write_text(DECK)
    (folder / "other.md").write_text("---\ndeck: Other\n---\n## One?\n\nOne.\n")
    return folder


def options(out: Path, **changes: object) -> Options:
    return dataclasses.replace(
        Options(out=out, source_date_epoch=1_700_000_000), **changes
    )  # type: ignore[arg-type]


def packages(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.apkg"))}


def cold(cards: Path, out: Path, **changes: object) -> dict[str, bytes]:
    assert not out.exists()
    report = pipeline.build([cards], options(out, **changes))
    assert not report.errors
    return packages(out)


def no_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a card was rendered")

    monkeypatch.setattr(notes, "card_note", refuse)


def test_rebuild_renders_nothing_and_gives_the_same_bytes(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    first = cold(cards, out)
    no_rendering(monkeypatch)

    report = pipeline.build([cards], options(out))

    assert packages(out) == first
    assert report.packages == [str(out / "cached.apkg"), str(out / "other.apkg")]


def test_rebuild_leaves_unchanged_packages_alone(cards: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    before = {path.name: path.stat().st_ino for path in out.glob("*.apkg")}

    (cards / "other.md").write_text("---\ndeck: Other\n---\n## One?\n\nUno.\n")
    pipeline.build([cards], options(out))

    after = {path.name: path.stat().st_ino for path in out.glob("*.apkg")}
    assert after["cached.apkg"] == before["cached.apkg"]
    assert after["other.apkg"] != before["other.apkg"]


def test_changed_content_gives_what_a_cold_build_gives(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = cold(cards, out)
    (cards / "cached.md").write_text(DECK.replace("Nine", "Nine (three squared)"))

    pipeline.build([cards], options(out))

    assert packages(out) == cold(cards, tmp_path / "cold")
    assert packages(out)["cached.apkg"] != first["cached.apkg"]


def built_then_edited(cards: Path, tmp_path: Path, old: str, new: str) -> Path:
    """Build `cards`, then replace `old` with `new` in its deck; return the output."""
    out = tmp_path / "out"
    pipeline.build([cards], options(out))
    (cards / "cached.md").write_text(DECK.replace(old, new, 1))
    return out


def test_lines_added_above_cards_render_nothing_and_move_their_notes(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = built_then_edited(cards, tmp_path, "---\n## What", "---\nSquares.\n\n## What")
    no_rendering(monkeypatch)

    report = pipeline.build([cards], options(out))

    # The unknown language's warning (its fence is on line 22) moved down with its
    # card, as did the notes' Source fields in the package.
    assert [d.location.line for d in report.warnings] == [24]
    monkeypatch.undo()
    same_as_cold(cards, tmp_path, report)


def test_an_edited_card_is_the_only_one_rendered_again(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = built_then_edited(cards, tmp_path, "Nine, see", "Nine.\n\nThat is, see")
    rendered: list[str] = []
    card_note = notes.card_note

    def counted(card: Card, renderer: object) -> object:
        rendered.append(card.title)
        return card_note(card, renderer)  # type: ignore[arg-type]

    monkeypatch.setattr(notes, "card_note", counted)

    report = pipeline.build([cards], options(out))

    assert rendered == ["What is $x^2$ for $x = 3$?"]
    monkeypatch.undo()
    same_as_cold(cards, tmp_path, report)


def test_changed_included_code_gives_what_a_cold_build_gives(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "code_snippets").mkdir()
    helper = tmp_path / "code_snippets" / "helper.py"
    helper.write_text("# region shown\nanswer = 1\n# endregion\n")
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "a.md").write_text(
        "## Which?\n\n```python include=../code_snippets/helper.py#shown\n```\n"
    )
    out = tmp_path / "out"
    first = cold(tmp_path / "cards", out)
    helper.write_text("# region shown\nanswer = 2\n# endregion\n")

    pipeline.build([tmp_path / "cards"], options(out))

    assert packages(out) == cold(tmp_path / "cards", tmp_path / "cold")
    assert packages(out) != first


def test_edited_theme_gives_what_a_cold_build_gives(
    cards: Path, tmp_path: Path
) -> None:
    theme = cards / "theme.css"
    theme.write_text("h3 { color: teal }\n")
    out = tmp_path / "out"
    first = cold(cards, out, theme=theme)
    theme.write_text("h3 { color: tan }\n")

    pipeline.build([cards], options(out, theme=theme))

    assert packages(out) == cold(cards, tmp_path / "cold", theme=theme)
    assert packages(out) != first


def test_changed_options_give_what_a_cold_build_gives(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (cards / "draft.md").write_text("---\ndeck: Draft\n---\n## Unanswered?\n")
    cold(cards, out)

    pipeline.build([cards], options(out, include_incomplete=True, note_type="reversed"))

    expected = cold(
        cards, tmp_path / "cold", include_incomplete=True, note_type="reversed"
    )
    assert packages(out) == expected


@pytest.mark.parametrize(
    "name",
    sorted(
        field.name
        for field in dataclasses.fields(Options)
        if field.name not in cache.NOT_RENDERING and field.name != "progress"
    ),
)
def test_every_option_that_can_reach_rendering_is_in_the_key(
    name: str, tmp_path: Path
) -> None:
    changed = {
        "include_incomplete": True,
        "note_type": "reversed",
        "deck_folders": (tmp_path,),
        "cache": False,
        "theme": tmp_path / "theme.css",
    }
    assert name in changed, f"say whether option {name!r} can change a rendered note"
    card = pipeline.load([_one_card(tmp_path)], pipeline.Report())[0].cards[0]

    plain = BuildCache(None, Options()).key(card)
    other = BuildCache(None, dataclasses.replace(Options(), **{name: changed[name]}))

    assert other.key(card) != plain


def test_progress_callback_is_not_in_the_key(tmp_path: Path) -> None:
    card = pipeline.load([_one_card(tmp_path)], pipeline.Report())[0].cards[0]

    def progress(step: str, done: int, total: int) -> None:
        pass

    plain = BuildCache(None, Options()).key(card)

    assert BuildCache(None, Options(progress=progress)).key(card) == plain


def _one_card(tmp_path: Path) -> Path:
    path = tmp_path / "one.md"
    path.write_text("## Q?\n\nA.\n")
    return path


def test_changed_stylesheet_gives_what_a_cold_build_gives(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # deckbuilder has no user stylesheet yet; this file stands for one, read as every
    # input of a build is read. (The built-in stylesheet changes only with
    # deckbuilder's code or Pygments' version, which the cache's keys hold.)
    sheet = tmp_path / "extra.css"
    sheet.write_text(".x {}\n")
    stylesheet = pipeline._stylesheet

    def with_sheet(*args: object) -> str:
        extra = inputs.read_bytes(sheet).decode()
        return stylesheet(*args) + extra  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "_stylesheet", with_sheet)
    out = tmp_path / "out"
    first = cold(cards, out)
    sheet.write_text(".x { color: red }\n")
    expected = cold(cards, tmp_path / "cold")
    no_rendering(monkeypatch)

    pipeline.build([cards], options(out))

    assert packages(out) == expected
    assert packages(out) != first


def test_changed_version_gives_what_a_cold_build_gives(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    # A new version renders differently; its cache keys must not find the old notes.
    monkeypatch.setattr(deckbuilder, "__version__", "99.0")
    monkeypatch.setattr(
        code_version, "code_version", _uncached(code_version.code_version)
    )
    card_note = notes.card_note

    def new_rendering(*args: object, **kwargs: object) -> tuple[Note, list[Diagnostic]]:
        note, diagnostics = card_note(*args, **kwargs)  # type: ignore[arg-type]
        return dataclasses.replace(note, back=note.back + "<p>v99</p>"), diagnostics

    monkeypatch.setattr(notes, "card_note", new_rendering)

    pipeline.build([cards], options(out))

    assert packages(out) == cold(cards, tmp_path / "cold")
    assert _has_v99(out / "other.apkg")


def _uncached(function: Callable[[], str]) -> Callable[[], str]:
    wrapped = getattr(function, "__wrapped__", function)
    return lambda: wrapped()  # type: ignore[no-any-return]


def _has_v99(path: Path) -> bool:
    import sqlite3
    import zipfile

    with zipfile.ZipFile(path) as archive:
        data = archive.read("collection.anki2")
    database = path.with_suffix(".anki2")
    database.write_bytes(data)
    connection = sqlite3.connect(database)
    try:
        fields = [row[0] for row in connection.execute("SELECT flds FROM notes")]
    finally:
        connection.close()
    return any("<p>v99</p>" in text for text in fields)


def test_source_file_edit_without_epoch_moves_the_note_time(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    pipeline.build([cards], Options(out=out))
    first = packages(out)
    path = cards / "other.md"
    stat = path.stat()
    path.write_text(path.read_text())
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))

    pipeline.build([cards], Options(out=out))

    cold_out = tmp_path / "cold"
    pipeline.build([cards], Options(out=cold_out))
    assert packages(out) == packages(cold_out)
    assert packages(out)["other.apkg"] != first["other.apkg"]
    assert packages(out)["cached.apkg"] == first["cached.apkg"]


def test_cached_build_reports_the_same_warnings(cards: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = pipeline.build([cards], options(out))

    again = pipeline.build([cards], options(out))

    assert [str(d) for d in again.diagnostics] == [str(d) for d in first.diagnostics]
    assert any("klingon" in str(d) for d in again.diagnostics)
    assert (again.decks, again.cards) == (first.decks, first.cards)


def _cache_file(out: Path) -> Path:
    return out / cache.FOLDER / "cache.sqlite"


def _change_rows(
    path: Path, table: str, change: Callable[[dict[str, Any]], None]
) -> None:
    column = "key" if table == "notes" else "path"
    database = sqlite3.connect(path)
    with database:
        for name, text in database.execute(f"SELECT * FROM {table}").fetchall():
            entry = json.loads(text)
            change(entry)
            database.execute(
                f"UPDATE {table} SET entry = ? WHERE {column} = ?",
                (json.dumps(entry), name),
            )
    database.close()


def _sql(path: Path, statement: str) -> None:
    database = sqlite3.connect(path)
    with database:
        database.execute(statement)
    database.close()


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(b"\x00\xff not a database"),
        lambda path: path.write_text(json.dumps([1, 2, 3])),
        _truncate,
        lambda path: _sql(path, "UPDATE notes SET entry = '[' || entry"),
        lambda path: _sql(path, "UPDATE notes SET entry = 7"),
        lambda path: _sql(path, "UPDATE meta SET value = 999"),
        lambda path: _sql(path, "DROP TABLE packages"),
        lambda path: _change_rows(path, "notes", lambda e: e["note"].update(back=5)),
        lambda path: _change_rows(path, "notes", lambda e: e.update(contents=[1])),
        lambda path: _change_rows(path, "packages", lambda e: e.update(digest="0")),
        lambda path: (path.unlink(), path.mkdir()),
    ],
    ids=[
        "binary",
        "json",
        "truncated",
        "entry-not-json",
        "entry-a-number",
        "other-format",
        "missing-table",
        "wrong-field-type",
        "wrong-contents",
        "wrong-digest",
        "folder",
    ],
)
def test_damaged_cache_is_ignored_and_rebuilt(
    cards: Path, tmp_path: Path, damage: Callable[[Path], object]
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    damage(_cache_file(out))
    for package in out.glob("*.apkg"):
        package.write_bytes(package.read_bytes()[:-10])  # must not be kept either

    report = pipeline.build([cards], options(out))

    assert not report.errors
    assert packages(out) == cold(cards, tmp_path / "cold")
    again = pipeline.build([cards], options(out))
    assert not again.errors and packages(out) == cold(cards, tmp_path / "cold-2")


def test_deleted_package_is_written_again(cards: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = cold(cards, out)
    (out / "other.apkg").unlink()

    pipeline.build([cards], options(out))

    assert packages(out) == first


def test_cache_keeps_only_what_the_last_build_used(cards: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    (cards / "other.md").unlink()

    # A build of the whole project: its package goes too (see below).
    pipeline.build([cards], options(out, cards=(cards,)))

    database = sqlite3.connect(_cache_file(out))
    notes = database.execute("SELECT count(*) FROM notes").fetchone()[0]
    kept = [row[0] for row in database.execute("SELECT path FROM packages")]
    database.close()
    assert notes == 3
    assert kept == [str(out / "cached.apkg")]


def test_build_without_cache_writes_no_cache(cards: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"

    pipeline.build([cards], options(out, cache=False))

    assert not (out / cache.FOLDER).exists()
    assert packages(out) == cold(cards, tmp_path / "cold")


def test_failed_build_writes_no_cache(cards: Path, tmp_path: Path) -> None:
    (cards / "draft.md").write_text("---\ndeck: Draft\n---\n## Unanswered?\n")
    out = tmp_path / "out"

    report = pipeline.build([cards], options(out, strict=True))

    assert report.errors
    assert not out.exists()


def test_note_and_diagnostics_round_trip_through_the_file(tmp_path: Path) -> None:
    note = Note(
        card_id="c1",
        deck="A::B",
        note_type="type-in",
        front="<p>Front ✓</p>",
        back="back",
        extra="extra",
        location=Location(Path("cards/a.md"), 3, 2),
        tags=("one", "two::three"),
    )
    warning = Diagnostic(Location(Path("cards/a.md"), 4), Severity.WARNING, "w", "r")
    writer = BuildCache(tmp_path / "cache.sqlite", Options())
    writer.remember_note("key", (note, [warning]))
    writer.save()

    reader = BuildCache(tmp_path / "cache.sqlite", Options())

    assert reader.note("key") == (note, [warning])
    assert reader.note("other") is None


@pytest.mark.parametrize("cache", [False, True])
def test_parallel_rendering_gives_the_same_packages(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: bool
) -> None:
    serial = cold(cards, tmp_path / "serial", cache=cache)
    monkeypatch.setattr(parallel, "MINIMUM", 1)
    monkeypatch.setattr(parallel, "CHUNK", 1)  # packages written while others render
    monkeypatch.setattr(parallel, "_cores", lambda: 2)
    started: list[int] = []
    start = parallel.Rendering._start

    def counted(rendering: parallel.Rendering) -> None:
        started.append(1)
        start(rendering)

    monkeypatch.setattr(parallel.Rendering, "_start", counted)

    assert cold(cards, tmp_path / "parallel", cache=cache) == serial
    assert started


def _events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record when the workers start and when each card file is read."""
    events: list[str] = []
    start, parse = parallel.Rendering._start, pipeline._parse

    def started(rendering: parallel.Rendering) -> None:
        events.append("workers")
        start(rendering)

    def parsed(path: Path, *args: Any) -> Any:
        events.append(path.name)
        return parse(path, *args)

    monkeypatch.setattr(parallel.Rendering, "_start", started)
    monkeypatch.setattr(pipeline, "_parse", parsed)
    monkeypatch.setattr(parallel, "_cores", lambda: 2)
    return events


@pytest.mark.parametrize("cache", [False, True])
def test_cold_build_of_enough_bytes_starts_the_workers_before_reading(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: bool
) -> None:
    serial = cold(cards, tmp_path / "serial", cache=cache)
    size = sum(path.stat().st_size for path in cards.glob("*.md"))
    monkeypatch.setattr(parallel, "MINIMUM", 1000)  # more cards than the files hold
    monkeypatch.setattr(parallel, "CARD_BYTES", size // 1000)
    events = _events(monkeypatch)

    assert cold(cards, tmp_path / "parallel", cache=cache) == serial
    assert events[0] == "workers"
    assert events.count("workers") == 1


def test_cold_build_of_fewer_bytes_reads_before_starting_workers(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = sum(path.stat().st_size for path in cards.glob("*.md"))
    monkeypatch.setattr(parallel, "MINIMUM", 1)  # the first card starts them
    monkeypatch.setattr(parallel, "CARD_BYTES", size + 1)
    events = _events(monkeypatch)

    cold(cards, tmp_path / "out")

    assert events.index("workers") > 0


def test_rebuild_with_notes_cached_starts_no_workers_before_reading(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    for path in cards.glob("*.md"):  # every card renders again, and is cached
        path.write_text(path.read_text() + "\nMore.\n")
    monkeypatch.setattr(parallel, "CARD_BYTES", 1)
    events = _events(monkeypatch)

    pipeline.build([cards], options(out))

    assert "workers" not in events  # the cards are fewer than MINIMUM
    assert events


def test_render_cards_in_workers_matches_one_process(cards: Path) -> None:
    report = pipeline.Report()
    loaded = [card for file in pipeline.load([cards], report) for card in file.cards]

    in_workers = parallel.render_cards(list(loaded), minimum=1, workers=2)

    assert in_workers == parallel.render_cards(list(loaded), minimum=len(loaded) + 1)
    assert len(in_workers) == len(loaded)


def test_no_cache_flag_builds_without_the_cache(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from deckbuilder.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")

    result = CliRunner().invoke(app, ["build", "cards", "--no-cache"])

    assert result.exit_code == 0, result.output
    assert (tmp_path / "build" / "cached.apkg").is_file()
    assert not (tmp_path / "build" / cache.FOLDER).exists()


def test_changed_image_gives_what_a_cold_build_gives(
    cards: Path, tmp_path: Path
) -> None:
    image = cards / "dot.png"
    image.write_bytes(b"\x89PNG first")
    (cards / "other.md").write_text(
        "---\ndeck: Other\n---\n## One?\n\n![a dot](dot.png)\n"
    )
    out = tmp_path / "out"
    first = cold(cards, out)
    image.write_bytes(b"\x89PNG second, longer")

    pipeline.build([cards], options(out))

    assert packages(out) == cold(cards, tmp_path / "cold")
    assert packages(out)["other.apkg"] != first["other.apkg"]


def test_deleted_image_is_an_error_again(cards: Path, tmp_path: Path) -> None:
    (cards / "dot.png").write_bytes(b"\x89PNG")
    (cards / "other.md").write_text(
        "---\ndeck: Other\n---\n## One?\n\n![a dot](dot.png)\n"
    )
    out = tmp_path / "out"
    cold(cards, out)
    (cards / "dot.png").unlink()

    report = pipeline.build([cards], options(out))

    assert any("not found" in str(error) for error in report.errors)


def _imported_by_build(cards: Path, out: Path, *names: str) -> tuple[int, list[str]]:
    """Build `cards` into `out` in a fresh process; return how many cards it built
    and which of the modules `names` it imported."""
    code = (
        "import sys; from pathlib import Path; "
        "from deckbuilder import Options, build; "
        f"report = build([Path({str(cards)!r})], Options(out=Path({str(out)!r}), "
        "source_date_epoch=1_700_000_000)); "
        f"print(report.cards, *[m for m in {names!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    built, *imported = result.stdout.split()
    return int(built), imported


def test_rebuild_with_every_note_cached_imports_no_renderer(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cold(cards, out)

    built, imported = _imported_by_build(cards, out, "markdown", "genanki")

    assert built > 0
    assert imported == []


def test_build_of_a_small_deck_imports_no_worker_machinery(
    cards: Path, tmp_path: Path
) -> None:
    # Fewer cards than parallel.MINIMUM render in the build's own process: the
    # process pool's modules are a tenth of the start of a one-card rebuild.
    built, imported = _imported_by_build(
        cards, tmp_path / "out", "multiprocessing", "concurrent.futures", "genanki"
    )

    assert built > 0
    assert imported == ["genanki"]  # it did write packages


def test_cache_file_is_closed_after_a_failed_build(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    (cards / "draft.md").write_text("---\ndeck: Draft\n---\n## Unanswered?\n")
    closed: list[bool] = []
    close = BuildCache.close

    def recording(self: BuildCache) -> None:
        closed.append(True)
        close(self)

    monkeypatch.setattr(BuildCache, "close", recording)

    report = pipeline.build([cards], options(out, strict=True))

    assert report.errors
    assert closed


def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the keys of the notes a build reads back whole from the cache."""
    keys: list[str] = []
    read = BuildCache.read

    def counted(self: BuildCache, stored: cache.Stored) -> Note | None:
        keys.append(stored.key)
        return read(self, stored)

    monkeypatch.setattr(BuildCache, "read", counted)
    return keys


def test_unchanged_packages_read_no_notes_back_and_keep_their_warnings(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    (cards / "other.md").write_text("---\ndeck: Other\n---\n## One?\n\nUno.\n")
    read = reads(monkeypatch)

    report = pipeline.build([cards], options(out))

    expected = pipeline.build([cards], options(tmp_path / "cold", cache=False))
    assert packages(out) == packages(tmp_path / "cold")
    assert report.diagnostics == expected.diagnostics
    assert any("klingon" in str(d) for d in report.diagnostics)
    assert read == []  # cached.apkg is current: its three notes stay unread


def test_package_with_cached_notes_to_write_reads_them_back(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    expected = pipeline.build([cards], options(tmp_path / "cold", cache=False))
    (out / "cached.apkg").unlink()
    read = reads(monkeypatch)
    no_rendering(monkeypatch)

    report = pipeline.build([cards], options(out))

    assert packages(out) == packages(tmp_path / "cold")
    assert report.diagnostics == expected.diagnostics
    assert len(read) == 3


def _cold_with_notes_that_do_not_read_back(cards: Path, out: Path) -> None:
    """Build cold, then damage every cached note (not its summary) and delete the
    package, so the next build must write it from notes that do not read back."""
    cold(cards, out)
    _change_rows(
        _cache_file(out), "notes", lambda e: e["note"]["fields"].update(front=None)
    )
    (out / "cached.apkg").unlink()


def test_note_that_does_not_read_back_is_rendered_again(
    cards: Path, tmp_path: Path
) -> None:
    # The summaries are whole, the notes are not: the package that must be written
    # is made of notes rendered again, and the report is a cold build's.
    out = tmp_path / "out"
    _cold_with_notes_that_do_not_read_back(cards, out)

    report = pipeline.build([cards], options(out))

    expected = pipeline.build([cards], options(tmp_path / "cold", cache=False))
    assert packages(out) == packages(tmp_path / "cold")
    assert report.diagnostics == expected.diagnostics
    again = pipeline.build([cards], options(out))  # the cache was mended
    assert again.diagnostics == expected.diagnostics
    assert packages(out) == packages(tmp_path / "cold")


@pytest.mark.parametrize(
    "changes", [{"deck": "Elsewhere"}, {"note_type": "type-in"}], ids=str
)
def test_note_that_reads_back_for_another_deck_or_note_type_is_rendered_again(
    cards: Path, tmp_path: Path, changes: dict[str, str]
) -> None:
    # Its package's decks and note types are laid out from the cards before any
    # note is read back, so a note must read back as its card has it.
    out = tmp_path / "out"
    cold(cards, out)
    _change_rows(
        _cache_file(out), "notes", lambda e: e["note"]["fields"].update(changes)
    )
    (out / "cached.apkg").unlink()

    report = pipeline.build([cards], options(out))

    expected = pipeline.build([cards], options(tmp_path / "cold", cache=False))
    assert packages(out) == packages(tmp_path / "cold")
    assert report.diagnostics == expected.diagnostics


def test_bundle_rebuilt_from_the_cache_gives_the_bytes_of_a_cold_bundle(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One package of two decks, written deck by deck: the notes of the unchanged
    # cards read back from the cache one at a time, the edited card's rendered.
    out = tmp_path / "out"
    cold(cards, out, bundle="all")
    (cards / "cached.md").write_text(DECK.replace("Nine", "Nine (three squared)"))
    read = reads(monkeypatch)

    pipeline.build([cards], options(out, bundle="all"))

    assert packages(out) == cold(cards, tmp_path / "cold", bundle="all")
    assert list(packages(out)) == ["all.apkg"]
    assert len(read) == 3  # two cards of cached.md, one of other.md


def parsed_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the names of the card files a build parses."""
    from deckbuilder import parse

    names: list[str] = []
    parse_card_bytes = parse.parse_card_bytes

    def counted(data: bytes, path: Path, *args: object) -> parse.Parsed:
        names.append(path.name)
        return parse_card_bytes(data, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(parse, "parse_card_bytes", counted)
    return names


def same_as_cold(
    cards: Path, tmp_path: Path, report: Report, **changes: object
) -> None:
    """Assert that a build gave the packages and the report of a cold build."""
    cold_out = tmp_path / f"cold-{len(list(tmp_path.glob('cold-*')))}"
    expected = pipeline.build([cards], options(cold_out, cache=False, **changes))
    assert report.diagnostics == expected.diagnostics
    assert (report.decks, report.cards, report.incomplete) == (
        expected.decks,
        expected.cards,
        expected.incomplete,
    )
    assert reported(report) == reported(expected)


def reported(report: Report) -> dict[str, bytes]:
    """The packages a build reports, by name."""
    return {Path(name).name: Path(name).read_bytes() for name in report.packages}


CHECKED = """\
---
deck: Other
tags: [ML::GANs]
---
## One?
<!-- id: one -->

One.

## Two?
<!-- id: two -->

Two.

## Unanswered?
"""


def test_unchanged_card_files_are_not_parsed_and_still_checked(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The checks across files see the cards of files that were not parsed: an id,
    # a question, a deck and a tag spelled as in other.md are reported as a cold
    # build reports them, and so is its incomplete card.
    out = tmp_path / "out"
    (cards / "other.md").write_text(CHECKED)
    cold(cards, out)
    (cards / "new.md").write_text(
        "---\ndeck: OTHER\ntags: [ml::gans]\n---\n## One?\n<!-- id: two -->\n\n1.\n"
    )
    parsed = parsed_files(monkeypatch)

    report = pipeline.build([cards], options(out))

    assert parsed == ["new.md"]
    problems = "\n".join(map(str, report.diagnostics))
    assert "other.md:15:1: warning: card \"Unanswered?\" has no answer" in problems
    # new.md comes first: the cards of other.md, not parsed, are the second ones.
    assert "other.md:10:1: error: duplicate card id 'two'" in problems
    # At the front matter's lines, which the cache keeps with the summaries.
    assert 'other.md:2:1: error: deck "Other" differs from deck "OTHER"' in problems
    assert 'other.md:3:1: error: tag "ML::GANs" spells "ml" as "ML"' in problems
    same_as_cold(cards, tmp_path, report)


def test_edited_card_file_is_parsed_again(cards: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    (cards / "other.md").write_text(CHECKED.replace("Two.", "Deux."))

    report = pipeline.build([cards], options(out))

    same_as_cold(cards, tmp_path, report)


def test_moved_project_root_renames_the_deck_of_an_unparsed_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    cards = tmp_path / "cards"
    (cards / "sub").mkdir(parents=True)
    (cards / "sub" / "deeper.md").write_text("## Deeper?\n\nYes.\n")
    out = tmp_path / "out"
    first = cold(cards, out)
    (cards / "sub" / ".git").write_text("")  # sub::deeper becomes deeper

    report = pipeline.build([cards], options(out))

    assert report.packages == [str(out / "deeper.apkg")]
    assert packages(out) != first
    same_as_cold(cards, tmp_path, report)


@pytest.mark.parametrize(
    "changes",
    [{"note_type": "reversed"}, {"include_incomplete": True}, {"deck_folders": ()}],
    ids=str,
)
def test_changed_options_parse_every_file_again(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changes: dict
) -> None:
    (cards / "other.md").write_text(CHECKED.replace("deck: Other\n", ""))
    out = tmp_path / "out"
    cold(cards, out, deck_folders=(tmp_path,))
    parsed = parsed_files(monkeypatch)

    report = pipeline.build([cards], options(out, **changes))

    assert sorted(parsed) == ["cached.md", "other.md"]
    same_as_cold(cards, tmp_path, report, **changes)


def test_card_file_read_from_another_folder_is_parsed_again(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relative paths name the cards' locations, and so their notes' source field.
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    pipeline.build([Path("cards")], options(out))
    monkeypatch.chdir(cards)
    parsed = parsed_files(monkeypatch)

    report = pipeline.build([Path(".")], options(out))

    assert sorted(parsed) == ["cached.md", "other.md"]
    expected = pipeline.build([Path(".")], options(tmp_path / "cold", cache=False))
    assert report.diagnostics == expected.diagnostics
    assert packages(out) == packages(tmp_path / "cold")


def test_card_file_that_reads_other_files_is_parsed_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "code_snippets").mkdir()
    helper = tmp_path / "code_snippets" / "helper.py"
    helper.write_text("# region a\nx = 1\n# endregion\n")
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "a.md").write_text(
        "## Which?\n\n```python include=../code_snippets/helper.py#a\n```\n"
    )
    (cards / "b.md").write_text("## Plain?\n\nYes.\n")
    out = tmp_path / "out"
    cold(cards, out)
    (cards / "c.md").write_text("## New?\n\nYes.\n")
    parsed = parsed_files(monkeypatch)

    report = pipeline.build([cards], options(out))

    assert sorted(parsed) == ["a.md", "c.md"]
    same_as_cold(cards, tmp_path, report)


def test_unparsed_file_whose_note_is_gone_is_parsed_and_rendered(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    _sql(_cache_file(out), "DELETE FROM summaries")
    (out / "cached.apkg").unlink()

    report = pipeline.build([cards], options(out))

    same_as_cold(cards, tmp_path, report)


def test_unparsed_file_whose_note_does_not_read_back_is_parsed_again(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _cold_with_notes_that_do_not_read_back(cards, out)
    (cards / "new.md").write_text("## New?\n\nYes.\n")

    report = pipeline.build([cards], options(out))

    same_as_cold(cards, tmp_path, report)


def _change_files(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    database = sqlite3.connect(path)
    with database:
        for key, text in database.execute("SELECT * FROM files").fetchall():
            entry = json.loads(text)
            change(entry)
            database.execute(
                "UPDATE files SET entry = ? WHERE key = ?", (json.dumps(entry), key)
            )
    database.close()


@pytest.mark.parametrize(
    "damage",
    [
        lambda e: e.update(deck=7),
        lambda e: e.update(cards=[["x"]]),
        lambda e: e["cards"][0].__setitem__(2, "a b"),
        lambda e: e["cards"][0].__setitem__(8, 1),
        lambda e: e.update(roots=[]),
        lambda e: e.update(diagnostics=[[1]]),
        lambda e: e.update(roots={"/": "/elsewhere"}),
    ],
    ids=[
        "deck",
        "short-card",
        "tags-a-string",
        "flag-a-number",
        "roots",
        "diagnostic",
        "other-root",
    ],
)
def test_damaged_file_summaries_are_parsed_again(
    cards: Path, tmp_path: Path, damage: Callable[[dict[str, Any]], None]
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    _change_files(_cache_file(out), damage)
    for package in out.glob("*.apkg"):
        package.unlink()

    report = pipeline.build([cards], options(out))

    same_as_cold(cards, tmp_path, report)


def test_repeated_question_in_an_unparsed_file_is_reported(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    (cards / "other.md").write_text(CHECKED)
    cold(cards, out)
    new = "---\ndeck: Other\n---\n## One?\n<!-- id: 3 -->\n\n1.\n"
    (cards / "new.md").write_text(new)
    parsed = parsed_files(monkeypatch)

    report = pipeline.build([cards], options(out))

    assert parsed == ["new.md"]
    assert (
        f'{cards / "other.md"}:5:1: warning: deck "Other" already has the question '
        f'"One?" (see {cards / "new.md"}:4:1; merge the two cards or reword one)'
    ) in map(str, report.diagnostics)
    same_as_cold(cards, tmp_path, report)


@pytest.mark.parametrize("library", code_version.LIBRARIES)
def test_code_version_names_each_library_version(library: str) -> None:
    from importlib import metadata

    named = code_version._distribution(library)

    assert f"-{metadata.version(library)}.dist-info" in named


def test_code_version_changes_with_a_library_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fakelib").mkdir()
    (tmp_path / "fakelib" / "__init__.py").write_text("")
    (tmp_path / "fakelib-1.2.dist-info").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    before = code_version._distribution("fakelib")
    (tmp_path / "fakelib-1.2.dist-info").rename(tmp_path / "fakelib-1.3.dist-info")

    assert "1.2" in before
    assert code_version._distribution("fakelib") != before
    missing = "no_such_library_here"
    assert code_version._distribution(missing) == f"{missing} unknown"


def _project_with_an_image(tmp_path: Path) -> Path:
    """A project whose card in cards/sub shows cards/img/red.png."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "cards" / "sub").mkdir(parents=True)
    (tmp_path / "cards" / "img").mkdir()
    (tmp_path / "cards" / "img" / "red.png").write_bytes(b"\x89PNG red")
    (tmp_path / "cards" / "sub" / "x.md").write_text(
        "---\ndeck: Sub\n---\n## Red?\n\n![r](../img/red.png)\n"
    )
    return tmp_path / "cards"


def test_cached_image_now_outside_the_project_is_an_error_again(
    tmp_path: Path,
) -> None:
    # The card and the image are unchanged, but cards/sub became a project of its
    # own: the image is outside it now, as a cold build says.
    cards = _project_with_an_image(tmp_path)
    out = tmp_path / "out"
    cold(cards, out)
    (cards / "sub" / "pyproject.toml").write_text("")

    report = pipeline.build([cards], options(out))

    assert [d.message for d in report.errors] == [
        "image '../img/red.png' is outside the project"
    ]
    same_as_cold(cards, tmp_path, report)


def test_cached_image_whose_link_now_leads_outside_is_an_error_again(
    tmp_path: Path,
) -> None:
    # The same bytes, with the same time, but reached through a link that now
    # leads out of the project.
    cards = _project_with_an_image(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.png"
    image = cards / "img" / "red.png"
    shutil.copy2(image, outside)
    (cards / "img" / "inside.png").write_bytes(image.read_bytes())
    shutil.copystat(image, cards / "img" / "inside.png")
    image.unlink()
    image.symlink_to(cards / "img" / "inside.png")
    out = tmp_path / "out"
    cold(cards, out)
    image.unlink()
    image.symlink_to(outside)

    report = pipeline.build([cards], options(out))

    assert [d.message for d in report.errors] == [
        "image '../img/red.png' is outside the project"
    ]
    same_as_cold(cards, tmp_path, report)


# Packages of decks that went ------------------------------------------------------


def test_the_package_of_a_deck_that_went_is_removed(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    (cards / "other.md").unlink()

    report = pipeline.build([cards], options(out, cards=(cards,)))

    assert sorted(packages(out)) == ["cached.apkg"]
    assert report.removed == [str(out / "other.apkg")]
    assert report.summary()["removed"] == [str(out / "other.apkg")]


def test_a_deck_left_with_incomplete_cards_only_loses_its_package(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    (cards / "other.md").write_text("---\ndeck: Other\n---\n## One?\n")

    report = pipeline.build([cards], options(out, cards=(cards,)))

    assert report.incomplete == 1
    assert report.removed == [str(out / "other.apkg")]
    assert not (out / "other.apkg").exists()


def test_packages_changed_since_or_not_written_by_a_build_are_kept(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    (out / "other.apkg").write_bytes(b"edited by hand")
    (out / "mine.apkg").write_bytes(b"the user's own")
    (cards / "other.md").unlink()

    report = pipeline.build([cards], options(out, cards=(cards,)))

    assert report.removed == []
    assert packages(out) == {
        "cached.apkg": (out / "cached.apkg").read_bytes(),
        "mine.apkg": b"the user's own",
        "other.apkg": b"edited by hand",
    }


def test_a_build_without_the_cache_removes_nothing(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    (cards / "other.md").unlink()

    report = pipeline.build([cards], options(out, cards=(cards,), cache=False))

    assert report.removed == []
    assert sorted(packages(out)) == ["cached.apkg", "other.apkg"]


def test_a_build_of_some_files_keeps_the_packages_of_the_others(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = cold(cards, out)
    (cards / "cached.md").write_text(DECK.replace("Cached", "Renamed"))

    report = pipeline.build([cards / "cached.md"], options(out))

    assert report.removed == []
    assert sorted(packages(out)) == ["cached.apkg", "other.apkg", "renamed.apkg"]
    assert packages(out)["other.apkg"] == first["other.apkg"]


def test_a_later_whole_build_removes_what_a_partial_build_left(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    pipeline.build([cards / "cached.md"], options(out))
    (cards / "other.md").unlink()

    report = pipeline.build([cards], options(out, cards=(cards,)))

    assert report.removed == [str(out / "other.apkg")]


def test_the_output_folder_spelled_another_way_loses_nothing(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    first = cold(cards, out)
    (tmp_path / "link").symlink_to(out)
    monkeypatch.chdir(tmp_path)

    for spelling in (Path("out"), Path("link"), Path("out/../out"), out):
        report = pipeline.build([cards], options(spelling, cards=(cards,)))

        assert report.removed == []
        assert packages(out) == first


def test_another_projects_build_into_the_same_folder_keeps_these_packages(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    first = cold(cards, out)
    other = tmp_path / "other-project"
    (other / "cards").mkdir(parents=True)
    (other / "cards" / "third.md").write_text("---\ndeck: Third\n---\n## Q?\n\nA.\n")
    monkeypatch.chdir(other)

    report = pipeline.build([Path("cards")], options(out, cards=(Path("cards"),)))

    assert report.removed == []
    assert sorted(packages(out)) == ["cached.apkg", "other.apkg", "third.apkg"]
    assert {name: packages(out)[name] for name in first} == first


def test_another_project_reading_the_same_card_file_keeps_these_packages(
    tmp_path: Path,
) -> None:
    # The second project reads the first one's cards/lang folder as a card folder
    # of its own, so the same card file is deck `lang::es` there and `es` here.
    out = tmp_path / "shared"
    first, second = tmp_path / "first", tmp_path / "second"
    for project in (first, second):
        (project / "cards").mkdir(parents=True)
        (project / ".git").mkdir()
    (first / "cards" / "lang").mkdir()
    (first / "cards" / "lang" / "es.md").write_text("## Qes?\n\nA.\n")
    (second / "cards" / "mine.md").write_text("## Mine?\n\nA.\n")
    lang = first / "cards" / "lang"
    pipeline.build(
        [first / "cards"],
        options(out, cards=(first / "cards",), deck_folders=(first / "cards",)),
    )
    before = packages(out)
    folders = (second / "cards", lang)

    report = pipeline.build(
        list(folders), options(out, cards=folders, deck_folders=folders)
    )

    assert sorted(before) == ["lang.es.apkg"]
    assert report.removed == []
    assert sorted(packages(out)) == ["es.apkg", "lang.es.apkg", "mine.apkg"]
    assert packages(out)["lang.es.apkg"] == before["lang.es.apkg"]


def test_a_bundle_named_in_other_case_is_not_taken_for_an_old_one(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a file system that ignores case: both names are one file.
    out = tmp_path / "out"
    pipeline.build([cards], options(out, cards=(cards,), bundle="all"))
    samefile = os.path.samefile
    monkeypatch.setattr(
        os.path,
        "samefile",
        lambda a, b: str(a).lower() == str(b).lower() or samefile(a, b),
    )

    report = pipeline.build([cards], options(out, cards=(cards,), bundle="All"))

    assert report.removed == []
    assert (out / "All.apkg").exists()


def test_a_package_that_could_not_be_removed_is_tried_again(
    cards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    (cards / "other.md").unlink()
    unlink = Path.unlink

    def refuse(path: Path, missing_ok: bool = False) -> None:
        if path.name == "other.apkg":
            raise PermissionError(1, "Operation not permitted")
        unlink(path, missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    refused = pipeline.build([cards], options(out, cards=(cards,)))
    monkeypatch.setattr(Path, "unlink", unlink)
    again = pipeline.build([cards], options(out, cards=(cards,)))

    assert [d.message for d in refused.warnings] == [
        'unknown code language "klingon"',
        "cannot remove a package of an earlier build that this build does not "
        "write: Operation not permitted",
    ]
    assert refused.removed == []
    assert again.removed == [str(out / "other.apkg")]
    assert sorted(packages(out)) == ["cached.apkg"]


def test_the_package_of_a_deck_whose_file_moved_to_another_deck_is_removed(
    cards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    cold(cards, out)
    (cards / "other.md").write_text("---\ndeck: Cached\n---\n## One?\n\nOne.\n")

    report = pipeline.build([cards], options(out, cards=(cards,)))

    assert report.removed == [str(out / "other.apkg")]
    assert sorted(packages(out)) == ["cached.apkg"]
