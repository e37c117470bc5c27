"""deckbuilder: keep Anki flashcards as Markdown, compile them, and test their code."""

from __future__ import annotations

from deckbuilder.errors import DeckbuilderError, OutputError, SourceError
from deckbuilder.options import Options
from deckbuilder.pipeline import build, check
from deckbuilder.report import Diagnostic, Report

__version__ = "0.1.0"

__all__ = [
    "DeckbuilderError",
    "Diagnostic",
    "Options",
    "OutputError",
    "Report",
    "SourceError",
    "__version__",
    "build",
    "check",
]
