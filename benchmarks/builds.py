"""Benchmark whole builds: the floor, deckbuilder cold and rebuilt, and the peer tools.

Every measurement is one fresh process, timed from start to exit, its peak memory taken
from the kernel (`wait4`) and from sampling its process tree. Measurements go
round-robin: each repetition runs every one once, in the same order, so a slow spell on
the machine spreads over all of them. Not a test: run it by hand, see README.md.

    python benchmarks/builds.py [--cards 2000] [--files 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import synthetic

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
PEERS = Path("/tmp/peers")
"""Where the peers' virtual environments are; see README.md for how to make them."""

# Runs deckbuilder with a stylesheet that differs in every repetition. deckbuilder has
# no user stylesheet yet; its build takes the stylesheet from pipeline._stylesheet(),
# to which this adds a file read as a build reads its inputs, as a user stylesheet
# would be, so that the build knows that it changed.
STYLESHEET_CHANGED = """\
import sys
from pathlib import Path
from deckbuilder import pipeline
try:
    from deckbuilder.launch import main
except ImportError:  # a commit from before the console script skipped Typer
    from deckbuilder.cli import main
try:
    from deckbuilder.inputs import read_bytes
except ImportError:  # a commit from before builds recorded their inputs
    read_bytes = Path.read_bytes
def revision():
    return read_bytes(Path("stylesheet-revision")).decode()
original = pipeline._stylesheet
pipeline._stylesheet = lambda *a: original(*a) + f"\\n/* revision {revision()} */\\n"
sys.argv[0] = "deckbuilder"
main()
"""


@dataclass
class Measurement:
    """One command to time, and what to do (untimed) before each run of it."""

    name: str
    argv: list[str]
    cwd: Path
    prepare: Callable[[int], None] = lambda repetition: None
    outputs: Callable[[], list[Path]] = list
    """Packages the command writes, to count their notes after the runs."""
    problem: str = ""
    """Why this cannot be measured here; it is then reported instead of run."""
    runs: list[Run] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    rss: int
    """Peak resident memory in bytes of the largest process of the run, as the kernel
    counts it (`wait4`)."""
    tree: int
    """Peak of the run's whole process tree: the larger of `rss` and the sampled peak
    of the summed proportional set sizes of the process and its children."""


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peers", type=Path, default=PEERS)
    parser.add_argument("--no-peers", action="store_true", help="skip the peer tools")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated name prefixes to run (and the floor)",
    )
    parser.add_argument("--work", type=Path, default=None, help="folder to work in")
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="BIN",
        help="also measure the deckbuilder builds of the virtual environment whose "
        "bin folder this is (another commit), round-robin with this one",
    )
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="deckbuilder-bench-"))
    # Written by a process of their own: a child counts the memory of the runner it
    # was forked from until it starts its program, so the runner stays small.
    sources = {}
    for syntax in synthetic.WRITERS:
        sources[syntax] = work / "sources" / syntax
        shutil.rmtree(sources[syntax], ignore_errors=True)
        subprocess.run(
            [sys.executable, str(HERE / "synthetic.py"), str(sources[syntax])]
            + ["--cards", str(args.cards), "--files", str(args.files)]
            + ["--syntax", syntax],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    compared = []
    if args.compare is not None:
        compared = _deckbuilder(work, sources["deckbuilder"], args.compare, "before")
    measurements = [
        *_deckbuilder(work, sources["deckbuilder"], BIN),
        *compared[1:],  # one floor
        *([] if args.no_peers else _peers(work, sources, args.peers)),
        *_start_up(work),
    ]
    if args.only:
        prefixes = ("floor", *args.only.split(","))
        measurements = [m for m in measurements if m.name.startswith(prefixes)]

    print(_machine())
    print(f"# {args.cards} cards in {args.files} files, {args.repeat} repetitions")
    print(f"# $ {' '.join([Path(sys.executable).name, *sys.argv])}")
    for repetition in range(args.repeat):
        for measurement in measurements:
            if not measurement.problem:
                _run(measurement, repetition)
        print(f"# repetition {repetition + 1} done", file=sys.stderr)
    _table(measurements)


# What to measure -------------------------------------------------------------------


def _deckbuilder(
    work: Path, source: Path, programs: Path, label: str = ""
) -> list[Measurement]:
    """The floor and deckbuilder's builds, with the deckbuilder in `programs`;
    a `label` names the projects and the measurements apart."""
    floor_out = work / "out" / "floor.apkg"
    build = [str(programs / "deckbuilder"), "build"]
    bundle = [*build, "--bundle", "synthetic"]
    restyled = [str(programs / "python"), "-c", STYLESHEET_CHANGED, "build"]
    prefix = f"{label}: " if label else ""

    def project(name: str) -> Path:
        folder = work / f"{label}-{name}" if label else work / name
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(source, folder)
        return folder

    cold, cold_bundle = project("cold"), project("cold-bundle")
    unchanged, edited = project("unchanged"), project("edited")
    edited_bundle, styled = project("edited-bundle"), project("styled")
    (styled / "stylesheet-revision").write_text("warm-up")
    for folder, argv in (
        (unchanged, build),
        (edited, build),
        (edited_bundle, bundle),
        (styled, restyled),
    ):
        subprocess.run(argv, cwd=folder, check=True, capture_output=True)

    def clean(folder: Path) -> Callable[[int], None]:
        return lambda repetition: shutil.rmtree(folder / "build", ignore_errors=True)

    def edit(folder: Path) -> Callable[[int], None]:
        return lambda repetition: _edit_one_card(folder, repetition)

    def restyle(repetition: int) -> None:
        (styled / "stylesheet-revision").write_text(str(repetition))

    def packages(folder: Path) -> Callable[[], list[Path]]:
        return lambda: sorted((folder / "build").glob("*.apkg"))

    floor_out.parent.mkdir(parents=True, exist_ok=True)
    return [
        Measurement(
            "floor (Python-Markdown + Pygments + genanki)",
            [
                sys.executable,
                str(HERE / "floor.py"),
                str(source / "cards"),
                str(floor_out),
            ],
            work,
            outputs=lambda: [floor_out],
        ),
        Measurement(
            f"{prefix}deckbuilder cold, one package per deck",
            build,
            cold,
            clean(cold),
            packages(cold),
        ),
        Measurement(
            f"{prefix}deckbuilder cold, --bundle",
            bundle,
            cold_bundle,
            clean(cold_bundle),
            packages(cold_bundle),
        ),
        Measurement(
            f"{prefix}deckbuilder rebuild, nothing changed",
            build,
            unchanged,
            outputs=packages(unchanged),
        ),
        Measurement(
            f"{prefix}deckbuilder rebuild, one card changed",
            build,
            edited,
            edit(edited),
            packages(edited),
        ),
        Measurement(
            f"{prefix}deckbuilder rebuild, one card changed, --bundle",
            bundle,
            edited_bundle,
            edit(edited_bundle),
            packages(edited_bundle),
        ),
        Measurement(
            f"{prefix}deckbuilder rebuild, stylesheet changed",
            restyled,
            styled,
            restyle,
            packages(styled),
        ),
    ]


def _edit_one_card(project: Path, repetition: int) -> None:
    # A new sentence in the first card's answer every repetition, so the change is
    # never one a cache has seen before.
    path = sorted((project / "cards").glob("*.md"))[0]
    text = path.read_text(encoding="utf-8")
    second = text.index("\n## ", text.index("\n## ") + 1)
    sentence = f"\nEdited in repetition {repetition}.\n"
    path.write_text(text[:second] + sentence + text[second:], encoding="utf-8")


def _peers(work: Path, sources: dict[str, Path], peers: Path) -> list[Measurement]:
    out = work / "out"

    def fresh(folder: Path) -> Callable[[int], None]:
        def prepare(repetition: int) -> None:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)

        return prepare

    def found(folder: Path) -> Callable[[], list[Path]]:
        return lambda: sorted(folder.glob("*.apkg"))

    measurements = [
        Measurement(
            "ankdown 0.7.1 (misaka, --highlight)",
            [
                str(peers / "ankdown/bin/ankdown"),
                *("-r", str(sources["ankdown"])),
                *("-p", str(out / "ankdown" / "ankdown.apkg")),
                "--highlight",
            ],
            work,
            fresh(out / "ankdown"),
            found(out / "ankdown"),
        ),
        Measurement(
            "ankcompiler 0.6.0 (ankc build --all)",
            [
                str(peers / "ankcompiler/bin/ankc"),
                *("build", "--all", "--path", str(sources["ankcompiler"])),
                *("--output", str(out / "ankcompiler")),
            ],
            work,
            fresh(out / "ankcompiler"),
            found(out / "ankcompiler"),
        ),
        Measurement(
            "markdown-anki-decks 1.1.1 (mdankideck)",
            [
                str(peers / "markdown-anki-decks/bin/mdankideck"),
                str(sources["markdown-anki-decks"]),
                str(out / "markdown-anki-decks"),
            ],
            work,
            fresh(out / "markdown-anki-decks"),
            found(out / "markdown-anki-decks"),
        ),
    ]
    for measurement in measurements:
        if not Path(measurement.argv[0]).exists():
            measurement.problem = f"not installed: no {measurement.argv[0]}"
    return measurements


def _start_up(work: Path) -> list[Measurement]:
    one = work / "one-card"
    (one / "cards").mkdir(parents=True, exist_ok=True)
    (one / "cards" / "one.md").write_text("---\ndeck: One\n---\n## Q?\n\nA.\n")
    return [
        Measurement("start-up: python -c pass", [sys.executable, "-c", "pass"], work),
        Measurement(
            "start-up: deckbuilder --help", [str(BIN / "deckbuilder"), "--help"], work
        ),
        Measurement(
            "start-up: deckbuilder build, 1 card, cold",
            [str(BIN / "deckbuilder"), "build"],
            one,
            lambda repetition: shutil.rmtree(one / "build", ignore_errors=True),
            lambda: sorted((one / "build").glob("*.apkg")),
        ),
    ]


# Running and reporting -------------------------------------------------------------


def _run(measurement: Measurement, repetition: int) -> None:
    measurement.prepare(repetition)
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            measurement.argv,
            cwd=measurement.cwd,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        sampler = _TreeSampler(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
        if process.returncode != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace")[-2000:]
            sys.exit(f"{measurement.name} failed ({process.returncode}):\n{message}")
    largest = usage.ru_maxrss * 1024
    cpu = usage.ru_utime + usage.ru_stime
    measurement.runs.append(Run(wall, cpu, largest, max(largest, sampler.peak)))


class _TreeSampler(threading.Thread):
    """Sample the summed memory of a process and its descendants: each one's
    proportional set size, so that pages forked workers share with their parent count
    once, not once per process."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self._pid, self._interval = pid, interval
        self._done = threading.Event()
        self.peak = 0

    def run(self) -> None:
        while not self._done.wait(self._interval):
            self.peak = max(self.peak, sum(map(_rss, _tree(self._pid))))

    def stop(self) -> None:
        self._done.set()
        self.join()


def _tree(pid: int) -> list[int]:
    pids, index = [pid], 0
    while index < len(pids):
        try:
            children = Path(f"/proc/{pids[index]}/task/{pids[index]}/children")
            pids += [int(child) for child in children.read_text().split()]
        except OSError:
            pass
        index += 1
    return pids


def _rss(pid: int) -> int:
    for name, label in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            text = Path(f"/proc/{pid}/{name}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(label):
                return int(line.split()[1]) * 1024
    return 0


def _notes(packages: list[Path]) -> int:
    total = 0
    for package in packages:
        with zipfile.ZipFile(package) as archive, tempfile.TemporaryDirectory() as tmp:
            archive.extract("collection.anki2", tmp)
            connection = sqlite3.connect(Path(tmp) / "collection.anki2")
            total += connection.execute("SELECT count(*) FROM notes").fetchone()[0]
            connection.close()
    return total


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"# {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def _table(measurements: list[Measurement]) -> None:
    floor = measurements[0]
    floor_wall = statistics.median(run.wall for run in floor.runs)
    floor_rss = max(run.rss for run in floor.runs)
    print()
    print(
        "| measurement | min s | median s | median / floor | CPU s (median) "
        "| peak RSS MB | RSS / floor | tree RSS MB | tree / floor | notes |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for m in measurements:
        if m.problem:
            print(f"| {m.name} | {m.problem} | | | | | | | | |")
            continue
        walls = [run.wall for run in m.runs]
        median = statistics.median(walls)
        cpu = statistics.median(run.cpu for run in m.runs)
        rss = max(run.rss for run in m.runs)
        tree = max(run.tree for run in m.runs)
        notes = m.outputs()
        print(
            f"| {m.name} | {min(walls):.3f} | {median:.3f} "
            f"| {median / floor_wall:.2f}x "
            f"| {cpu:.3f} | {rss / 2**20:.0f} | {rss / floor_rss:.2f}x "
            f"| {tree / 2**20:.0f} | {tree / floor_rss:.2f}x "
            f"| {_notes(notes) if notes else ''} |"
        )


if __name__ == "__main__":
    main()
