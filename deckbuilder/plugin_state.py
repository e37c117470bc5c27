"""The pytest plugin's state in a session: options, snippet runner, updated blocks."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import pytest

from deckbuilder.errors import SourceError
from deckbuilder.jobs import SnippetRunner
from deckbuilder.plugin_options import PluginOptions
from deckbuilder.plugin_report import Reporter
from deckbuilder.runner import ForkServerRunner, SubprocessRunner
from deckbuilder.snippets import Settings
from deckbuilder.sources import find_sources

UPDATED = "deckbuilder_updated_output"
"""Key of the user property an item adds for each output block it rewrote."""


class PluginState:
    """The session's options and runner; also the plugin object for session hooks."""

    def __init__(self, options: PluginOptions, rootpath: Path) -> None:
        self.options = options
        self.rootpath = rootpath
        self.report = Reporter(rootpath, options.memory)
        self.preload: tuple[str, ...] = ()
        """The modules to preload that some collected card imports."""
        self.updated: list[str] = []
        self._runner: SnippetRunner | None = None
        self._sources: set[str] | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.updated += [str(v) for k, v in report.user_properties if k == UPDATED]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.updated:
            terminalreporter.write_sep("=", "deckbuilder: updated output blocks")
            for place in sorted(set(self.updated)):
                terminalreporter.write_line(place)

    @property
    def settings(self) -> Settings:
        """The settings that plan a card's runs."""
        return Settings(
            root=self.rootpath,
            snippets=self.options.snippets,
            timeout=self.options.timeout,
            seed=self.options.seed,
        )

    def collects(self, path: Path) -> bool:
        """Return whether `path` is a card file that `deckbuilder build` would read
        from the card folders: not hidden, and by its own path where a folder is
        also reached through a symbolic link."""
        if self._sources is None:
            found: list[Path] = []
            for folder in self.options.cards:
                with contextlib.suppress(SourceError):  # a missing default folder
                    found += find_sources([folder])
            self._sources = {os.path.abspath(source) for source in found}
        return os.path.abspath(path) in self._sources

    def runner(self) -> SnippetRunner:
        """Return the session's snippet runner, started on first use."""
        if self._runner is None:
            memory = self.options.memory
            if self.options.runner == "subprocess" or not hasattr(os, "fork"):
                self._runner = SubprocessRunner(memory=memory)
            else:
                self._runner = ForkServerRunner(self.preload, memory=memory)
        return self._runner

    def close(self) -> None:
        """Stop the runner's helper processes, if it was started."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None
