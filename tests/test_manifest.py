"""The manifest: a build that nothing changed writes nothing, and any change is seen."""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import io
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deckbuilder import cache, code_version, inputs, manifest, pipeline
from deckbuilder.options import Options
from deckbuilder.report import Report

CARDS = """\
---
deck: Project::Main
css: ../style/deck.css
---
## Which helper?

```python include=../code_snippets/helper.py#shown
```

## Which dot?

![a dot](img/dot.png)

## Which language is this?

```klingon
Qapla'
```
"""


PLAIN = "---\nnote-type: types/vocab.yaml\n---\n## Plain?\n\nYes.\n"
VOCAB = """\
id: 1700000000123
name: Vocab
fields: [Word, Meaning]
templates: [{name: Card 1, front: "{{Word}}", back: "{{Meaning}} red"}]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose cards include code and show an image, with a deck stylesheet."""
    root = tmp_path / "project"
    write(root / "pyproject.toml", "")
    write(root / "cards" / "main.md", CARDS)
    write(root / "cards" / "plain.md", PLAIN)
    write(root / "cards" / "sub" / "deeper.md", "## Deeper?\n\nYes.\n")
    write(root / "cards" / "img" / "dot.png", b"\x89PNG red")
    write(root / "style" / "deck.css", ".card { color: red }\n")
    write(root / "code_snippets" / "helper.py", "# region shown\nx = 1\n# endregion\n")
    write(root / "cards" / "types" / "vocab.yaml", VOCAB)
    monkeypatch.chdir(root)
    return root


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def options(out: Path, **changes: object) -> Options:
    base = Options(out=out, source_date_epoch=1_700_000_000)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def build(out: Path, **changes: object) -> Report:
    report = pipeline.build([Path("cards")], options(out, **changes))
    assert not report.errors, report.errors
    return report


def packages(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.apkg"))}


def written(report: Report) -> dict[str, bytes]:
    """The packages a build reports, by name."""
    return {Path(name).name: Path(name).read_bytes() for name in report.packages}


def cold(out: Path) -> dict[str, bytes]:
    assert not out.exists()
    build(out, cache=False)
    return packages(out)


def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a card file was parsed")

    monkeypatch.setattr(pipeline, "load", refuse)


def same_size_and_time(path: Path, change: Callable[[bytes], bytes]) -> None:
    """Change a file's contents, keeping its size and modification time."""
    stat = path.stat()
    data = path.read_bytes()
    changed = change(data)
    assert len(changed) == len(data) and changed != data
    path.write_bytes(changed)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_unchanged_build_parses_nothing_and_reports_what_the_last_one_did(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = project / "build"
    first = build(out)
    written = packages(out)
    times = {path: path.stat().st_mtime_ns for path in out.glob("*.apkg")}
    no_parsing(monkeypatch)

    again = build(out)

    assert again == first
    assert any("klingon" in str(d) for d in again.diagnostics)
    assert (again.decks, again.cards) == (3, 5)
    assert packages(out) == written
    assert {path: path.stat().st_mtime_ns for path in out.glob("*.apkg")} == times


def test_unchanged_build_imports_no_renderer_parser_or_packager(project: Path) -> None:
    out = project / "build"
    build(out)
    code = (
        "import sys; from pathlib import Path; from deckbuilder import pipeline, "
        "options; report = pipeline.build([Path('cards')], options.Options("
        "out=Path(sys.argv[1]), source_date_epoch=1_700_000_000)); "
        "assert report.cards == 5, report; "
        "print(sorted(m for m in ('markdown', 'pygments', 'genanki', 'yaml', "
        "'deckbuilder.parse', 'deckbuilder.render') if m in sys.modules))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "change",
    [
        lambda root: same_size_and_time(
            root / "cards" / "plain.md", lambda data: data.replace(b"Yes", b"Yup")
        ),
        lambda root: same_size_and_time(
            root / "code_snippets" / "helper.py", lambda d: d.replace(b"1", b"2")
        ),
        lambda root: same_size_and_time(
            root / "style" / "deck.css", lambda data: data.replace(b"red", b"tan")
        ),
        lambda root: same_size_and_time(
            root / "cards" / "img" / "dot.png", lambda d: d.replace(b"red", b"tan")
        ),
        lambda root: same_size_and_time(
            root / "cards" / "types" / "vocab.yaml", lambda d: d.replace(b"red", b"tan")
        ),
        lambda root: write(root / "cards" / "new.md", "## New?\n\nYes.\n"),
        lambda root: (root / "cards" / "plain.md").unlink(),
        # A project marker between a card file and the project moves it to another
        # deck: `sub::deeper` becomes `deeper`.
        lambda root: write(root / "cards" / "sub" / ".git", ""),
    ],
    ids=[
        "card-file",
        "included-code",
        "deck-stylesheet",
        "media",
        "note-type-file",
        "new-card-file",
        "deleted-card-file",
        "new-project-root",
    ],
)
def test_changed_input_gives_what_a_cold_build_gives(
    project: Path, change: Callable[[Path], object]
) -> None:
    out = project / "build"
    before = written(build(out))
    change(project)

    report = build(out)

    expected = build(project / "cold", cache=False)
    assert written(report) == written(expected)
    assert written(report) != before
    assert report.diagnostics == expected.diagnostics


def test_touched_file_is_built_again(project: Path) -> None:
    # Without a fixed time, the note time is the newest card file's: a file saved
    # unchanged still moves it.
    out = project / "build"
    build(out, source_date_epoch=None)
    before = packages(out)
    path = project / "cards" / "plain.md"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))

    build(out, source_date_epoch=None)

    expected = project / "cold"
    build(expected, source_date_epoch=None, cache=False)
    assert packages(out) == packages(expected)
    assert packages(out)["plain.apkg"] != before["plain.apkg"]
    assert packages(out)["project.main.apkg"] == before["project.main.apkg"]


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.unlink(),
        lambda path: path.write_bytes(path.read_bytes()[:-10]),
        lambda path: same_size_and_time(path, lambda data: data[:-1] + b"!"),
    ],
    ids=["deleted", "truncated", "same-size-and-time"],
)
def test_package_changed_by_hand_is_written_again(
    project: Path, damage: Callable[[Path], object]
) -> None:
    out = project / "build"
    build(out)
    damage(out / "project.main.apkg")

    build(out)

    assert packages(out) == cold(project / "cold")


def parses(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Count the times a build reads the card files."""
    calls: list[object] = []
    loaded = pipeline._loaded

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return loaded(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "_loaded", counted)
    return calls


@pytest.mark.parametrize(
    "change",
    [
        {"include_incomplete": True},
        {"bundle": "all"},
        {"source_date_epoch": 1_800_000_000},
        {"note_type": "reversed"},
        {"strict": True},
    ],
    ids=str,
)
def test_changed_options_give_a_full_build(
    project: Path, change: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = project / "build"
    build(out)
    calls = parses(monkeypatch)

    pipeline.build([Path("cards")], options(out, **change))

    assert len(calls) == 1


def test_changed_code_version_gives_a_full_build(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = project / "build"
    build(out)
    monkeypatch.setattr(code_version, "code_version", lambda: "another version")
    calls = parses(monkeypatch)

    build(out)

    assert len(calls) == 1


def test_build_with_errors_forgets_the_manifest(project: Path) -> None:
    out = project / "build"
    build(out)
    good = project / "cards" / "plain.md"
    text = good.read_text()
    good.write_text("## Broken\n\n```python\nnever closed\n")
    assert pipeline.build([Path("cards")], options(out)).errors

    good.write_text(text)

    assert not (out / cache.FOLDER / manifest.NAME).exists()
    build(out)
    assert packages(out) == cold(project / "cold")


@pytest.mark.parametrize(
    "damage",
    [b"", b"{", b"[]", b'{"format": 1}', b"\xff\xfe"],
    ids=["empty", "broken", "list", "incomplete", "binary"],
)
def test_damaged_manifest_gives_a_full_build(project: Path, damage: bytes) -> None:
    out = project / "build"
    build(out)
    (out / cache.FOLDER / manifest.NAME).write_bytes(damage)

    report = build(out)

    assert report.cards == 5
    assert packages(out) == cold(project / "cold")


def _cut_fingerprints(entry: dict[str, Any]) -> None:
    for fingerprint in entry["inputs"]["files"].values():
        del fingerprint[2:]


@pytest.mark.parametrize(
    "damage",
    [
        _cut_fingerprints,
        lambda entry: entry["inputs"].update(files=[1, 2]),
        lambda entry: entry["inputs"].update(listings=[["cards"]]),
        lambda entry: entry["inputs"].update(roots={"cards": 7}),
        lambda entry: entry.update(outputs={"x": "y"}),
        lambda entry: entry["report"].update(diagnostics=[[1, 2]]),
        lambda entry: entry["report"]["diagnostics"][0].__setitem__(3, "fatal"),
    ],
    ids=[
        "short-fingerprints",
        "files-a-list",
        "listing-unpaired",
        "root-a-number",
        "outputs-a-string",
        "diagnostic-short",
        "unknown-severity",
    ],
)
def test_damaged_manifest_entries_give_a_full_build(
    project: Path, damage: Callable[[dict[str, Any]], object]
) -> None:
    out = project / "build"
    build(out)
    path = out / cache.FOLDER / manifest.NAME
    entry = json.loads(path.read_bytes())
    damage(entry)
    path.write_text(json.dumps(entry))

    report = build(out)

    expected = build(project / "cold", cache=False)
    assert written(report) == written(expected)
    assert report.diagnostics == expected.diagnostics


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """The files opened for reading while the test runs, through Python's open."""
    paths: list[Path] = []
    original = io.open

    def recording_open(
        file: object, mode: str = "r", *args: object, **kw: object
    ) -> object:
        if isinstance(file, str | os.PathLike) and "r" in mode:
            paths.append(Path(os.path.abspath(file)))
        return original(file, mode, *args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(io, "open", recording_open)
    monkeypatch.setattr(builtins, "open", recording_open)
    yield paths


def test_every_project_file_a_build_reads_is_an_input(
    project: Path, opened: list[Path]
) -> None:
    # What this guards: a new kind of input read without `inputs.read_bytes` would
    # leave the manifest blind to its changes.
    out = project / "build"

    build(out)

    entry = json.loads((out / cache.FOLDER / manifest.NAME).read_bytes())
    recorded = {Path(os.path.abspath(name)) for name in entry["inputs"]["files"]}
    # Files only: importing a module for the first time also "opens" the import
    # system's path hooks, which are names, not files.
    in_project = {
        path
        for path in opened
        if path.is_relative_to(project)
        and not path.is_relative_to(out)
        and path.is_file()
    }
    assert project / "code_snippets" / "helper.py" in in_project
    assert in_project <= recorded
    assert project / "cards" / "img" / "dot.png" in recorded
    assert project / "cards" / "types" / "vocab.yaml" in recorded


def test_file_read_twice_with_different_contents_never_matches(tmp_path: Path) -> None:
    # A module included by two cards and saved between their reads: the build saw
    # both versions, so the next build must read it afresh whatever it holds then.
    path = write(tmp_path / "helper.py", "x = 1\n")
    with inputs.recording() as read:
        inputs.read_bytes(path)
        write(path, "x = 2\n")
        inputs.read_bytes(path)

    assert not read.unchanged(lambda paths: [], lambda path: None)


@pytest.mark.parametrize(
    ("link", "old", "new"),
    [
        ("cards/types/vocab.yaml", b"red", b"teal"),
        ("style/deck.css", b"red", b"teal"),
        ("code_snippets/helper.py", b"x = 1", b"x = 2"),
    ],
    ids=["note-type-file", "deck-stylesheet", "included-code"],
)
def test_link_pointed_elsewhere_gives_what_a_cold_build_gives(
    project: Path, link: str, old: bytes, new: bytes
) -> None:
    path = project / link
    data = path.read_bytes()
    write(path.with_name("first" + path.suffix), data)
    write(path.with_name("second" + path.suffix), data.replace(old, new))
    path.unlink()
    path.symlink_to("first" + path.suffix)
    out = project / "build"
    before = written(build(out))
    path.unlink()
    path.symlink_to("second" + path.suffix)

    report = build(out)

    expected = build(project / "cold", cache=False)
    assert written(report) == written(expected)
    assert written(report) != before


@pytest.mark.parametrize(
    # The manifest takes its digests with sha256_of, which raises where
    # file_digest gives None.
    "digest",
    [inputs.file_digest, inputs.sha256_of],
    ids=["file_digest", "sha256_of"],
)
def test_a_large_package_is_digested_without_being_read_whole(
    tmp_path: Path, digest: Callable[[Path], str | None]
) -> None:
    # A bundle of 10,000 notes is a file of 28 MB: its digest is taken once it is
    # written, and again before a build that nothing changed is replayed.
    package = tmp_path / "all.apkg"
    package.write_bytes(os.urandom(1 << 20) * 16)
    tracemalloc.start()
    try:
        found = digest(package)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert found == hashlib.sha256(package.read_bytes()).hexdigest()
    assert peak < 1 << 20
