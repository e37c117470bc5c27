"""The pytest plugin: each card with Python code in the card folders is a test item."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deckbuilder import outputs
from deckbuilder.errors import DeckbuilderError, SourceError
from deckbuilder.jobs import CardJob, CardResult, Failure, Frame, SnippetRunner
from deckbuilder.model import Card, Location
from deckbuilder.parse import read_card_file
from deckbuilder.report import Diagnostic, Severity
from deckbuilder.runner import ForkServerRunner, SubprocessRunner
from deckbuilder.snippets import CardPlan, OutputCheck, Settings, has_code, plan_card

_RUNNERS = ("forkserver", "subprocess")
DEFAULT_MEMORY = "4G"
"""Each card's memory limit unless set. The GAN deck's TensorFlow cards pass with
500M on a 2-CPU machine, 300M of it TensorFlow itself; TensorFlow starts more threads,
8M of stack each, on larger machines."""
_SIZE = re.compile(
    r"^(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[bkmgtBKMGT])?i?[bB]?$"
)
_UPDATED = "deckbuilder_updated_output"
_SLUG_LENGTH = 60
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
"""Terminal colour codes, which Keras puts in its error messages."""


@dataclass(frozen=True)
class PluginOptions:
    """Settings from `--deckbuilder-*` options, else from `deckbuilder_*` ini keys."""

    cards: tuple[Path, ...]
    """Folders whose `*.md` files are collected."""
    snippets: Path
    timeout: float
    seed: int
    update_output: bool
    preload: tuple[str, ...]
    """Modules the helper process imports once, if some collected card imports them."""
    runner: str
    memory: int
    """Bytes of memory each card's process may hold; 0 for no limit."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("deckbuilder", "run the code in deckbuilder card files")
    _add(
        parser, group, "cards", "linelist", ["cards"],
        "folder of card files to collect, relative to the rootdir (repeatable)",
        action="append", metavar="DIR",
    )  # fmt: skip
    _add(
        parser, group, "snippets", "string", "code_snippets",
        "folder of helper modules for hidden setup, relative to the rootdir",
        metavar="DIR",
    )  # fmt: skip
    _add(
        parser, group, "timeout", "string", "60",
        "seconds each code block may run before it is stopped (default 60)",
        metavar="SECONDS",
    )  # fmt: skip
    _add(
        parser, group, "seed", "string", "0",
        "seed for random, NumPy and TensorFlow in every card (default 0)",
        metavar="N",
    )  # fmt: skip
    _add(
        parser, group, "update-output", "bool", False,
        "rewrite output blocks in the card files from what the code prints",
        action="store_true",
    )  # fmt: skip
    _add(
        parser, group, "preload", "args", ["numpy", "tensorflow", "keras"],
        "modules to import once per worker when cards use them (space-separated)",
        metavar="MODULES",
    )  # fmt: skip
    _add(
        parser, group, "memory", "string", DEFAULT_MEMORY,
        "memory each card's process may hold, e.g. 512M or 8G; 0 for no limit "
        f"(default {DEFAULT_MEMORY})",
        metavar="SIZE",
    )  # fmt: skip
    _add(
        parser, group, "runner", "string", _RUNNERS[0],
        "forkserver (a child per card, forked from one warm process) or subprocess "
        "(a new interpreter per card)",
        choices=_RUNNERS,
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    state = _State(_read_options(config), config.rootpath.resolve())
    config.stash[_STATE] = state
    config.pluginmanager.register(state, "deckbuilder-state")
    config.add_cleanup(state.close)
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_XdistHeader(config), "deckbuilder-xdist-header")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CardFile | None:
    if file_path.suffix == ".md" and _state(parent.config).collects(file_path):
        return CardFile.from_parent(parent, path=file_path)
    return None


def pytest_report_collectionfinish(
    config: pytest.Config, items: Sequence[pytest.Item]
) -> str | None:
    cards = [item for item in items if isinstance(item, CardItem)]
    if not cards:
        return None
    return _header(len({card.path for card in cards}), len(cards))


class CardFile(pytest.File):
    """A Markdown card file; its cards with Python code are its items."""

    def collect(self) -> Iterable[CardItem]:
        state = _state(self.config)
        try:
            parsed = read_card_file(self.path)
        except SourceError as error:
            raise self.CollectError(state.describe(error)) from error
        errors = [d for d in parsed.diagnostics if d.severity is Severity.ERROR]
        if errors:
            raise self.CollectError("\n".join(state.describe(d) for d in errors))

        taken: set[str] = set()
        for card in parsed.file.cards:
            if not has_code(card):
                continue
            name = _unique(slug(card.title), taken)
            try:
                plan: CardPlan | SourceError = plan_card(
                    card, parsed.file, f"{self.nodeid}::{name}", state.settings
                )
            except SourceError as error:
                plan = error
            item = CardItem.from_parent(self, name=name, card=card, plan=plan)
            if isinstance(plan, CardPlan) and plan.skip_reason is not None:
                item.add_marker(pytest.mark.skip(reason=plan.skip_reason))
            yield item


class CardItem(pytest.Item):
    """One card: its Python blocks run in order in a fresh process."""

    def __init__(
        self, *, card: Card, plan: CardPlan | SourceError, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.card = card
        self.plan = plan

    @property
    def imports(self) -> frozenset[str]:
        return self.plan.imports if isinstance(self.plan, CardPlan) else frozenset()

    def runtest(self) -> None:
        state = _state(self.config)
        if isinstance(self.plan, SourceError):
            raise CardFailure(state.describe(self.plan))
        problems: list[str] = []
        for number, job in enumerate(self.plan.runs):
            result = state.runner().run(job)
            self._add_sections(result, number)
            checks = [check for check in self.plan.checks if check.run == number]
            problems += self._compare(checks, result)
            if result.failure is not None:
                problems.insert(0, self._describe(job, result.failure))
                break
        if problems:
            raise CardFailure("\n\n".join(problems))

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> Any:
        if isinstance(excinfo.value, CardFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.card.location.line - 1, f"card: {self.card.title}"

    def _compare(self, checks: Iterable[OutputCheck], result: CardResult) -> list[str]:
        state = _state(self.config)
        problems = []
        for check in checks:
            if check.step not in result.outputs:
                continue  # the step did not finish; its failure is the story
            printed = result.outputs[check.step]
            if outputs.matches(check.block, printed):
                continue
            place = state.place(check.block.location)
            if not state.options.update_output:
                diff = outputs.difference(check.block, printed, place)
                problems.append(
                    f'{place}: card "{self.card.title}": output differs from what '
                    "the code printed (pytest --deckbuilder-update-output rewrites "
                    f"it)\n{diff}".rstrip()
                )
                continue
            try:
                outputs.rewrite(check.block, printed)
            except DeckbuilderError as error:
                problems.append(state.describe(error))
            else:
                self.user_properties.append((_UPDATED, place))
        return problems

    def _describe(self, job: CardJob, failure: Failure) -> str:
        state = _state(self.config)
        step = job.steps[failure.step] if failure.step is not None else None
        line = _failing_line(self.card, job, failure)
        where = f'{state.place(Location(self.path, line))}: card "{self.card.title}"'
        if failure.kind == "exception":
            if step is not None and (step.setup or step.path != self.path):
                where += f", in {step.label}"
            message = _ANSI.sub("", state.shorten_paths(failure.message))
            if "MemoryError" in failure.message:
                message += state.memory_hint()
            return "\n".join([where, *state.traceback(failure.frames), message])
        if failure.kind == "crash" and step is not None:
            message = f"{failure.message} while running {step.label}"
            if "SIGABRT" in failure.message or "SIGSEGV" in failure.message:
                message += state.memory_hint("if it ran out of memory: ")
        elif failure.kind == "internal":
            message = f"deckbuilder could not run the card: {failure.message}"
        else:
            message = failure.message
        stack = state.traceback(failure.frames, "It was running:")
        return "\n".join([f"{where}: {message}", *(stack if failure.frames else [])])

    def _add_sections(self, result: CardResult, number: int) -> None:
        suffix = f" (fresh run {number + 1})" if number else ""
        for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            if text:
                self.add_report_section("call", name + suffix, text)


class CardFailure(Exception):
    """A card's code failed; the message is the whole report."""


def slug(text: str) -> str:
    """Return a node-id friendly name for a card question."""
    words = re.findall(r"[^\W_]+", text.lower())
    name = "-".join(words)
    if len(name) > _SLUG_LENGTH:
        name = name[: _SLUG_LENGTH + 1].rsplit("-", 1)[0]
    return name or "card"


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}-{number}"
    taken.add(candidate)
    return candidate


def _failing_line(card: Card, job: CardJob, failure: Failure) -> int:
    """Return the card file's line to blame: the innermost frame in it, else the
    line the failing step comes from, else the card's heading."""
    path = card.location.path
    if failure.where is not None and Path(failure.where[0]) == path:
        return failure.where[1]
    for frame in reversed(failure.frames):
        if Path(frame.path) == path:
            return frame.line
    if failure.step is not None:
        return job.steps[failure.step].origin or card.location.line
    return card.location.line


class _State:
    """The session's options and runner; also the plugin object for session hooks."""

    def __init__(self, options: PluginOptions, rootpath: Path) -> None:
        self.options = options
        self.rootpath = rootpath
        self.preload: tuple[str, ...] = ()
        self.updated: list[str] = []
        self._runner: SnippetRunner | None = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        imports: set[str] = set()
        for item in session.items:
            if isinstance(item, CardItem):
                imports |= item.imports
        self.preload = tuple(name for name in self.options.preload if name in imports)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.updated += [str(v) for k, v in report.user_properties if k == _UPDATED]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.updated:
            terminalreporter.write_sep("=", "deckbuilder: updated output blocks")
            for place in sorted(set(self.updated)):
                terminalreporter.write_line(place)

    @property
    def settings(self) -> Settings:
        return Settings(
            root=self.rootpath,
            snippets=self.options.snippets,
            timeout=self.options.timeout,
            seed=self.options.seed,
        )

    def collects(self, path: Path) -> bool:
        path = path.resolve()
        return any(path.is_relative_to(folder) for folder in self.options.cards)

    def runner(self) -> SnippetRunner:
        if self._runner is None:
            memory = self.options.memory
            if self.options.runner == "subprocess" or not hasattr(os, "fork"):
                self._runner = SubprocessRunner(memory=memory)
            else:
                self._runner = ForkServerRunner(self.preload, memory=memory)
        return self._runner

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def memory_hint(self, prefix: str = "") -> str:
        """Return the note on the memory limit that failures of allocation get."""
        if not self.options.memory:
            return ""
        size = format_size(self.options.memory)
        return (
            f"\n({prefix}each card may hold {size} of memory; "
            "--deckbuilder-memory raises the limit)"
        )

    def relative(self, path: Path | str) -> str:
        for candidate in (Path(path), Path(path).resolve()):
            if candidate.is_relative_to(self.rootpath):
                return str(candidate.relative_to(self.rootpath))
        return str(path)

    def shorten_paths(self, text: str) -> str:
        """Return `text` with paths inside the rootdir made relative to it."""
        return text.replace(f"{self.rootpath}{os.sep}", "")

    def place(self, location: Location) -> str:
        return f"{self.relative(location.path)}:{location.line}"

    def describe(self, problem: DeckbuilderError | Diagnostic) -> str:
        if isinstance(problem, DeckbuilderError):
            if problem.location is None:
                return str(problem)
            problem = Diagnostic(
                problem.location, Severity.ERROR, problem.message, problem.remedy
            )
        location = problem.location
        shown = Location(
            Path(self.relative(location.path)), location.line, location.column
        )
        return str(Diagnostic(shown, problem.severity, problem.message, problem.remedy))

    def traceback(
        self, frames: Sequence[Frame], title: str = "Traceback (most recent call last):"
    ) -> list[str]:
        lines = [title]
        for ours, group in _groups(frames, self._is_ours):
            if not ours:
                packages = ", ".join(dict.fromkeys(_package(f.path) for f in group))
                count = len(group)
                lines.append(f"  ... {count} frame{'s' * (count > 1)} in {packages}")
                continue
            for frame in group:
                lines.append(
                    f'  File "{self.relative(frame.path)}", line {frame.line}, '
                    f"in {frame.name}"
                )
                if frame.text:
                    lines.append(f"    {frame.text}")
        return lines

    def _is_ours(self, frame: Frame) -> bool:
        path = Path(frame.path)
        return path.is_relative_to(self.rootpath) and not {
            "site-packages",
            "dist-packages",
            ".venv",
        } & set(path.parts)


def _groups(frames: Sequence[Frame], ours: Any) -> Iterator[tuple[bool, list[Frame]]]:
    group: list[Frame] = []
    for frame in frames:
        if group and ours(frame) != ours(group[0]):
            yield ours(group[0]), group
            group = []
        group.append(frame)
    if group:
        yield ours(group[0]), group


def _package(path: str) -> str:
    """Return the top-level package a library file belongs to, for a summary."""
    parts = Path(path).parts[:-1]
    for folder in ("site-packages", "dist-packages", _STDLIB):
        if folder in parts:
            return Path(path).parts[parts.index(folder) + 1].removesuffix(".py")
    return Path(path).parent.name or path


class _XdistHeader:
    """Under pytest-xdist the controller collects nothing: count the workers' ids."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.done = False

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(
        self, node: Any, ids: Sequence[str]
    ) -> None:
        if self.done:
            return
        self.done = True
        state = _state(self.config)
        files = [nodeid.partition("::")[0] for nodeid in ids if "::" in nodeid]
        cards = [
            path
            for path in files
            if path.endswith(".md") and state.collects(self.config.rootpath / path)
        ]
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if cards and reporter is not None:
            reporter.write_line(_header(len(set(cards)), len(cards)))


def _header(files: int, cards: int) -> str:
    def count(number: int, noun: str) -> str:
        return f"{number} {noun}{'s' * (number != 1)}"

    return f"deckbuilder: {count(files, 'card file')}, {count(cards, 'card')} with code"


_STATE = pytest.StashKey[_State]()
_STDLIB = Path(os.__file__).parent.name


def _state(config: pytest.Config) -> _State:
    return config.stash[_STATE]


def _add(
    parser: pytest.Parser,
    group: Any,
    name: str,
    ini_type: Any,
    default: Any,
    help: str,
    **option: Any,
) -> None:
    key = name.replace("-", "_")
    group.addoption(
        f"--deckbuilder-{name}",
        dest=f"deckbuilder_{key}",
        help=help,
        default=None,
        **option,
    )
    parser.addini(f"deckbuilder_{key}", help, type=ini_type, default=default)


def _setting(config: pytest.Config, name: str) -> Any:
    value = config.getoption(f"deckbuilder_{name}")
    return config.getini(f"deckbuilder_{name}") if value is None else value


def _read_options(config: pytest.Config) -> PluginOptions:
    root = config.rootpath
    try:
        timeout = float(_setting(config, "timeout"))
        seed = int(_setting(config, "seed"))
    except ValueError as error:
        raise pytest.UsageError(
            f"deckbuilder: --deckbuilder-timeout needs seconds and "
            f"--deckbuilder-seed an integer ({error})"
        ) from error
    preload = _setting(config, "preload")
    memory = parse_size(str(_setting(config, "memory")))
    if memory is None:
        raise pytest.UsageError(
            "deckbuilder: --deckbuilder-memory needs a size such as 512M or 8G, "
            f"or 0 for no limit, not {_setting(config, 'memory')!r}"
        )
    return PluginOptions(
        cards=tuple((root / folder).resolve() for folder in _setting(config, "cards")),
        snippets=(root / _setting(config, "snippets")).resolve(),
        timeout=timeout,
        seed=seed,
        update_output=bool(_setting(config, "update_output")),
        preload=tuple(preload.split() if isinstance(preload, str) else preload),
        runner=str(_setting(config, "runner")),
        memory=memory,
    )


def format_size(size: int) -> str:
    """Return `size` bytes as `parse_size` reads it: `4G`, `512M`, `1000`."""
    for power in range(4, 0, -1):
        if size and size % 1024**power == 0:
            return f"{size // 1024**power}{'BKMGT'[power]}"
    return str(size)


def parse_size(text: str) -> int | None:
    """Return the bytes that `512M`, `8G` or `1048576` stand for (binary units), or
    None for text that is not a size."""
    match = _SIZE.match(text.strip())
    if match is None:
        return None
    factor = 1024 ** "BKMGT".index((match["unit"] or "B").upper())
    return int(float(match["number"]) * factor)
