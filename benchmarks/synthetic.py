"""Generate synthetic decks, the same cards in deckbuilder's syntax and each peer's.

The cards are a pure function of their number: the same count always gives the same
text, so every run of the build benchmark measures the same work. A third of the
answers hold a 10-line Python block, a quarter inline math, an eighth display math,
an eighth a table and a sixth a list; every answer has prose with emphasis, inline
code and a link. Not a test: `builds.py` calls it, or run it by hand:

    python benchmarks/synthetic.py OUT --cards 2000 --files 20 [--syntax deckbuilder]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SEED = 20_240_601
WORDS = (
    "gradient loss batch layer tensor weight bias kernel stride padding shape axis "
    "epoch sample noise label vector matrix scalar norm variance mean softmax logit "
    "encoder decoder token query key value attention residual dropout optimiser "
    "momentum schedule warmup checkpoint metric recall precision threshold margin"
).split()


@dataclass(frozen=True)
class Card:
    """One synthetic card, independent of any tool's syntax."""

    number: int
    question: str
    paragraphs: tuple[str, ...]
    """Answer prose; `{math}` marks where inline math goes."""
    inline_math: str | None
    display_math: str | None
    code: str | None
    table: tuple[tuple[str, ...], ...] | None
    items: tuple[str, ...]


def cards(count: int) -> list[Card]:
    """Return `count` cards; card n is the same whatever the count."""
    return [_card(number) for number in range(count)]


def _card(number: int) -> Card:
    rng = random.Random(SEED * 100_003 + number)
    question = (
        f"What does `step_{number}` do with the {rng.choice(WORDS)} "
        f"and the {rng.choice(WORDS)} of card {number}?"
    )
    paragraphs = tuple(_paragraph(rng) for _ in range(rng.randint(1, 3)))
    if number % 4 == 1:
        paragraphs = (
            paragraphs[0] + " It computes {math} on each row.",
            *paragraphs[1:],
        )
    return Card(
        number=number,
        question=question,
        paragraphs=paragraphs,
        inline_math=(
            f"\\sigma(x_{{{number % 7}}}) = \\frac{{1}}{{1 + e^{{-x}}}}"
            if number % 4 == 1
            else None
        ),
        display_math=(
            f"\\mathcal{{L}}_{{{number}}} = -\\sum_{{i=1}}^{{n}} y_i \\log \\hat{{y}}_i"
            if number % 8 == 2
            else None
        ),
        code=_code(rng, number) if number % 3 == 0 else None,
        table=_table(rng) if number % 8 == 5 else None,
        items=(
            tuple(_sentence(rng, 4, 9) for _ in range(3)) if number % 6 == 4 else ()
        ),
    )


def _sentence(rng: random.Random, shortest: int, longest: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(shortest, longest))]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    sentences = [_sentence(rng, 8, 20) for _ in range(rng.randint(2, 4))]
    word, other = rng.choice(WORDS), rng.choice(WORDS)
    sentences.insert(
        1, f"Keep the **{word}** apart from `{other}_{rng.randint(0, 99)}`."
    )
    sentences.append(f"See [the {word} notes](https://example.org/{word}/{other}).")
    return " ".join(sentences)


def _code(rng: random.Random, number: int) -> str:
    factor, threshold, keep = rng.randint(2, 9), rng.randint(10, 99), rng.randint(3, 8)
    name = rng.choice(WORDS)
    return (
        f"def transform_{number}(values, factor={factor}):\n"
        f'    """Scale each {name} and keep the order stable."""\n'
        "    result = []\n"
        "    for index, value in enumerate(values):\n"
        "        scaled = value * factor + index\n"
        f"        if scaled > {threshold}:\n"
        "            result.append(scaled)\n"
        "        else:\n"
        f"            result.append(-scaled)  # {name} below the threshold\n"
        f"    return sorted(result)[:{keep}]\n"
    )


def _table(rng: random.Random) -> tuple[tuple[str, ...], ...]:
    header = ("name", "shape", "mean")
    rows = tuple(
        (
            f"`{rng.choice(WORDS)}`",
            f"({rng.randint(1, 64)}, {rng.randint(1, 64)})",
            f"{rng.random():.3f}",
        )
        for _ in range(3)
    )
    return (header, *rows)


# Writers: one per syntax -----------------------------------------------------------


Writer = Callable[[list[Card], Path, int], list[Path]]
"""Write cards into a folder as `files` files; return the files written."""


def _chunks(deck: list[Card], files: int) -> list[list[Card]]:
    per_file = -(-len(deck) // files)
    return [deck[start : start + per_file] for start in range(0, len(deck), per_file)]


def _deck_name(index: int) -> str:
    return f"Synthetic::Topic {index + 1:03d}"


def _markdown_answer(card: Card, inline: tuple[str, str], display: tuple[str, str]):
    """Return the answer as Markdown lines, math between the given delimiters."""
    lines: list[str] = []
    for paragraph in card.paragraphs:
        if card.inline_math is not None:
            paragraph = paragraph.replace(
                "{math}", f"{inline[0]}{card.inline_math}{inline[1]}"
            )
        lines += [paragraph, ""]
    if card.items:
        lines += [*(f"- {item}" for item in card.items), ""]
    if card.display_math is not None:
        lines += [f"{display[0]}{card.display_math}{display[1]}", ""]
    if card.code is not None:
        lines += ["```python", *card.code.splitlines(), "```", ""]
    if card.table is not None:
        header, *rows = card.table
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + " --- |" * len(header))
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    return lines


def write_deckbuilder(deck: list[Card], folder: Path, files: int) -> list[Path]:
    """Write deckbuilder card files: front matter, `## question`, the answer."""
    written = []
    (folder / "cards").mkdir(parents=True, exist_ok=True)
    for index, chunk in enumerate(_chunks(deck, files)):
        lines = ["---", f"deck: {_deck_name(index)}", "tags: [synthetic]", "---", ""]
        for card in chunk:
            lines += [f"## {card.question}", ""]
            lines += _markdown_answer(card, ("$", "$"), ("$$", "$$"))
        path = folder / "cards" / f"topic-{index + 1:03d}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        written.append(path)
    return written


def write_ankdown(deck: list[Card], folder: Path, files: int) -> list[Path]:
    """Write ankdown files: cards split by `---`, front and back by `%`.

    ankdown names the deck after the folder, so each file gets a folder. Its math is
    `\\(...\\)` and `\\[...\\]`.
    """
    written = []
    for index, chunk in enumerate(_chunks(deck, files)):
        lines: list[str] = []
        for number, card in enumerate(chunk):
            if number:
                lines += ["---", ""]
            lines += [card.question, "", "%", ""]
            lines += _markdown_answer(card, ("\\(", "\\)"), ("\\[", "\\]"))
            lines += ["%", "", "synthetic", ""]
        path = folder / f"topic-{index + 1:03d}" / "cards.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines), encoding="utf-8")
        written.append(path)
    return written


def write_ankcompiler(deck: list[Card], folder: Path, files: int) -> list[Path]:
    """Write ankcompiler files: `---`-delimited blocks, `question ::: answer`, a uid.

    Every card names its type: without `[^type]` ankcompiler tells a plain card from
    a cloze with a regular expression that backtracks for a time that grows with the
    square of the card's length (100 s for the 2,000-card deck here).
    """
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    for index, chunk in enumerate(_chunks(deck, files)):
        lines = ["---", f"deck: {_deck_name(index)}", "tags: [synthetic]", "---", ""]
        for card in chunk:
            lines += ["---", "", card.question, ":::"]
            lines += _markdown_answer(card, ("$", "$"), ("$$", "$$"))
            lines += ["---", f"[^uid]: {_uid(card.number)}", "[^type]: qa", ""]
        path = folder / f"topic-{index + 1:03d}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        written.append(path)
    return written


def _uid(number: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    digits = []
    for _ in range(10):
        number, digit = divmod(number, len(alphabet))
        digits.append(alphabet[digit])
    return "".join(reversed(digits))


def write_markdown_anki_decks(deck: list[Card], folder: Path, files: int) -> list[Path]:
    """Write markdown-anki-decks files: `# deck` title, then `## question` cards.

    It has no math support; math is written as deckbuilder writes it.
    """
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    for index, chunk in enumerate(_chunks(deck, files)):
        lines = [f"# {_deck_name(index)}", ""]
        for card in chunk:
            lines += [f"## {card.question}", ""]
            lines += _markdown_answer(card, ("$", "$"), ("$$", "$$"))
        path = folder / f"topic-{index + 1:03d}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        written.append(path)
    return written


WRITERS: dict[str, Writer] = {
    "deckbuilder": write_deckbuilder,
    "ankdown": write_ankdown,
    "ankcompiler": write_ankcompiler,
    "markdown-anki-decks": write_markdown_anki_decks,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write the deck into")
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--syntax", choices=sorted(WRITERS), default="deckbuilder")
    args = parser.parse_args()
    written = WRITERS[args.syntax](cards(args.cards), args.out, args.files)
    print(f"wrote {len(written)} files under {args.out}")


if __name__ == "__main__":
    main()
