"""The pytest plugin: each card with Python code in the card folders is a test item."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from deckbuilder import outputs
from deckbuilder.errors import DeckbuilderError, SourceError
from deckbuilder.jobs import CardResult
from deckbuilder.model import Card
from deckbuilder.parse import read_card_file
from deckbuilder.plugin_options import add_options, read_options
from deckbuilder.plugin_state import UPDATED, PluginState
from deckbuilder.report import Diagnostic, Severity
from deckbuilder.snippets import CardPlan, OutputCheck, has_code, plan_card

_SLUG_LENGTH = 60

Problem = SourceError | Diagnostic
"""What keeps a card from running: it is reported in place of the card's test."""


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    state = PluginState(read_options(config), config.rootpath.resolve())
    config.stash[_STATE] = state
    config.pluginmanager.register(state, "deckbuilder-state")
    config.add_cleanup(state.close)
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_XdistHeader(config), "deckbuilder-xdist-header")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CardFile | None:
    if file_path.suffix == ".md" and _state(parent.config).collects(file_path):
        return CardFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    imports: set[str] = set()
    for item in session.items:
        if isinstance(item, CardItem):
            imports |= item.imports
    state = _state(session.config)
    state.preload = tuple(name for name in state.options.preload if name in imports)


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
            raise self.CollectError(state.report.describe(error)) from error
        errors = [d for d in parsed.diagnostics if d.severity is Severity.ERROR]
        tested = [card for card in parsed.file.cards if has_code(card)]
        # A problem inside a card with code fails that card's test; any other stops
        # the file, as the file's cards cannot be trusted without it.
        own = _card_errors(errors, parsed.file.cards, tested)
        stray = [d for d in errors if not any(d in found for found in own.values())]
        if stray:
            raise self.CollectError("\n".join(state.report.describe(d) for d in stray))

        taken: set[str] = set()
        for card in tested:
            name = _unique(slug(card.title), taken)
            plan: CardPlan | tuple[Problem, ...] = tuple(own.get(id(card), ()))
            if not plan:
                try:
                    plan = plan_card(
                        card, parsed.file, f"{self.nodeid}::{name}", state.settings
                    )
                except SourceError as error:
                    plan = (error,)
            item = CardItem.from_parent(self, name=name, card=card, plan=plan)
            if isinstance(plan, CardPlan) and plan.skip_reason is not None:
                item.add_marker(pytest.mark.skip(reason=plan.skip_reason))
            yield item


class CardItem(pytest.Item):
    """One card: its Python blocks run in order in a fresh process."""

    def __init__(
        self, *, card: Card, plan: CardPlan | tuple[Problem, ...], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.card = card
        self.plan = plan

    @property
    def imports(self) -> frozenset[str]:
        return self.plan.imports if isinstance(self.plan, CardPlan) else frozenset()

    def runtest(self) -> None:
        state = _state(self.config)
        if not isinstance(self.plan, CardPlan):
            raise CardFailure("\n".join(map(state.report.describe, self.plan)))
        problems: list[str] = []
        for number, job in enumerate(self.plan.runs):
            result = state.runner().run(job)
            self._add_sections(result, number)
            checks = [check for check in self.plan.checks if check.run == number]
            problems += self._compare(checks, result)
            if result.failure is not None:
                problems.insert(0, state.report.failure(self.card, job, result.failure))
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
            place = state.report.place(check.block.location)
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
                problems.append(state.report.describe(error))
            else:
                self.user_properties.append((UPDATED, place))
        return problems

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


def _card_errors(
    errors: Sequence[Diagnostic], cards: Sequence[Card], tested: Sequence[Card]
) -> dict[int, list[Diagnostic]]:
    """Return the errors that lie inside each card of `tested`, by the card's id();
    a card runs from its heading to the next card's."""
    found: dict[int, list[Diagnostic]] = {}
    ends = [card.location.line for card in cards[1:]] + [None]
    chosen = {id(card) for card in tested}
    for card, end in zip(cards, ends, strict=True):
        if id(card) not in chosen:
            continue
        start, path = card.location.line, card.location.path
        for error in errors:
            line = error.location.line
            if error.location.path == path and start <= line < (end or line + 1):
                found.setdefault(id(card), []).append(error)
    return found


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}-{number}"
    taken.add(candidate)
    return candidate


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


_STATE = pytest.StashKey[PluginState]()


def _state(config: pytest.Config) -> PluginState:
    return config.stash[_STATE]
