"""`deckbuilder watch`: which decks a set of changed files rebuilds, and the loop."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import watchfiles
from typer.testing import CliRunner

from deckbuilder.cli import app
from deckbuilder.options import Options
from deckbuilder.report import Report
from deckbuilder.watch import DeckWatch

MODULE = "# region r\ndef helper() -> int:\n    return 1\n# endregion\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "cards").mkdir()
    (tmp_path / "code_snippets").mkdir()
    _deck(tmp_path / "cards" / "a.md", "A", "One")
    _deck(tmp_path / "cards" / "a2.md", "A", "Two")
    (tmp_path / "cards" / "b.md").write_text(
        "---\ndeck: B\n---\n## Three\n\n"
        "```python include=../code_snippets/h.py#r\n```\n"
    )
    (tmp_path / "code_snippets" / "h.py").write_text(MODULE)
    (tmp_path / "code_snippets" / "other.py").write_text("X = 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return tmp_path


class Builds:
    """A stand-in for pipeline.build that records the card files of each call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, paths: Sequence[Path], options: Options) -> Report:
        self.calls.append([path.as_posix() for path in paths])
        return Report()


def watching(builds: Builds, options: Options | None = None) -> DeckWatch:
    session = DeckWatch([Path("cards")], options or Options(), builds)
    session.start()
    return session


def test_start_builds_everything(project: Path) -> None:
    builds = Builds()

    watching(builds)

    assert builds.calls == [["cards"]]


def test_an_edited_card_file_rebuilds_its_whole_deck(project: Path) -> None:
    builds = Builds()
    session = watching(builds)
    _deck(project / "cards" / "a.md", "A", "One, edited")

    report = session.changed([project / "cards" / "a.md"])

    assert report is not None
    assert builds.calls[1:] == [["cards/a.md", "cards/a2.md"]]


def test_a_changed_module_rebuilds_the_decks_that_include_it(project: Path) -> None:
    builds = Builds()
    session = watching(builds)

    session.changed([project / "code_snippets" / "h.py"])

    assert builds.calls[1:] == [["cards/b.md"]]


def test_a_changed_note_type_file_rebuilds_the_decks_that_use_it(
    project: Path,
) -> None:
    (project / "cards" / "vocab.yaml").write_text(
        "id: 1700000000123\nname: Vocab\nfields: [Word, Meaning]\n"
        "templates: [{name: Card 1, front: '{{Word}}', back: '{{Meaning}}'}]\n"
    )
    (project / "cards" / "c.md").write_text(
        "---\ndeck: C\nnote-type: vocab.yaml\n---\n## gato\n\ncat\n"
    )
    builds = Builds()
    session = watching(builds)

    session.changed([project / "cards" / "vocab.yaml"])

    assert builds.calls[1:] == [["cards/c.md"]]


@pytest.mark.parametrize(
    "name", ["code_snippets/other.py", "README.md", "cards/.a.md.swp", "notes.txt"]
)
def test_files_no_deck_depends_on_rebuild_nothing(project: Path, name: str) -> None:
    builds = Builds()
    session = watching(builds)

    assert session.changed([project / name]) is None
    assert builds.calls[1:] == []


def test_a_card_file_moved_to_another_deck_rebuilds_both(project: Path) -> None:
    builds = Builds()
    session = watching(builds)
    _deck(project / "cards" / "a.md", "B", "One")

    session.changed([project / "cards" / "a.md"])
    session.changed([project / "cards" / "a2.md"])

    assert builds.calls[1:] == [
        ["cards/a.md", "cards/a2.md", "cards/b.md"],
        ["cards/a2.md"],
    ]


def test_new_and_deleted_card_files(project: Path) -> None:
    builds = Builds()
    session = watching(builds)
    _deck(project / "cards" / "c.md", "C", "Four")
    (project / "cards" / "a2.md").unlink()

    session.changed([project / "cards" / "c.md", project / "cards" / "a2.md"])

    assert builds.calls[1:] == [["cards/a.md", "cards/c.md"]]


def test_a_bundle_is_rebuilt_whole(project: Path) -> None:
    builds = Builds()
    session = watching(builds, Options(bundle="all"))

    session.changed([project / "cards" / "a.md"])

    assert builds.calls == [["cards"], ["cards"]]


def test_a_broken_file_is_rebuilt_and_reports_its_error(project: Path) -> None:
    session = DeckWatch([Path("cards")], Options())
    session.start()
    (project / "cards" / "a.md").write_text("## Q\n\n```python\nx = 1\n")

    report = session.changed([project / "cards" / "a.md"])

    assert report is not None
    assert [str(d) for d in report.errors] == [
        "cards/a.md:3:1: error: code block is never closed "
        "(close it with a line holding ```)"
    ]
    assert report.packages == []


def test_watch_command_prints_each_rebuild(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def changes(
        *paths: Path, **_: object
    ) -> Iterator[set[tuple[watchfiles.Change, str]]]:
        assert [str(path) for path in paths] == ["cards", "code_snippets"]
        (project / "cards" / "a2.md").write_text("---\ndeck: A\n---\n## Open\n")
        yield {(watchfiles.Change.modified, str(project / "cards" / "a2.md"))}

    monkeypatch.setattr(watchfiles, "watch", changes)

    result = CliRunner().invoke(app, ["watch"])

    assert result.exit_code == 0
    assert result.stdout == (
        "wrote build/a.apkg\nwrote build/b.apkg\nwrote build/a.apkg\n"
    )
    lines = result.stderr.splitlines()
    assert lines[0].startswith("built 2 decks, 3 cards, 0 incomplete, 0 warnings,")
    assert lines[1] == "watching cards, code_snippets (press Ctrl-C to stop)"
    assert lines[2] == (
        'cards/a2.md:4:1: warning: card "Open" has no answer '
        "(write the answer below the heading)"
    )
    assert lines[3].startswith("rebuilt 1 deck, 1 card, 1 incomplete, 1 warning,")


def _deck(path: Path, deck: str, question: str) -> None:
    path.write_text(f"---\ndeck: {deck}\n---\n## {question}\nanswer\n")
