"""Benchmark the snippet runners: a warm fork server against a new process per snippet.

Runs 200 small snippets, half of them importing TensorFlow and running one tiny op,
through `ForkServerRunner` and through `SubprocessRunner`, and prints wall-clock
figures: the first snippet (which pays for starting the helper and importing
TensorFlow), the per-snippet time after it, and the totals. Not a test: run it by hand.

    python benchmarks/snippets.py [--count 200] [--baseline-count 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deckbuilder.jobs import CardJob, SnippetRunner, Step
from deckbuilder.runner import ForkServerRunner, SubprocessRunner

TENSORFLOW = """\
import tensorflow as tf

total = tf.reduce_sum(tf.constant([{n}, 1, 2]))
assert int(total) == {n} + 3
"""
PLAIN = """\
values = [n * n for n in range({n} % 50 + 10)]
assert sum(values) > 0
"""


@dataclass(frozen=True)
class Timing:
    """Seconds each snippet took, in order, and whether it imported TensorFlow."""

    seconds: list[float]
    tensorflow: list[bool]

    def after_first(self, tensorflow: bool | None = None) -> list[float]:
        return [
            s
            for s, tf in zip(self.seconds[1:], self.tensorflow[1:])
            if tensorflow is None or tf == tensorflow
        ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="snippets to run")
    parser.add_argument(
        "--baseline-count",
        type=int,
        default=None,
        help="snippets to run one process each (default: all; fewer is quicker)",
    )
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="deckbuilder-bench-"))
    jobs = [_job(n, folder) for n in range(args.count)]
    baseline = jobs[: args.baseline_count or args.count]

    python, machine = platform.python_version(), platform.machine()
    print(f"# Python {python} on {os.cpu_count()} CPUs, {machine}")
    fork = _measure(ForkServerRunner(preload=("numpy", "tensorflow")), jobs)
    _report("fork server", fork)
    fresh = _measure(SubprocessRunner(), baseline)
    _report("process per snippet", fresh)
    _compare(fork, fresh)


def _job(n: int, folder: Path) -> CardJob:
    code = (TENSORFLOW if n % 2 == 0 else PLAIN).format(n=n)
    path = folder / f"snippet{n}.md"
    path.write_text(f"```python\n{code}```\n", encoding="utf-8")
    step = Step(code, path, 2, f"snippet {n}", timeout=120)
    return CardJob(f"snippet {n}", path, (step,), project=folder)


def _measure(runner: SnippetRunner, jobs: Sequence[CardJob]) -> Timing:
    seconds = []
    try:
        for job in jobs:
            started = time.perf_counter()
            result = runner.run(job)
            seconds.append(time.perf_counter() - started)
            if result.failure is not None:
                sys.exit(f"{job.name} failed: {result.failure.message}")
    finally:
        runner.close()
    return Timing(seconds, ["tensorflow" in job.steps[0].code for job in jobs])


def _report(name: str, timing: Timing) -> None:
    print(f"\n{name}: {len(timing.seconds)} snippets in {sum(timing.seconds):.1f} s")
    print(f"  first snippet (start, imports): {timing.seconds[0]:.2f} s")
    for label, kind in (("all", None), ("tensorflow", True), ("plain", False)):
        values = timing.after_first(kind)
        if values:
            mean, median = statistics.mean(values), statistics.median(values)
            print(
                f"  after the first, {label:>10}: mean {mean:.3f} s, "
                f"median {median:.3f} s, max {max(values):.3f} s"
            )


def _compare(fork: Timing, fresh: Timing) -> None:
    print("\nratios, process per snippet / fork server (mean time per snippet):")
    for label, kind in (("all", None), ("tensorflow", True), ("plain", False)):
        slow, fast = fresh.after_first(kind), fork.after_first(kind)
        if slow and fast:
            ratio = statistics.mean(slow) / statistics.mean(fast)
            print(f"  {label:>10}: {ratio:.0f}x")
    count, total = len(fork.seconds), sum(fork.seconds)
    estimate = statistics.mean(fresh.seconds) * count
    print(
        f"  total for {count} snippets: fork server {total:.1f} s, "
        f"process per snippet {estimate:.1f} s"
        + ("" if len(fresh.seconds) == len(fork.seconds) else " (extrapolated)")
        + f" ({estimate / total:.0f}x)"
    )


if __name__ == "__main__":
    main()
