"""Golden case files: an optional options header line, then the case's text."""

from __future__ import annotations

from pathlib import Path

OPTIONS_MARK = "---- options:"


def read_case(path: Path) -> tuple[tuple[str, ...], str]:
    """Return the options of the case file at `path` and the text below them.

    A first line `---- options: cloze ----` gives the options `("cloze",)`.
    """
    text = path.read_text(encoding="utf-8")
    if not text.startswith(OPTIONS_MARK):
        return (), text
    header, _, text = text.partition("\n")
    return tuple(header.removeprefix(OPTIONS_MARK).strip(" -").split()), text
