"""The pytest plugin's settings: `--deckbuilder-*` options, `deckbuilder_*` ini keys."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deckbuilder.block_options import MAX_TIMEOUT, timeout_seconds

_RUNNERS = ("forkserver", "subprocess")
_DEFAULT_CARDS = "cards"
DEFAULT_MEMORY = "4G"
"""Each card's memory limit unless set. The GAN deck's TensorFlow cards pass with
500M on a 2-CPU machine, 300M of it TensorFlow itself; TensorFlow starts more threads,
8M of stack each, on larger machines."""
_SIZE = re.compile(
    r"^(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[bkmgtBKMGT])?i?[bB]?$"
)


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


def add_options(parser: pytest.Parser) -> None:
    """Declare each setting as a command-line option and as an ini key."""
    group = parser.getgroup("deckbuilder", "run the code in deckbuilder card files")
    _add(
        parser, group, "cards", "linelist", [_DEFAULT_CARDS],
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


def read_options(config: pytest.Config) -> PluginOptions:
    """Return the session's settings; raise `pytest.UsageError` for unreadable ones."""
    root = config.rootpath
    timeout = timeout_seconds(str(_setting(config, "timeout")))
    if timeout is None:
        raise pytest.UsageError(
            "deckbuilder: --deckbuilder-timeout needs a number of seconds above 0, "
            f"at most {MAX_TIMEOUT:.0f}, not {_setting(config, 'timeout')!r}"
        )
    try:
        seed = int(_setting(config, "seed"))
    except ValueError as error:
        raise pytest.UsageError(
            "deckbuilder: --deckbuilder-seed needs an integer, "
            f"not {_setting(config, 'seed')!r}"
        ) from error
    preload = _setting(config, "preload")
    memory = parse_size(str(_setting(config, "memory")))
    if memory is None:
        raise pytest.UsageError(
            "deckbuilder: --deckbuilder-memory needs a size such as 512M or 8G, "
            f"or 0 for no limit, not {_setting(config, 'memory')!r}"
        )
    # Absolute, but not resolved: a card folder that is a link keeps its name, as
    # the build reads it.
    cards = tuple(
        Path(os.path.abspath(root / folder)) for folder in _setting(config, "cards")
    )
    # The default folder may be missing: the plugin is on in every project that
    # installs deckbuilder, most of whose tests are not cards.
    chosen = config.getoption("deckbuilder_cards") or config.getini(
        "deckbuilder_cards"
    ) != [_DEFAULT_CARDS]
    missing = [folder for folder in cards if not folder.is_dir()]
    if chosen and missing:
        raise pytest.UsageError(
            f"deckbuilder: no card folder {missing[0]} "
            "(check --deckbuilder-cards or the deckbuilder_cards ini key)"
        )
    return PluginOptions(
        cards=cards,
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
