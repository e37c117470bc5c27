"""Benchmark how a deckbuilder build grows with the deck: time and memory per size.

The same synthetic cards as `builds.py` (`synthetic.py`), 100 to a file, at several
sizes. Each size is built cold (no `build/` folder), one package per deck and as one
bundle, then rebuilt with nothing changed; each run is one fresh process, timed and
measured as `builds.py` does. Reported per size: wall and CPU time, time per card and
peak memory, and the ratio of each measurement's time at the largest size to its time
at the reference size, beside the ratio of their card counts: what a build that grows
linearly would show. A step that grows with the square of the deck would show as a
ratio far above it. Not a test: run it by hand, see README.md.

    python benchmarks/scaling.py [--sizes 5000,10000,20000,50000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import builds

HERE = Path(__file__).resolve().parent
KINDS = ("cold, one package per deck", "cold, --bundle", "rebuild, nothing changed")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000,20000,50000")
    parser.add_argument("--per-file", type=int, default=100, help="cards per file")
    parser.add_argument(
        "--reference", type=int, default=10000, help="size the others are compared to"
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="folder to work in")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="deckbuilder-scaling-"))

    measured = {size: _measurements(work, size, args.per_file) for size in sizes}
    print(builds._machine())
    print(f"# sizes {sizes}, {args.per_file} cards a file, {args.repeat} repetitions")
    print(f"# $ {' '.join([Path(sys.executable).name, *sys.argv])}")
    for repetition in range(args.repeat):
        for size in sizes:
            for measurement in measured[size]:
                builds._run(measurement, repetition)
        print(f"# repetition {repetition + 1} done", file=sys.stderr)
    _table(measured, args.reference)


def _measurements(work: Path, size: int, per_file: int) -> list[builds.Measurement]:
    source = work / f"sources-{size}"
    shutil.rmtree(source, ignore_errors=True)
    # Written by a process of its own, as in builds.py, so the runner stays small.
    subprocess.run(
        [sys.executable, str(HERE / "synthetic.py"), str(source)]
        + ["--cards", str(size), "--files", str(-(-size // per_file))],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    build = [str(builds.BIN / "deckbuilder"), "build"]
    folders = []
    for kind in ("cold", "cold-bundle", "unchanged"):
        folder = work / f"{kind}-{size}"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(source, folder)
        folders.append(folder)
    cold, cold_bundle, unchanged = folders
    subprocess.run(build, cwd=unchanged, check=True, capture_output=True)

    def clean(folder: Path) -> Callable[[int], None]:
        return lambda repetition: shutil.rmtree(folder / "build", ignore_errors=True)

    return [
        builds.Measurement(KINDS[0], build, cold, clean(cold)),
        builds.Measurement(
            KINDS[1], [*build, "--bundle", "synthetic"], cold_bundle, clean(cold_bundle)
        ),
        builds.Measurement(KINDS[2], build, unchanged),
    ]


def _table(measured: dict[int, list[builds.Measurement]], reference: int) -> None:
    print()
    print(
        "| measurement | cards | median s | CPU s | ms per card | CPU ms per card "
        "| peak RSS MB | tree MB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for index, kind in enumerate(KINDS):
        for size, measurements in measured.items():
            runs = measurements[index].runs
            wall = statistics.median(run.wall for run in runs)
            cpu = statistics.median(run.cpu for run in runs)
            print(
                f"| {kind} | {size} | {wall:.3f} | {cpu:.3f} "
                f"| {1000 * wall / size:.3f} | {1000 * cpu / size:.3f} "
                f"| {max(run.rss for run in runs) / 2**20:.0f} "
                f"| {max(run.tree for run in runs) / 2**20:.0f} |"
            )
    largest = max(measured)
    if reference not in measured or largest == reference:
        return
    print()
    print(
        f"| measurement | time {largest} / time {reference} | CPU ratio "
        f"| linear would be | RSS ratio |"
    )
    print("| --- | --- | --- | --- | --- |")
    for index, kind in enumerate(KINDS):
        big, small = measured[largest][index].runs, measured[reference][index].runs
        print(
            f"| {kind} "
            f"| {_median(big, 'wall') / _median(small, 'wall'):.2f} "
            f"| {_median(big, 'cpu') / _median(small, 'cpu'):.2f} "
            f"| {largest / reference:.2f} "
            f"| {max(r.rss for r in big) / max(r.rss for r in small):.2f} |"
        )


def _median(runs: list[builds.Run], name: str) -> float:
    return statistics.median(getattr(run, name) for run in runs)


if __name__ == "__main__":
    main()
