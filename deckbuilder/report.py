"""Diagnostics collected during a build, and the summary that decides the exit code."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from deckbuilder.model import Location


class Severity(enum.Enum):
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Diagnostic:
    """A located problem: compiler-style, with the remedy in parentheses."""

    location: Location
    severity: Severity
    message: str
    remedy: str = ""

    def __str__(self) -> str:
        remedy = f" ({self.remedy})" if self.remedy else ""
        return f"{self.location}: {self.severity.value}: {self.message}{remedy}"

    def as_dict(self) -> dict[str, object]:
        """Return the problem as plain data, for JSON."""
        return {
            "path": self.location.path.as_posix(),
            "line": self.location.line,
            "column": self.location.column,
            "severity": self.severity.value,
            "message": self.message,
            "remedy": self.remedy,
        }


@dataclass
class Report:
    """What a build or check found and wrote."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    decks: int = 0
    cards: int = 0
    incomplete: int = 0
    packages: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    """Packages of earlier builds for decks that have none now, removed."""

    def warn(self, location: Location, message: str, remedy: str = "") -> None:
        self.diagnostics.append(Diagnostic(location, Severity.WARNING, message, remedy))

    def error(self, location: Location, message: str, remedy: str = "") -> None:
        self.diagnostics.append(Diagnostic(location, Severity.ERROR, message, remedy))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def as_dict(self) -> dict[str, object]:
        """Return every problem and the summary as plain data, for JSON."""
        return {
            "problems": [diagnostic.as_dict() for diagnostic in self.diagnostics],
            "summary": self.summary(),
        }

    def summary(self) -> dict[str, object]:
        """Return the counts and the packages written, as plain data."""
        return {
            "decks": self.decks,
            "cards": self.cards,
            "incomplete": self.incomplete,
            "warnings": len(self.warnings),
            "errors": len(self.errors),
            "packages": list(self.packages),
            "removed": list(self.removed),
        }
