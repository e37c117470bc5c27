"""Progress: what the core reports through Options.progress, and when bars are drawn."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deckbuilder.cli import app
from deckbuilder.options import Options, Progress
from deckbuilder.pipeline import build, check
from deckbuilder.terminal import ProgressBars, wants_progress

Event = tuple[str, int, int]


@pytest.fixture
def cards(tmp_path: Path) -> Path:
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "a.md").write_text("---\ndeck: A\n---\n## One\n1\n\n## Two\n2\n")
    (folder / "b.md").write_text("---\ndeck: B\n---\n## Three\n3\n")
    return folder


def test_build_reports_each_step_item_by_item(cards: Path, tmp_path: Path) -> None:
    events: list[Event] = []

    build([cards], Options(out=tmp_path / "out", progress=_record(events)))

    # Deck A's package is written once its two notes are rendered, before B's card.
    assert events == [
        ("reading", 0, 2),
        ("reading", 1, 2),
        ("reading", 2, 2),
        ("rendering", 0, 3),
        ("rendering", 1, 3),
        ("rendering", 2, 3),
        ("packaging", 0, 2),
        ("packaging", 1, 2),
        ("rendering", 3, 3),
        ("packaging", 2, 2),
    ]


def test_check_reports_no_packaging(cards: Path) -> None:
    events: list[Event] = []

    check([cards], Options(progress=_record(events)))

    assert {step for step, _, _ in events} == {"reading", "rendering"}
    assert events[-1] == ("rendering", 3, 3)


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "environ", "expected"),
    [
        (True, {}, True),
        (True, {"CI": ""}, True),
        (True, {"CI": "false"}, True),
        (True, {"CI": "true"}, False),
        (True, {"CI": "1"}, False),
        (True, {"CI": "woodpecker"}, False),
        (False, {}, False),
    ],
)
def test_progress_only_on_a_terminal_outside_ci(
    tty: bool, environ: dict[str, str], expected: bool
) -> None:
    assert wants_progress(_Stream(tty), environ) is expected


def test_bars_appear_only_once_the_build_runs_long() -> None:
    now = [100.0]
    stream = _Stream(True)
    bars = ProgressBars(stream, delay=0.5, clock=lambda: now[0])

    bars("reading", 2, 2)
    quiet = stream.getvalue()
    now[0] = 100.6
    with bars:
        bars("rendering", 2, 3)
    drawn = stream.getvalue()

    assert quiet == ""
    assert re.search(r"reading\s.*2/2", drawn)
    assert re.search(r"rendering\s.*2/3", drawn)


def test_no_bars_and_a_timed_summary_when_not_on_a_terminal(
    cards: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(cards.parent)

    result = CliRunner().invoke(app, ["check"])

    assert result.exit_code == 0
    assert re.fullmatch(
        r"checked 2 decks, 3 cards, 0 incomplete, 0 warnings, 0 errors in \d+\.\d\ds\n",
        result.stderr,
    )


def test_a_piped_build_never_imports_rich_progress(cards: Path) -> None:
    code = (
        "import atexit, sys; "
        "atexit.register(lambda: print('rich.progress' in sys.modules)); "
        "from deckbuilder.cli import main; sys.argv = ['deckbuilder', 'check']; main()"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cards.parent,
        capture_output=True,
        text=True,
        env={**os.environ, "CI": ""},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "False\n"


def _record(events: list[Event]) -> Progress:
    return lambda step, done, total: events.append((step, done, total))
