"""The runnable code of a card: which blocks run, in what order, with what options."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deckbuilder.block_options import PYTHON, option_problem, timeout_seconds
from deckbuilder.cloze import remove_markers
from deckbuilder.errors import SourceError
from deckbuilder.jobs import CardJob, Step
from deckbuilder.model import Card, CardFile, CodeBlock, Location
from deckbuilder.regions import include_region, python_lines

OUTPUT = "output"
"""Language of a block holding the printed output of the Python block before it."""
SEEDED = ("numpy", "tensorflow", "keras")
"""Modules seeded before a card that imports them (random is always seeded)."""


@dataclass(frozen=True)
class Settings:
    """Where helper modules live and the defaults blocks run with."""

    root: Path
    """The project folder: cards run in it and messages name paths relative to it."""
    snippets: Path
    """The helper module folder: hidden setup modules, on `sys.path` for cards."""
    timeout: float = 60.0
    seed: int = 0


@dataclass(frozen=True)
class OutputCheck:
    """An output block, and the step whose printed output it must match."""

    run: int
    """Index of the job in `CardPlan.runs`."""
    step: int
    block: CodeBlock


@dataclass(frozen=True)
class CardPlan:
    """What running a card means: jobs, the outputs to check, or a reason to skip."""

    runs: tuple[CardJob, ...]
    """One job, or more when a block marked `fresh` starts over in a new process."""
    checks: tuple[OutputCheck, ...] = ()
    skip_reason: str | None = None
    imports: frozenset[str] = frozenset()
    """Top-level modules the card's code, or a helper module it uses, imports."""


def runs(block: CodeBlock) -> bool:
    """Return whether a block is Python meant to run (possibly marked skipped)."""
    return block.language in PYTHON and "norun" not in block.options


def has_code(card: Card) -> bool:
    """Return whether a card has a Python block to run, and so gets a test."""
    return any(runs(block) for block in card.blocks)


def plan_card(card: Card, file: CardFile, name: str, settings: Settings) -> CardPlan:
    """Turn a card into the jobs that run its code.

    Raises SourceError, located at the block or the metadata, for an unknown option,
    a bad option value, a missing setup module or an include that cannot be resolved.
    """
    modules = [
        _module_step(module, settings, _setup_location(card, file, module))
        for module in card.setup
    ]
    groups = [_Group([*modules, *_preamble_steps(file, settings)])]
    reasons: list[str] = []
    previous: tuple[_Group, int] | None = None
    for block in card.blocks:
        if block.language == OUTPUT and previous is not None:
            previous[0].outputs[previous[1]] = block
        previous = None
        if not runs(block):
            continue
        _check_options(block)
        if "fresh" in block.options:
            names = block.options["fresh"].split()
            groups.append(
                _Group([_module_step(n, settings, block.location) for n in names])
            )
        if "skip" in block.options:
            reasons.append(block.options["skip"] or "skipped in the card")
            continue
        previous = (groups[-1], len(groups[-1].steps))
        groups[-1].steps.append(_block_step(block, settings, card.note_type))
        groups[-1].blocks += 1

    groups = [group for group in groups if group.blocks]
    imports = _imports([step for group in groups for step in group.steps], settings)
    seeded = tuple(module for module in SEEDED if module in imports)
    jobs = tuple(
        CardJob(
            name=name if number == 0 else f"{name} (fresh run {number + 1})",
            file=file.path,
            steps=group.captured(),
            project=settings.root,
            sys_path=(settings.snippets,),
            seed=settings.seed,
            seed_modules=seeded,
        )
        for number, group in enumerate(groups)
    )
    checks = tuple(
        OutputCheck(number, step, block)
        for number, group in enumerate(groups)
        for step, block in group.outputs.items()
    )
    skip = reasons[0] if reasons and not groups else None
    return CardPlan(jobs, checks, skip, imports)


class _Group:
    """Steps that run in one process: hidden setup (unless `fresh`), then blocks."""

    def __init__(self, setup: list[Step]) -> None:
        self.steps = list(setup)
        self.blocks = 0
        self.outputs: dict[int, CodeBlock] = {}

    def captured(self) -> tuple[Step, ...]:
        return tuple(
            dataclasses.replace(step, capture=True) if index in self.outputs else step
            for index, step in enumerate(self.steps)
        )


def relative(path: Path | str, root: Path) -> str:
    """Return `path` relative to `root` when it is inside it, for messages."""
    path = Path(path)
    if path.is_relative_to(root):
        return str(path.relative_to(root))  # a link is named as written
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _module_step(name: str, settings: Settings, location: Location) -> Step:
    path = settings.snippets / f"{name}.py"
    shown = relative(path, settings.root)
    if not name.isidentifier():
        raise SourceError(
            f"setup module name {name!r} is not a Python module name",
            location,
            "name a module of the helper folder, e.g. gan_tf1",
        )
    # Symbolic links are followed, but must end inside the project (or inside the
    # helper folder, wherever it was configured to be), as `include=` paths must.
    real = path.resolve()
    if not any(
        real.is_relative_to(folder.resolve())
        for folder in (settings.root, settings.snippets)
    ):
        raise SourceError(
            f"setup module {name!r} is a link to {real}, outside the project",
            location,
            f"keep helper modules inside the project; make {shown} a file, or a "
            "link to one inside the project",
        )
    try:
        code = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(
            f"setup module {name!r} cannot be read from {shown}",
            location,
            f"create {shown} or fix the name",
        ) from error
    label = f"setup module {name} ({shown})"
    return Step(code, path, 1, label, settings.timeout, location.line, setup=True)


def _preamble_steps(file: CardFile, settings: Settings) -> Iterable[Step]:
    for block in file.preamble_blocks:
        if runs(block) and "setup" in block.options:
            _check_options(block, preamble=True)
            where = f"{relative(block.location.path, settings.root)}:"
            label = f"setup block at {where}{block.location.line}"
            timeout = _timeout(block, settings)
            path, line = block.location.path, block.first_code_line
            origin = block.location.line
            yield Step(block.code, path, line, label, timeout, origin, setup=True)


def _block_step(block: CodeBlock, settings: Settings, note_type: str) -> Step:
    where = f"{relative(block.location.path, settings.root)}:{block.location.line}"
    path, line, code = block.location.path, block.first_code_line, block.code
    if note_type == "cloze":
        # What runs is the code as the back of the card shows it.
        code = remove_markers(code)
    if "include" in block.options:
        region = include_region(block.options["include"], block.location)
        path, line, code = region.path, region.first_line, region.runnable
    return Step(
        code,
        path,
        line,
        f"the block at {where}",
        _timeout(block, settings),
        block.location.line,
        raises=block.options.get("raises") or None,
    )


def _check_options(block: CodeBlock, preamble: bool = False) -> None:
    problem = option_problem(block, preamble)
    if problem is not None:
        raise problem


def _timeout(block: CodeBlock, settings: Settings) -> float:
    if "timeout" not in block.options:
        return settings.timeout
    seconds = timeout_seconds(block.options["timeout"])
    assert seconds is not None  # `_check_options` came first
    return seconds


def _setup_location(card: Card, file: CardFile, module: str) -> Location:
    if module not in file.setup and card.metadata_line is not None:
        return Location(card.location.path, card.metadata_line)
    return Location(file.path, _front_matter_setup_line(file.path))


def _front_matter_setup_line(path: Path) -> int:
    try:
        lines = python_lines(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError):
        return 1
    for number, line in enumerate(lines[1:], start=2):
        if line.rstrip() == "---":
            break
        if line.startswith("setup:"):
            return number
    return 1


def _imports(steps: Iterable[Step], settings: Settings) -> frozenset[str]:
    """Return the modules the steps import, following imports of helper modules."""
    found: set[str] = set()
    sources = [step.code for step in steps]  # setup modules are steps too
    seen: set[str] = set()
    while sources:
        for name in _imported_names(sources.pop()):
            found.add(name)
            helper = settings.snippets / f"{name}.py"
            if name not in seen and helper.is_file():
                seen.add(name)
                sources.append(helper.read_text(encoding="utf-8", errors="replace"))
    return frozenset(found)


def _imported_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()  # running the step reports it, at the right line
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.partition(".")[0])
    return names
