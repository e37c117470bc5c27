"""The command line's output without Typer: the same bytes typer.echo wrote."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
import typer

from deckbuilder import console
from deckbuilder.model import Location
from deckbuilder.report import Diagnostic, Report, Severity


class _Terminal(io.TextIOWrapper):
    def isatty(self) -> bool:
        return True


def _bytes(encoding: str) -> Callable[[], io.TextIOBase]:
    return lambda: io.TextIOWrapper(io.BytesIO(), encoding=encoding)


STREAMS: dict[str, Callable[[], io.TextIOBase]] = {
    "utf-8 pipe": _bytes("utf-8"),
    "ascii pipe": _bytes("ascii"),
    "latin-1 pipe": _bytes("latin-1"),
    "terminal": lambda: _Terminal(io.BytesIO(), encoding="utf-8"),
    "text only": io.StringIO,
}
MESSAGES = [
    "wrote build/demo.apkg",
    'cards/été.md:3:1: warning: card "Größe?" has no answer',
    "cards/\x1b[31mred\x1b[0m.md:1:1: error: colour codes in a name",
    "a lone \udcff surrogate from an undecodable file name",
    "",
]


def _written(
    write: Callable[..., None],
    stream: io.TextIOBase,
    monkeypatch: pytest.MonkeyPatch,
    **how: bool,
) -> tuple[object, str | None]:
    with monkeypatch.context() as patch:
        patch.setattr("sys.stdout", stream)
        patch.setattr("sys.stderr", stream)
        try:
            write(**how)
            failure = None
        except UnicodeError as error:
            failure = type(error).__name__
    if isinstance(stream, io.TextIOWrapper):
        stream.flush()
        return stream.buffer.getvalue(), failure  # type: ignore[attr-defined]
    return stream.getvalue(), failure  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", STREAMS)
@pytest.mark.parametrize("message", MESSAGES)
@pytest.mark.parametrize("how", [{}, {"err": True}, {"nl": False}])
def test_echo_writes_what_typer_echo_writes(
    kind: str, message: str, how: dict[str, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _written(
        lambda **h: typer.echo(message, **h), STREAMS[kind](), monkeypatch, **how
    )

    written = _written(
        lambda **h: console.echo(message, **h), STREAMS[kind](), monkeypatch, **how
    )

    assert written == expected


def test_summary_line_counts_in_the_singular_and_plural() -> None:
    where = Location(Path("cards/a.md"), 2)
    report = Report(
        diagnostics=[Diagnostic(where, Severity.WARNING, "card has no answer")],
        decks=1,
        cards=2,
        incomplete=1,
    )

    line = console.summary_line(report, "built", 1.5)

    assert line == "built 1 deck, 2 cards, 1 incomplete, 1 warning, 0 errors in 1.50s"
