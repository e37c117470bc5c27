"""Atomic output: builds killed at any moment, or run at once, leave whole packages.

`deckbuilder build` runs in a subprocess on a generated project of several decks and is
killed with SIGKILL at several points: while it reads and renders, as soon as it starts
writing a package, and right after it has put the first package in place. Builds are
reproducible (SOURCE_DATE_EPOCH), so every package must hold, byte for byte, either
the previous build's or the new build's package.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import read_apkg_notes

from deckbuilder import Options, build, cache, notes, package, parallel
from deckbuilder.errors import DeckbuilderError, OutputError
from deckbuilder.model import Location
from deckbuilder.packages import Packages

EPOCH = 1_700_000_000
DECKS = ("Alpha", "Beta", "Gamma", "Delta")
CARDS_PER_DECK = 300

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"
)


def write_project(root: Path, version: int) -> None:
    """Write a project of several decks; each `version` changes every deck."""
    (root / "pyproject.toml").write_text("")
    (root / "cards").mkdir(exist_ok=True)
    for deck in DECKS:
        cards = "".join(
            f"## {deck} question {number}, version {version}?\n\n"
            f"Answer with $x_{{{number}}}$ and **bold** text.\n\n"
            f"```python\nvalue = {number} * {version}\n```\n\n"
            for number in range(CARDS_PER_DECK)
        )
        text = f"---\ndeck: {deck}\n---\n{cards}"
        (root / "cards" / f"{deck.lower()}.md").write_text(text, encoding="utf-8")


def packages(out: Path) -> dict[str, bytes]:
    """Return the packages under their names (staged files start with a dot)."""
    return {
        path.name: path.read_bytes()
        for path in sorted(out.glob("*.apkg"))
        if not path.name.startswith(".")
    }


def leftovers(out: Path) -> list[str]:
    return sorted(path.name for path in out.glob(".*.apkg.*"))


def start_build(
    root: Path, *extra: str, stderr: int = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    """Start `deckbuilder build` in `root`; stderr goes nowhere unless asked for."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)}
    return subprocess.Popen(
        [sys.executable, "-c", "from deckbuilder.launch import main; main()", "build",
         *extra],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )  # fmt: skip


def run_build(root: Path, *extra: str) -> None:
    process = start_build(root, *extra, stderr=subprocess.PIPE)
    _, errors = process.communicate()
    assert process.returncode == 0, errors.decode()


def expected_packages(tmp_path: Path, version: int) -> dict[str, bytes]:
    """Build `version` of the project in a folder of its own; return its packages."""
    root = tmp_path / f"reference-{version}"
    root.mkdir()
    write_project(root, version)
    run_build(root)
    return packages(root / "build")


def kill_when(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], limit: float = 60
) -> bool:
    """SIGKILL `process` as soon as `ready()`; return whether it was still running."""
    deadline = time.monotonic() + limit
    while process.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.001)
    running = process.poll() is None
    if running:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return running


def test_a_build_killed_at_any_point_leaves_whole_packages(tmp_path: Path) -> None:
    old, new = expected_packages(tmp_path, 1), expected_packages(tmp_path, 2)
    root = tmp_path / "project"
    root.mkdir()
    write_project(root, 1)
    out = root / "build"
    run_build(root)
    assert packages(out) == old
    write_project(root, 2)
    first = out / "alpha.apkg"
    started = time.monotonic()
    points: list[Callable[[], bool]] = [
        lambda: time.monotonic() - started > 0.3,  # reading and rendering
        lambda: bool(leftovers(out)),  # a package is being written
        lambda: first.read_bytes() != old["alpha.apkg"],  # one package is in place
    ]
    killed, left = [], []

    for ready in points:
        for name, data in old.items():  # start again from the old packages
            (out / name).write_bytes(data)
        started = time.monotonic()
        killed.append(kill_when(start_build(root, "--no-cache"), ready))
        left = left or leftovers(out)

        found = packages(out)
        assert found.keys() == old.keys()
        for name, data in found.items():
            assert data in (old[name], new[name]), f"{name} is neither build's"

    assert killed == [True, True, True], "a build ended before it could be killed"
    assert left, "no build was killed while writing"
    run_build(root)
    assert packages(out) == new
    assert leftovers(out) == []  # the killed builds' staged files are cleaned up
    assert len(read_apkg_notes(first, tmp_path)) == CARDS_PER_DECK


def test_staged_files_of_running_builds_are_not_cleaned_up(tmp_path: Path) -> None:
    write_project(tmp_path, 1)
    out = tmp_path / "build"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        running = out / f".alpha.apkg.{sleeper.pid}.abcd1234"
        dead = out / ".beta.apkg.999999999.abcd1234"
        unrelated = out / ".notes.txt"
        for path in (running, dead, unrelated):
            path.write_bytes(b"partial")

        report = build([tmp_path / "cards"], Options(out=out, source_date_epoch=EPOCH))

        assert report.exit_code == 0
        assert running.exists() and unrelated.exists()
        assert not dead.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_two_builds_at_once_into_one_folder_write_whole_packages(
    tmp_path: Path,
) -> None:
    versions = {1: expected_packages(tmp_path, 1), 2: expected_packages(tmp_path, 2)}
    out = tmp_path / "build"
    roots = []
    for version in versions:
        root = tmp_path / f"project-{version}"
        root.mkdir()
        write_project(root, version)
        roots.append(root)

    # Both write into one folder, cache included; the second starts while the first
    # is still at work.
    first = start_build(roots[0], "--out", str(out), stderr=subprocess.PIPE)
    time.sleep(0.2)
    second = start_build(roots[1], "--out", str(out), stderr=subprocess.PIPE)
    results = [process.communicate()[1].decode() for process in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0], results
    found = packages(out)
    assert found.keys() == versions[1].keys()
    for name, data in found.items():
        assert data in (versions[1][name], versions[2][name]), name
        assert len(read_apkg_notes(out / name, tmp_path)) == CARDS_PER_DECK
    assert leftovers(out) == []


def test_a_build_looks_through_its_output_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Looked through for every package staged, a folder of N packages made a build
    # cost N * N; once is enough.
    (tmp_path / "cards").mkdir()
    for number in range(6):
        (tmp_path / "cards" / f"d{number}.md").write_text("## Q?\n\nA.\n")
    out = tmp_path / "build"
    out.mkdir()
    listed: list[object] = []
    scandir = os.scandir

    def counted(path: object = ".") -> object:
        listed.append(path)
        return scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", counted)

    report = build([tmp_path / "cards"], Options(out=out, source_date_epoch=EPOCH))

    assert len(report.packages) == 6
    scans = [path for path in listed if os.path.abspath(str(path)) == str(out)]
    assert scans == [out]


def _two_decks_the_second_broken(root: Path) -> Path:
    cards = root / "cards"
    cards.mkdir()
    (cards / "a.md").write_text("---\ndeck: A\n---\n## Q?\n\nA.\n")
    (cards / "b.md").write_text("---\ndeck: B\n---\n## Q?\n\n![](missing.png)\n")
    return cards


@pytest.mark.parametrize("cache", [True, False])
def test_an_error_after_a_package_was_staged_writes_nothing(
    tmp_path: Path, cache: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Deck A's package is staged before B's card is rendered, and B's card fails.
    cards = _two_decks_the_second_broken(tmp_path)
    out = tmp_path / "made" / "for" / "build"
    staged: list[Path] = []
    stage_package = package.stage_package

    def recorded(*args: Any, **kwargs: Any) -> Path:
        staged.append(stage_package(*args, **kwargs))
        return staged[-1]

    monkeypatch.setattr(package, "stage_package", recorded)

    report = build([cards], Options(out=out, source_date_epoch=EPOCH, cache=cache))

    assert [d.message for d in report.errors] == ["image 'missing.png' not found"]
    assert [path.parent for path in staged] == [out]
    assert report.packages == []
    assert not (tmp_path / "made").exists()


def test_an_error_after_a_package_was_staged_leaves_the_old_packages(
    tmp_path: Path,
) -> None:
    cards = _two_decks_the_second_broken(tmp_path)
    out = tmp_path / "build"
    out.mkdir()
    (out / "a.apkg").write_bytes(b"the last build's")

    build([cards], Options(out=out, source_date_epoch=EPOCH))

    assert sorted(path.name for path in out.iterdir()) == ["a.apkg"]
    assert (out / "a.apkg").read_bytes() == b"the last build's"


def _many_decks(root: Path) -> Path:
    cards = root / "cards"
    cards.mkdir()
    for deck in DECKS:
        (cards / f"{deck}.md").write_text(
            f"---\ndeck: {deck}\n---\n"
            + "".join(f"## {deck} {n}?\n\n{n}.\n\n" for n in range(20))
        )
    return cards


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render on two workers, one card at a time, whatever the machine."""
    monkeypatch.setattr(parallel, "MINIMUM", 1)
    monkeypatch.setattr(parallel, "CHUNK", 1)
    monkeypatch.setattr(parallel, "_cores", lambda: 2)


@pytest.mark.usefixtures("workers")
def test_a_worker_that_dies_fails_the_build_instead_of_hanging_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cards = _many_decks(tmp_path)
    build_process = os.getpid()
    card_note = notes.card_note

    def dying(card: Any, renderer: Any) -> Any:
        if card.title == "Gamma 3?" and os.getpid() != build_process:
            os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer does
        return card_note(card, renderer)

    monkeypatch.setattr(notes, "card_note", dying)
    out = tmp_path / "new" / "build"

    with pytest.raises(DeckbuilderError, match="worker process rendering cards"):
        build([cards], Options(out=out, source_date_epoch=EPOCH))

    assert not (tmp_path / "new").exists()
    assert multiprocessing.active_children() == []


@pytest.mark.usefixtures("workers")
def test_an_interrupted_build_leaves_nothing_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cards = _many_decks(tmp_path)
    added = []
    add = Packages.add

    def interrupted(packages: Packages, note: Any) -> None:
        added.append(note)
        if len(added) == 50:  # two packages staged, the cache written to
            raise KeyboardInterrupt
        add(packages, note)

    monkeypatch.setattr(Packages, "add", interrupted)
    monkeypatch.setattr(cache, "BATCH", 10)
    out = tmp_path / "new" / "build"

    with pytest.raises(KeyboardInterrupt):
        build([cards], Options(out=out, source_date_epoch=EPOCH))

    assert not (tmp_path / "new").exists()
    assert multiprocessing.active_children() == []


def test_a_package_that_cannot_be_moved_into_place_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cards = _many_decks(tmp_path)
    out = tmp_path / "build"
    moved: list[Path] = []

    def commit(staged: Path, path: Path) -> None:
        if path.name == "beta.apkg":
            raise OutputError("cannot write it: Is a directory", Location(path, 1))
        os.replace(staged, path)
        moved.append(path)

    monkeypatch.setattr("deckbuilder.packages.commit", commit)

    report = build([cards], Options(out=out, source_date_epoch=EPOCH))

    assert [str(error) for error in report.errors] == [
        f"{out / 'beta.apkg'}:1:1: error: cannot write it: Is a directory"
    ]
    assert report.packages == [str(out / "alpha.apkg")] == list(map(str, moved))
    assert leftovers(out) == []


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(child) for child in path.read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended, and waits for its parent to know


@pytest.mark.skipif(sys.platform != "linux", reason="worker ends are Linux's")
def test_workers_end_with_a_build_killed_under_them(tmp_path: Path) -> None:
    write_project(tmp_path, 1)
    process = start_build(tmp_path, "--no-cache")
    workers: list[int] = []
    deadline = time.monotonic() + 60
    while len(workers) < 2 and process.poll() is None and time.monotonic() < deadline:
        workers = _children(process.pid)
        time.sleep(0.005)
    assert len(workers) == 2, "the build never started its workers"

    process.kill()
    process.wait()

    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(map(_alive, workers))


def test_an_output_folder_named_through_a_link_and_dotdot_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `cards/..` is the linked folder's parent for the system, not the project.
    real = tmp_path / "elsewhere"
    (real / "cards").mkdir(parents=True)
    (real / "build").mkdir()
    (real / "cards" / "deck.md").write_text("## Q?\n\nA.\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "cards").symlink_to(real / "cards")
    monkeypatch.chdir(project)

    report = build([Path("cards")], Options(out=Path("cards/../build")))

    assert report.errors == []
    assert [p.name for p in (real / "build").glob("*.apkg")] == ["deck.apkg"]
    assert not (project / "build").exists()
