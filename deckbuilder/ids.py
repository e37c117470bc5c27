"""Write each card's derived id into its source, so question edits keep the note."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from deckbuilder.errors import SourceError
from deckbuilder.files import replace_file
from deckbuilder.model import Card
from deckbuilder.options import Options
from deckbuilder.parse import decode, parse_text
from deckbuilder.report import Report
from deckbuilder.sources import default_deck, find_sources, read_input
from deckbuilder.textlines import TextLines


def write_ids(
    paths: Sequence[Path], report: Report, options: Options | None = None
) -> dict[Path, int]:
    """Give every card under `paths` an explicit id equal to its current one.

    Returns how many ids were written per changed file. A file with errors is left
    untouched, and so is every file when two cards share an id.
    """
    folders = (options or Options()).deck_folders
    plans: dict[Path, tuple[bytes, list[Card]]] = {}
    owners: dict[str, Card] = {}
    for path in find_sources(paths):
        data = read_input(path, SourceError, "card file")
        try:
            parsed = parse_text(
                decode(data, path), path, default_deck=default_deck(path, folders)
            )
        except SourceError as error:
            assert error.location is not None
            report.error(error.location, error.message, error.remedy)
            continue
        report.diagnostics.extend(parsed.diagnostics)
        if any(d.location.path == path for d in report.errors):
            continue
        for card in parsed.file.cards:
            if not card.has_question:
                continue
            first = owners.setdefault(card.id, card)
            if first is not card:
                report.error(
                    card.location,
                    f"card id {card.id!r} is also the id of {first.location}",
                    "reword one of the questions or give it an explicit id, then "
                    "run `deckbuilder ids` again",
                )
        # A card without a question has no id worth keeping yet.
        missing = [
            card
            for card in parsed.file.cards
            if card.explicit_id is None and card.has_question
        ]
        if missing:
            plans[path] = (data, missing)
    if report.errors:
        return {}
    for path, (data, cards) in plans.items():
        _rewrite(path, data, cards)
    return {path: len(cards) for path, (_, cards) in plans.items()}


def _rewrite(path: Path, data: bytes, cards: list[Card]) -> None:
    # Parsed already: valid UTF-8.
    bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
    text = TextLines(data.decode("utf-8").removeprefix(bom))
    lines = text.lines
    # Bottom to top, so each insertion leaves the earlier cards' line numbers valid.
    for card in sorted(cards, key=lambda card: card.location.line, reverse=True):
        if card.metadata_line is not None:
            index = card.metadata_line - 1
            lines[index] = lines[index].replace("<!--", f"<!-- id: {card.id};", 1)
        else:
            text.insert(card.location.line, f"<!-- id: {card.id} -->")
    replace_file(path, (bom + str(text)).encode())
