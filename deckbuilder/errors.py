"""The one exception family core code raises for bad input."""

from __future__ import annotations

from deckbuilder.model import Location


class DeckbuilderError(Exception):
    """Bad input or a failed step, with where it happened and what to do about it."""

    def __init__(
        self, message: str, location: Location | None = None, remedy: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.remedy = remedy

    def __str__(self) -> str:
        place = f"{self.location}: " if self.location else ""
        remedy = f" ({self.remedy})" if self.remedy else ""
        return f"{place}error: {self.message}{remedy}"


class SourceError(DeckbuilderError):
    """A card source cannot be read or parsed."""


class OutputError(DeckbuilderError):
    """An output file cannot be written."""


class ConfigError(DeckbuilderError):
    """The project's `[tool.deckbuilder]` settings cannot be read or are wrong."""


class ExportFormatError(DeckbuilderError):
    """An export from another tool cannot be read."""
