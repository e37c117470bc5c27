"""Fuzzing: whatever a card file holds, the core gives packages or located errors.

Generated card files (Markdown, front matter, fences, math, HTML, control characters,
huge lines, stray bytes) go through parse, render and package. The only exception that
may escape is `DeckbuilderError` with a location, and Anki's own importer must accept
every package written. The bounded run is part of the suite; the long run and how to
replay a failure are in tests/README.md.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from helpers import read_apkg_notes
from hypothesis import event, given, settings
from hypothesis import strategies as st

from deckbuilder import DeckbuilderError, Options, Report, build
from deckbuilder.parse import decode, parse_text, read_card_file
from deckbuilder.render import Renderer

BUDGET = settings.default.max_examples
"""Examples per test in the loaded profile; the slow end-to-end test takes a share."""

_WORDS = st.sampled_from(
    ["What", "is", "a", "GAN", "x", "*", "_", "`", "**bold**", "[link](x)", "<b>",
     "&amp;", "&#31;", "\\", "|", "#", "::", "??", ":", ";", "-->", "<!--", "'", '"',
     "$", "$$", "\\(", "\\)", "\\[", "\\]", "[^1]", "~~~", "```", "\t", "é", "😀",
     "\u00a0", "\u2028", "\u200b", "\ufeff", "\ufffd", "\ud7ff", "\U0010ffff"]
)  # fmt: skip
_PRINTABLE = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
_CLEAN_TEXT = st.one_of(
    st.lists(_WORDS, max_size=12).map(" ".join), st.text(_PRINTABLE, max_size=40)
)
"""Text without control characters, which the parser refuses outright."""
_TEXT = st.one_of(_CLEAN_TEXT, st.text(max_size=40))
_LANGUAGES = st.sampled_from(
    ["", "python", "py", "python3", "output", "text", "console", "json", "nosuch",
     "PYTHON", "c++", "html+django", "ipython3", "'", '"unclosed']
)  # fmt: skip
_OPTIONS = st.sampled_from(
    ["", "norun", "hide", 'skip="why"', "skip=", "raises=ValueError", "timeout=1",
     "timeout=soon", "fresh", "setup", "include=../x.py#r", "include=/etc/passwd#r",
     "include=x", "unknown=1", "'", 'skip="open', "include=helpers.py#a",
     "include=helpers.py#b"]
)  # fmt: skip


def _fence(text: st.SearchStrategy[str], closed: bool) -> st.SearchStrategy[list[str]]:
    @st.composite
    def fence(draw: st.DrawFn) -> list[str]:
        marker = draw(st.sampled_from(["```", "````", "~~~", "~~~~"]))
        indent = " " * draw(st.integers(0, 6))
        info = " ".join([draw(_LANGUAGES), *draw(st.lists(_OPTIONS, max_size=3))])
        body = draw(st.lists(text, max_size=4))
        if closed and any(part in info for part in ("include", "'", '"')):
            # A clean file is one that parses: includes name a region of the
            # helper module that the end-to-end test writes, and are empty.
            include = [word for word in info.split() if word.startswith("include=h")]
            info = f"python {include[0]}" if include else ""
            body = [] if include else body
        endings = [marker, marker + marker[0], indent + marker]
        closing = draw(st.sampled_from(endings if closed else [*endings, ""]))
        return [f"{indent}{marker}{info}", *body, *([closing] if closing else [])]

    return fence()


def _heading(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        "{}{}{}".format,
        st.sampled_from(["## ", "##", "##\t", "   ## ", "# ", "### ", "####### "]),
        text,
        st.sampled_from(["", " ##", " #", "#"]),
    )


def _metadata(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    keys = st.sampled_from(["id", "tags", "type", "setup", "colour", ""])
    entries = st.lists(st.builds("{}: {}".format, keys, values), max_size=3)
    return entries.map(lambda entries: f"<!-- {'; '.join(entries)} -->")


_GOOD_METADATA = st.builds(
    lambda card_id, tags, note_type: (
        f"<!-- id: {card_id}; tags: {tags}; type: {note_type} -->"
    ),
    st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,11}\Z"),
    st.sampled_from(["", "a", "a b", "ml::gans", "tf1 numpy"]),
    st.sampled_from(["basic", "reversed"]),
)
_BAD_METADATA = _metadata(
    st.one_of(
        st.sampled_from(
            ["q-1", "basic", "reversed", "gans tf", "a::b", "gan_tf1", "-x", "a b",
             "os.path", "::", "x" * 300]
        ),
        _TEXT,
    )
)  # fmt: skip
_MATH = st.sampled_from(
    ["$x$", "$$\\frac{a}{b}$$", "$ x $", "costs $5 and $10", "\\(a_1 * b_2\\)",
     "\\[", "\\]", "$$", "$", "\\$", "`$x$`", "$x$5", "$`$", "\\\\(x\\\\)"]
)  # fmt: skip
_HTML = st.sampled_from(
    ["<div>", "</div>", "<script>alert(1)</script>", "<!--", "-->", "<!-- x -->",
     "<span style='color: red'>", "<br/>", "&#0;", "&#x1f;", "&lt;", "<![CDATA[",
     "<?php ?>", "<img src=x onerror=y>", "</pre>", "<pre>", "<table><tr><td>"]
)  # fmt: skip
_BLOCKS = st.sampled_from(
    ["- item", "  - nested", "    - deeper", "1. one", "   * star", "> quote",
     "> > > deep", "| a | b |", "|---|---|", "| \\| | `a\\|b` |", "[^1]: note",
     "term", ": definition", "***", "---", "...", "???", "", "    indented code",
     "#", "##", "## ##"]
)  # fmt: skip
_CONTROL = st.sampled_from(
    ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x85", "\u2029"]
)
_HUGE = st.one_of(
    st.builds(
        lambda piece, count: piece * count,
        st.sampled_from(["x", "*", "_", "$", "`", "- ", "> ", "<b>", "\\", "a ", "|"]),
        st.integers(1_000, 5_000),
    ),
    # Python-Markdown scans to the end of the text for every unmatched `[` or `<`
    # of a link, so these cost n squared; kept short enough to stay fast.
    st.builds(
        lambda piece, count: piece * count,
        st.sampled_from(["[", "![", "[^", "[x](", "<http://"]),
        st.integers(100, 300),
    ),
)
_NESTED = st.builds(
    lambda prefix, count, text: prefix * count + text,
    st.sampled_from(["> ", "  ", "- ", "    ", "1. ", "* "]),
    st.integers(10, 400),
    _CLEAN_TEXT,
)
_GOOD_FRONT_MATTER = st.builds(
    lambda lines: ["---", *lines, "---"],
    st.lists(
        st.sampled_from(
            ["deck: ML::GANs", "deck: 'ML :: GANs'", "tags: [a, b]", "tags: a b",
             "tags: [yes, 007]", "type: reversed", "type: basic", "deck: Ünïcode",
             "deck: a/b", "deck: " + "x" * 300, "# a comment", ""]
        ),
        max_size=3,
        unique=True,
    ),
)  # fmt: skip
_BAD_FRONT_MATTER = st.builds(
    lambda lines, close: ["---", *lines, *([close] if close else [])],
    st.lists(
        st.one_of(
            st.builds(
                "{}: {}".format,
                st.sampled_from(
                    ["deck", "tags", "type", "setup", "colour", "deck", "[a, b]",
                     "? {a: b}\n", "\ufffe", "- x", "\u2028", "\x85"]
                ),
                st.one_of(
                    st.sampled_from(
                        ["ML::GANs", "'a::::b'", "Default", "a:::b", "b:", "[a, b]",
                         "[yes, 007]", "{a: b}", "reversed", "basic", "gan_tf1", "[",
                         "'", "~", "null", "a\tb", "'\\x00'", "\"\\x1f\"",
                         "'ml::gans'", "ML :: GANs", "x" * 400, "&anchor x",
                         "*alias", "!!python/object:os.system", "|\n  block",
                         ">\n  folded"]
                    ),
                    _TEXT,
                ),
            ),
            _TEXT,
        ),
        max_size=5,
    ),
    st.sampled_from(["---", "...", "", "--- "]),
)  # fmt: skip


def _lines(clean: bool) -> st.SearchStrategy[list[str]]:
    text = _CLEAN_TEXT if clean else _TEXT
    one = [
        text,
        _heading(text),
        _GOOD_METADATA if clean else _BAD_METADATA,
        _MATH,
        _HTML,
        _BLOCKS if not clean else _BLOCKS.filter(lambda line: line != "???"),
        st.one_of(_HUGE, _NESTED),
    ]
    several = [_fence(text, closed=clean)]
    if not clean:
        several.append(st.builds(lambda t, c: [t + c], _TEXT, _CONTROL))
    return st.one_of(*(s.map(lambda line: [line]) for s in one), *several)


def _card(clean: bool) -> st.SearchStrategy[list[str]]:
    text = _CLEAN_TEXT if clean else _TEXT
    metadata = _GOOD_METADATA if clean else _BAD_METADATA
    return st.builds(
        lambda heading, metadata, body: [heading, *metadata, *body],
        st.builds("## {}".format, text) if clean else _heading(text),
        st.one_of(st.just([]), metadata.map(lambda line: [line])),
        st.lists(_lines(clean), max_size=6).map(
            lambda parts: [line for part in parts for line in part]
        ),
    )


@st.composite
def card_files(draw: st.DrawFn, clean: bool = False) -> bytes:
    """Return the bytes of a card file.

    A clean file keeps the rules a parser checks (closed fences, known keys, no
    control characters), so that most clean files build; the rest break anything.
    """
    lines: list[str] = []
    if draw(st.booleans()):
        lines += draw(_GOOD_FRONT_MATTER if clean else _BAD_FRONT_MATTER)
    lines += [
        line for part in draw(st.lists(_lines(clean), max_size=3)) for line in part
    ]
    lines += [
        line for card in draw(st.lists(_card(clean), max_size=5)) for line in card
    ]
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = ending.join(lines) + draw(st.sampled_from(["", ending]))
    data = draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + text.encode(
        "utf-8", "surrogatepass"
    )
    for _ in range(0 if clean else draw(st.integers(0, 2) | st.just(0))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at:]
    return data


HELPER_MODULES = st.builds(
    lambda first, second, indent: "\n".join(
        ["import os", "# region a", *first, "# endregion", "", "def f():",
         f"{indent}# region b", *(indent + line for line in second),
         f"{indent}# endregion", f"{indent}return 1", ""]
    ),
    st.lists(_TEXT, max_size=4),
    st.lists(_TEXT, max_size=4),
    st.sampled_from(["    ", "\t", "  "]),
)  # fmt: skip
"""Helper modules with the regions `a` and `b`, for `include=helpers.py#a`."""
CLEAN_FILE = card_files(clean=True)
ANY_FILE = st.one_of(CLEAN_FILE, card_files(clean=False), st.binary(max_size=400))
"""Card-shaped files that mostly build, broken ones, and noise."""


def _line_count(data: bytes) -> int:
    text = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return max(1, text.count(b"\n") + 1)


def _check_located(error: DeckbuilderError, path: Path, data: bytes) -> None:
    assert error.location is not None, f"unlocated error: {error!r}"
    assert error.location.path == path, str(error)
    assert 1 <= error.location.line <= _line_count(data), str(error)


def _check_report(report: Report, data: bytes) -> None:
    for diagnostic in report.diagnostics:
        assert 1 <= diagnostic.location.line <= _line_count(data), str(diagnostic)
        assert diagnostic.location.column >= 1, str(diagnostic)
        assert "\n" not in str(diagnostic), repr(str(diagnostic))


@given(data=ANY_FILE)
@settings(max_examples=BUDGET * 2)
def test_parse_and_render_raise_nothing_but_located_errors(data: bytes) -> None:
    path = Path("cards/fuzz.md")

    try:
        parsed = parse_text(decode(data, path), path, default_deck="fuzz")
    except DeckbuilderError as error:
        _check_located(error, path, data)
        return

    renderer = Renderer()
    lines = _line_count(data)
    for card in parsed.file.cards:
        for text, first in ((card.question, card.question_line),
                            (card.answer, card.answer_line)):  # fmt: skip
            rendered = renderer.render(text, path=path, first_line=first)
            assert isinstance(rendered.html, str)
            for diagnostic in rendered.diagnostics:
                assert 1 <= diagnostic.location.line <= lines, str(diagnostic)
    for diagnostic in parsed.diagnostics:
        assert 1 <= diagnostic.location.line <= lines, str(diagnostic)


@given(
    data=st.one_of(CLEAN_FILE, ANY_FILE),
    module=HELPER_MODULES,
    include_incomplete=st.booleans(),
)
@settings(max_examples=BUDGET)
def test_built_packages_are_accepted_by_anki(
    data: bytes, module: str, include_incomplete: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "pyproject.toml").write_text("")
        (root / "cards").mkdir()
        (root / "cards" / "helpers.py").write_text(module, "utf-8", "surrogatepass")
        path = root / "cards" / "fuzz.md"
        path.write_bytes(data)
        options = Options(
            out=root / "build",
            include_incomplete=include_incomplete,
            source_date_epoch=1_700_000_000,
        )

        try:
            report = build([path], options)
        except DeckbuilderError as error:
            _check_located(error, path, data)
            event("raised")
            return

        _check_report(report, data)
        assert bool(report.packages) == (report.cards > 0 and not report.errors)
        if not report.packages:
            event("no package: " + ("errors" if report.errors else "no cards"))
            return
        event("packages written")
        notes = [
            note
            for package in report.packages
            for note in read_apkg_notes(Path(package), root)
        ]
        assert len(notes) == report.cards
        decks = {card.deck for card in read_card_file(path).file.cards}
        assert {deck for note in notes for deck in note.decks} <= decks


# Found by fuzzing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # PyYAML also breaks lines at U+2028, and its line numbers ran past the file.
        (
            '---\n"\n\u2028\u2028\n---\n',
            "cards/fuzz.md:3:3: error: front matter is not valid YAML: found "
            "unexpected end of stream",
        ),
        # A list or mapping as a key made the duplicate-key check raise TypeError.
        (
            "---\n[a, b]: x\n---\n",
            "cards/fuzz.md:2:1: error: front matter key is not a word",
        ),
        (
            "---\n? {a: b}\n: c\n---\n",
            "cards/fuzz.md:2:3: error: front matter key is not a word",
        ),
        # A character YAML refuses was reported at line 1 as "invalid YAML".
        (
            "---\ntags: a\ndeck: x\ufffe\n---\n",
            "cards/fuzz.md:3:8: error: front matter holds the character U+FFFE "
            "(delete it; YAML does not allow it)",
        ),
    ],
)
def test_front_matter_problems_found_by_fuzzing_are_located(
    text: str, expected: str
) -> None:
    path = Path("cards/fuzz.md")

    with pytest.raises(DeckbuilderError) as raised:
        parse_text(text, path, default_deck="fuzz")

    assert str(raised.value).startswith(expected)


def test_processing_instructions_pass_through_without_a_python_warning(
    tmp_path: Path,
) -> None:
    # genanki warned about `<?php ... ?>` on stderr; under the suite's
    # filterwarnings=error that warning is a failure here.
    (tmp_path / "pyproject.toml").write_text("")
    card = tmp_path / "cards" / "web.md"
    card.parent.mkdir()
    card.write_text("## What is this?\n\nA <?php echo 1; ?> tag\n", encoding="utf-8")

    report = build([card], Options(out=tmp_path / "build", source_date_epoch=1))

    [note] = read_apkg_notes(Path(report.packages[0]), tmp_path)
    assert "<?php echo 1; ?>" in note.fields["Back"]


@pytest.mark.parametrize(
    ("deck", "epoch", "anki_deck"),
    [
        # genanki counts note ids up from the time: SOURCE_DATE_EPOCH=0 gave note id
        # 0, and Anki refused the whole package.
        ("Plain", 0, "Plain"),
        # genanki's own Default deck made Anki import ours as `Default_`.
        ("Default", 1, "Default"),
        ("default", 1, "Default"),
        ("Default::Sub", 1, "Default::Sub"),
    ],
)
def test_packages_anki_refused_or_renamed(
    tmp_path: Path, deck: str, epoch: int, anki_deck: str
) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    card = tmp_path / "cards" / "deck.md"
    card.parent.mkdir()
    card.write_text(f"---\ndeck: {deck}\n---\n## Q?\n\nA.\n", encoding="utf-8")

    report = build([card], Options(out=tmp_path / "build", source_date_epoch=epoch))

    [note] = read_apkg_notes(Path(report.packages[0]), tmp_path)
    assert note.decks == (anki_deck,)
