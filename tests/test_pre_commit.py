"""The pre-commit hook that other repositories run: its manifest and its command."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

MANIFEST = Path(__file__).parent.parent / ".pre-commit-hooks.yaml"


def test_manifest_declares_the_strict_check() -> None:
    (hook,) = yaml.safe_load(MANIFEST.read_text())

    assert hook["id"] == "deckbuilder-check"
    assert hook["entry"] == "deckbuilder check --strict"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    matches = [bool(re.search(hook["files"], name)) for name in ("cards/a.md", "a.py")]
    assert matches == [True, False]


def test_hook_command_fails_on_an_incomplete_card(tmp_path: Path) -> None:
    (hook,) = yaml.safe_load(MANIFEST.read_text())
    (tmp_path / ".git").mkdir()
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "a.md").write_text("## Done\nyes\n\n## Unanswered\n")
    (tmp_path / "README.md").write_text("# Not a card file\n")
    program, *arguments = shlex.split(hook["entry"])
    executable = Path(sys.executable).parent / program

    result = subprocess.run(
        [str(executable), *arguments], cwd=tmp_path, capture_output=True, text=True
    )

    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        'cards/a.md:4:1: error: card "Unanswered" has no answer '
        "(write the answer below the heading)"
    )
