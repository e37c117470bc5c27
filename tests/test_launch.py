"""The console script's way into `build` without Typer: the same build as Typer's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deckbuilder import cli, console, launch
from deckbuilder.console import BuildRequest

FAST = "from deckbuilder.launch import main; main()"
TYPER = "from deckbuilder.cli import main; main()"
DECK = """\
---
deck: Démo
---
## Complete?

Yes.

## Unanswered?
"""

ACCEPTED = [
    ["build"],
    ["build", "cards"],
    ["build", "a.md", "b", "c/d.md"],
    ["build", "-o", "dist"],
    ["build", "--out", "dist"],
    ["build", "--out=dist"],
    ["build", "--out=a=b"],
    ["build", "--strict"],
    ["build", "--no-strict"],
    ["build", "--include-incomplete"],
    ["build", "--no-include-incomplete"],
    ["build", "--bundle", "all"],
    ["build", "--bundle=all.apkg"],
    ["build", "--bundle", "é_1.x-y"],
    ["build", "--format", "json"],
    ["build", "--format=text"],
    ["build", "--format", "JSON"],
    ["build", "--format=Text"],
    ["build", "--format", "jſon"],  # the long s casefolds to "s", for Typer too
    ["build", "--no-cache"],
    ["build", "a", "--strict", "b", "-o", "out", "c", "--format", "json", "d"],
    [
        *("build", "--no-include-incomplete", "x.md", "--bundle=b", "--no-cache"),
        *("--out=o", "--no-strict", "--format", "text", "y"),
    ],
    ["build", "--", "-x", "--strict", "--", "-o", "--help"],
    ["build", "a", "--strict", "--", "--out=x", "b"],
    ["build", "--"],
    ["build", "-"],
    ["build", "build"],
    ["build", "a b", "ü/ñ.md", "./x/", "a//b", "/abs/path", "~", " ", "=x", "\udcff"],
    ["build", "-o", "./", "--bundle", "x.apkg.apkg"],
    ["build", "--out", "~/with space"],
]
DOUBTFUL = [
    [],
    ["--help"],
    ["--version"],
    ["check"],
    ["Build"],
    ["--", "build"],
    ["build", "--help"],
    ["build", "-h"],
    ["build", "--version"],
    ["build", "--unknown"],
    ["build", "-x"],
    ["build", "-5"],
    ["build", "--ou", "x"],
    ["build", "---strict"],
    ["build", "--strict", "--strict"],
    ["build", "--strict", "--no-strict"],
    ["build", "--no-cache", "--no-cache"],
    ["build", "-o", "a", "--out", "b"],
    ["build", "--format", "json", "--format", "json"],
    ["build", "--out"],
    ["build", "-o"],
    ["build", "--bundle"],
    ["build", "--format"],
    ["build", ""],
    ["build", "--", ""],
    ["build", "--out", ""],
    ["build", "--out="],
    ["build", "--bundle="],
    ["build", "-oX"],
    ["build", "-o=X"],
    ["build", "--strict=1"],
    ["build", "--no-cache=yes"],
    ["build", "--out", "-x"],
    ["build", "-o", "--strict"],
    ["build", "--out=-"],
    ["build", "--bundle", "../escape"],
    ["build", "--bundle", ".hidden"],
    ["build", "--bundle", ".apkg"],
    ["build", "--format", "yaml"],
    ["build", "--format", " json"],
    ["build", "a\0b"],
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "cards").mkdir(parents=True)
    (root / "cards" / "demo.md").write_text(DECK, encoding="utf-8")
    monkeypatch.chdir(root)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return root


def fresh_copy(project: Path) -> Path:
    """Return a copy of the project beside it, for one run that writes into it."""
    copy = project.parent / f"copy-{len(list(project.parent.iterdir()))}"
    shutil.copytree(project, copy)
    return copy


def recorded_builds(
    monkeypatch: pytest.MonkeyPatch, code: int = 0
) -> list[BuildRequest]:
    """Make console.run_build record its requests and return `code`, building none."""
    requests: list[BuildRequest] = []

    def record(request: BuildRequest) -> int:
        requests.append(request)
        return code

    monkeypatch.setattr(console, "run_build", record)
    return requests


def typer_request(args: list[str], monkeypatch: pytest.MonkeyPatch) -> BuildRequest:
    """Return the request Typer's build command hands to console.run_build."""
    requests = recorded_builds(monkeypatch)

    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    (request,) = requests
    return request


@pytest.mark.parametrize("args", ACCEPTED, ids=repr)
def test_plain_builds_are_read_as_typer_reads_them(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)

    assert launch.parse_build(args) == typer_request(args, monkeypatch)


@pytest.mark.parametrize("epoch", ["1700000000", " 42 ", "0"])
def test_source_date_epoch_is_read_as_typer_reads_it(
    epoch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)

    request = launch.parse_build(["build"])

    assert request == typer_request(["build"], monkeypatch)
    assert request is not None and request.source_date_epoch == int(epoch)


@pytest.mark.parametrize("args", DOUBTFUL, ids=repr)
def test_anything_doubtful_is_left_to_typer(args: list[str]) -> None:
    assert launch.parse_build(args) is None


@pytest.mark.parametrize(
    "environ",
    [
        {"SOURCE_DATE_EPOCH": "yesterday"},
        {"SOURCE_DATE_EPOCH": "99999999999999"},
        {"_DECKBUILDER_COMPLETE": "bash_source"},
    ],
)
def test_a_doubtful_environment_is_left_to_typer(environ: dict[str, str]) -> None:
    assert launch.parse_build(["build"], environ) is None


def console_script(
    entry: Callable[[], None], args: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[object, str, str]:
    """Run a console script's `main` in this process: exit code, stdout, stderr."""
    with CliRunner().isolation() as (stdout, stderr, _), monkeypatch.context() as mp:
        mp.chdir(fresh_copy(Path.cwd()))
        mp.setattr(sys, "argv", ["deckbuilder", *args])
        mp.setattr(sys, "excepthook", sys.excepthook)  # Typer sets its own
        try:
            entry()
            code: object = 0
        except SystemExit as exit:
            code = exit.code or 0
        sys.stdout.flush()
        sys.stderr.flush()
        return code, _untimed(stdout.getvalue()), _untimed(stderr.getvalue())


def _untimed(output: bytes) -> str:
    return re.sub(r" in \d+\.\d\ds$", " in #.##s", output.decode(), flags=re.M)


@pytest.mark.parametrize("args", DOUBTFUL, ids=repr)
def test_doubtful_command_lines_end_as_they_did_in_typer(
    args: list[str], project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    typer_main = cli.main
    handed: list[list[str]] = []

    def spy() -> None:
        handed.append(sys.argv[1:])
        typer_main()

    before = console_script(typer_main, args, monkeypatch)
    monkeypatch.setattr(cli, "main", spy)

    now = console_script(launch.main, args, monkeypatch)

    assert now == before
    assert handed == [args]


def test_an_unknown_option_is_typers_usage_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, stdout, stderr = console_script(
        launch.main, ["build", "--unknown"], monkeypatch
    )

    assert (code, stdout) == (2, "")
    # The program's name in the usage line is pytest's here.
    assert re.search(r"Usage: .*build \[OPTIONS\]", stderr)
    assert "No such option: --unknown" in stderr


def test_main_runs_a_plain_build_without_typer(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = recorded_builds(monkeypatch, code=3)
    monkeypatch.setattr(cli, "main", lambda: pytest.fail("went through Typer"))

    code, _, _ = console_script(launch.main, ["build", "-o", "x"], monkeypatch)

    assert code == 3
    assert requests == [BuildRequest(out=Path("x"))]


def test_ctrl_c_ends_both_ways_alike(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(request: BuildRequest) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(console, "run_build", interrupted)

    ends = [
        console_script(main, ["build"], monkeypatch) for main in (cli.main, launch.main)
    ]

    assert ends == [(130, "", ""), (130, "", "")]


def test_a_plain_build_imports_no_typer(project: Path) -> None:
    spy = (
        "import atexit, sys; atexit.register(lambda: print(sorted("
        "{m.partition('.')[0] for m in sys.modules} & "
        "{'typer', 'pydantic', 'pydantic_core', 'click', 'rich'})))"
    )

    result = subprocess.run(
        [sys.executable, "-c", f"{spy}; {FAST}", "build"],
        capture_output=True,
        text=True,
        env={**os.environ, "CI": ""},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "wrote build/démo.apkg\n[]\n"
    assert (project / "build" / "démo.apkg").is_file()


def test_help_still_comes_from_typer(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", FAST, "--help"], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert "Usage: " in result.stdout
    assert "Build one .apkg per deck from the card files." in result.stdout


def built(
    project: Path, entry: str, args: list[str], **env: str
) -> tuple[int, bytes, bytes]:
    """Build a fresh copy of the project through a console script."""
    result = subprocess.run(
        [sys.executable, "-c", entry, *args],
        cwd=fresh_copy(project),
        capture_output=True,
        env={**os.environ, **env},
    )
    timing = re.compile(rb" in \d+\.\d\ds$", re.M)
    return result.returncode, result.stdout, timing.sub(b" in #.##s", result.stderr)


@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        (["build"], {}, 0),
        (["build", "--format", "json"], {}, 0),
        (["build", "--strict"], {}, 1),
        (["build", "--strict", "--format=json"], {}, 1),
        (["build", "nowhere"], {}, 1),
        (["build", "nowhere", "--format", "json"], {}, 1),
        (["build", "-o", "out", "--bundle", "all", "--no-cache"], {}, 0),
        (["build"], {"PYTHONIOENCODING": "ascii"}, 0),
        (["build"], {"SOURCE_DATE_EPOCH": "1700000000"}, 0),
    ],
)
def test_both_ways_show_the_same_and_exit_alike(
    project: Path, args: list[str], env: dict[str, str], code: int
) -> None:
    through_typer = built(project, TYPER, args, **env)

    fast = built(project, FAST, args, **env)

    assert fast == through_typer
    assert fast[0] == code


def test_a_reader_that_goes_away_ends_both_ways_alike(project: Path) -> None:
    ends: list[tuple[int, bytes]] = []
    for entry in (TYPER, FAST):
        read, write = os.pipe()
        os.close(read)  # every write to stdout now fails with EPIPE
        with os.fdopen(write, "wb") as stdout:
            result = subprocess.run(
                [sys.executable, "-c", entry, "build"],
                cwd=fresh_copy(project),
                stdout=stdout,
                stderr=subprocess.PIPE,
            )
        ends.append((result.returncode, re.sub(rb"\d+\.\d\ds", b"#", result.stderr)))

    assert ends[1] == ends[0]
    assert ends[0][0] == 1
