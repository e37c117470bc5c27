"""The one options value that CLI flags fold into and every stage reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Options:
    """How to build: where to write, and how to treat incomplete cards."""

    out: Path = Path("build")
    strict: bool = False
    """Incomplete cards are errors instead of warnings."""
    include_incomplete: bool = False
    """Ship incomplete cards, tagged and marked, instead of leaving them out."""
    bundle: str | None = None
    """Write every deck into one package with this name instead of one per deck."""
    source_date_epoch: int | None = None
    """Fixed note modification time (reproducible builds); by default each package
    takes the newest modification time of its card files."""
