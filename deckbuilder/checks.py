"""Checks across cards: ids, repeated questions, deck spellings, incomplete cards."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from deckbuilder.model import Location
from deckbuilder.options import Options
from deckbuilder.report import Report


class Checked(Protocol):
    """What the checks read of a card: a `Card`, or a `CardSummary` of one."""

    @property
    def location(self) -> Location: ...
    @property
    def deck(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def explicit_id(self) -> str | None: ...
    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def has_question(self) -> bool: ...
    @property
    def has_answer(self) -> bool: ...
    @property
    def is_complete(self) -> bool: ...
    @property
    def deck_line(self) -> int: ...
    @property
    def tag_lines(self) -> tuple[int, ...]: ...


C = TypeVar("C", bound=Checked)


def ships(card: Checked, options: Options, report: Report) -> bool:
    """Tell whether `card` goes into a package; report it if it is incomplete."""
    if card.is_complete:
        return True
    report.incomplete += 1
    _report_incomplete(card, options, report)
    return options.include_incomplete


def check_across(shipped: Sequence[Checked], report: Report) -> None:
    """Report what is wrong between the cards to ship: ids, questions, spellings."""
    # Only shipped cards become notes, so only their ids (GUIDs) must be unique: two
    # unanswered copies of one question are a reminder, not a clash.
    check_ids(shipped, report)
    _check_questions(shipped, report)
    _check_deck_spelling(shipped, report)
    _check_tag_spelling(shipped, report)


def _report_incomplete(card: Checked, options: Options, report: Report) -> None:
    if not card.has_question:
        missing = "no question and no answer" if not card.has_answer else "no question"
        message = f"card has {missing}"
        remedy = "write the question after `##`"
    else:
        message = f'card "{shorten(card.title)}" has no answer'
        remedy = "write the answer below the heading"
    if options.strict:
        report.error(card.location, message, remedy)
    else:
        report.warn(card.location, message, remedy)


def shorten(text: str, width: int = 60) -> str:
    """Return `text` cut to `width` characters for a message."""
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def check_ids(cards: Sequence[Checked], report: Report) -> None:
    """Report every card whose id another card already has."""
    seen: dict[str, Checked] = {}
    for card in cards:
        first = seen.setdefault(card.id, card)
        if first is card:
            continue
        if card.explicit_id is not None:
            report.error(
                card.location,
                f"duplicate card id {card.id!r}",
                f"{first.location} uses it already; give each card its own id",
            )
        elif (guid := getattr(card, "guid", None)) is not None:
            # A card kept from Anki: its id comes from its note's GUID. (A summary
            # carries no GUID, but a build with this error keeps no summaries.)
            report.error(
                card.location,
                f"card has the guid {guid!r} of another card",
                f"{first.location} has it too: one Anki note cannot come from two "
                "cards; delete one (a file left from an earlier import?), or its guid "
                "to make it a new note",
            )
        elif not card.has_question:
            # Shipped as incomplete placeholders, two cards without a question
            # would be one note in Anki.
            report.error(
                card.location,
                f'a second card of deck "{card.deck}" has no question',
                f"{first.location} has none either, and their notes would be one; "
                "write the questions, or give each an id, e.g. `<!-- id: todo-2 -->`",
            )
        else:
            report.error(
                card.location,
                f'the question "{shorten(card.title)}" is already a card of deck '
                f'"{card.deck}"',
                f"{first.location} asks it too; reword one or give each an explicit id",
            )


def _check_questions(cards: Sequence[Checked], report: Report) -> None:
    # Same question, different explicit ids: legal, but likely a copy left behind.
    seen: dict[tuple[str, str], Checked] = {}
    for card in cards:
        if card.explicit_id is None or not card.has_question:
            continue
        key = (card.deck, " ".join(card.question.split()))
        first = seen.setdefault(key, card)
        if first is not card:
            report.warn(
                card.location,
                f'deck "{card.deck}" already has the question "{shorten(card.title)}"',
                f"see {first.location}; merge the two cards or reword one",
            )


def _check_deck_spelling(cards: Sequence[Checked], report: Report) -> None:
    # Anki compares deck names without case: `ML::GANs` and `ml::gans` are one deck
    # there, which would silently merge two decks of the sources.
    seen: dict[str, Checked] = {}
    reported: set[str] = set()
    for card in cards:
        first = seen.setdefault(card.deck.casefold(), card)
        if first.deck != card.deck and card.deck not in reported:
            reported.add(card.deck)
            report.error(
                _deck_place(card),
                f'deck "{card.deck}" differs from deck "{first.deck}" only in case',
                f"Anki treats them as one deck; spell it as at {_deck_place(first)}",
            )


def _check_tag_spelling(cards: Sequence[Checked], report: Report) -> None:
    # Anki compares tags without case, parents too: once `ml::gans` is in the
    # collection, `ML::GANs::tf1` is stored as `ml::gans::tf1`. Tags that spell one
    # tag or parent in two ways would not come out as written.
    seen: dict[str, tuple[str, Location]] = {}
    reported: set[str] = set()
    for card in cards:
        for index, tag in enumerate(card.tags):
            place = _tag_place(card, index)
            parts = tag.split("::")
            for end in range(1, len(parts) + 1):
                prefix = "::".join(parts[:end])
                spelled, first = seen.setdefault(prefix.casefold(), (prefix, place))
                if spelled != prefix and tag not in reported:
                    reported.add(tag)
                    report.error(
                        place,
                        f'tag "{tag}" spells "{spelled}" as "{prefix}"',
                        f"Anki compares tags without case and keeps the spelling "
                        f"at {first}; spell them alike",
                    )
                    break


def _deck_place(card: Checked) -> Location:
    """Return where the deck of `card` is written: its front matter's `deck` line,
    or the card itself when its path names the deck."""
    if card.deck_line:
        return Location(card.location.path, card.deck_line)
    return card.location


def _tag_place(card: Checked, index: int) -> Location:
    """Return where the tag at `index` of `card` is written (front matter or the
    card's metadata), or the card itself if that is not known."""
    lines = card.tag_lines
    if index < len(lines) and lines[index] > 1:
        return Location(card.location.path, lines[index])
    return card.location
