"""Render tests: golden Markdown-to-HTML cases, warnings and their lines, the CSS."""

from __future__ import annotations

import html
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pygments.lexers
import pytest
from golden import read_case

from deckbuilder import highlight
from deckbuilder.highlight import Highlighter, stylesheet
from deckbuilder.model import Location
from deckbuilder.render import Rendered, Renderer
from deckbuilder.report import Severity

CASES = Path(__file__).parent / "data" / "render"
HTML_MARK = "---- expected html ----\n"
WARNINGS_MARK = "---- expected warnings ----\n"


@dataclass(frozen=True)
class Case:
    """A golden case file: Markdown, the HTML it renders to, and the warnings.

    The file holds the Markdown, a line `---- expected html ----`, the HTML and,
    optionally, a line `---- expected warnings ----` and one warning per line as
    printed, for the Markdown read as `card.md` from its line 1. A first line
    `---- options: cloze ----` renders the Markdown as a cloze note's text.
    """

    markdown: str
    html: str
    warnings: list[str]
    options: tuple[str, ...] = ()

    @classmethod
    def read(cls, path: Path) -> Case:
        options, text = read_case(path)
        markdown, _, expected = text.partition(HTML_MARK)
        expected_html, _, warnings = expected.partition(WARNINGS_MARK)
        return cls(markdown, expected_html.rstrip("\n"), warnings.splitlines(), options)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def render(
    renderer: Renderer, text: str, first_line: int = 1, *, cloze: bool = False
) -> Rendered:
    return renderer.render(
        text, path=Path("card.md"), first_line=first_line, cloze=cloze
    )


@pytest.mark.parametrize("path", sorted(CASES.glob("*.md")), ids=lambda path: path.stem)
def test_golden_case(renderer: Renderer, path: Path) -> None:
    case = Case.read(path)

    rendered = render(renderer, case.markdown, cloze="cloze" in case.options)

    assert rendered.html == case.html
    assert [str(warning) for warning in rendered.diagnostics] == case.warnings


def test_golden_cases_are_all_well_formed() -> None:
    texts = [path.read_text(encoding="utf-8") for path in CASES.glob("*.md")]

    assert len(texts) >= 20
    assert all(text.count(HTML_MARK) == 1 for text in texts)


# Warnings and their lines ------------------------------------------------------


def test_unknown_language_warns_at_the_fence_line_and_column(
    renderer: Renderer,
) -> None:
    text = "Steps:\n\n- first\n\n  ```pyhton\n  x = 1\n  ```\n"

    rendered = render(renderer, text, first_line=20)

    (warning,) = rendered.diagnostics
    assert warning.severity is Severity.WARNING
    assert warning.location == Location(Path("card.md"), 24, 3)
    assert warning.message == 'unknown code language "pyhton"'
    assert warning.remedy == (
        'use a Pygments lexer name such as "python"; the block is shown as plain text'
    )
    assert '<pre class="code"><code>x = 1\n</code></pre>' in rendered.html


def test_each_unknown_block_warns_once_per_render(renderer: Renderer) -> None:
    text = "```nosuchlang\na\n```\n\n```nosuchlang\nb\n```\n"

    first = render(renderer, text, first_line=1)
    second = render(renderer, "no code here", first_line=1)

    assert [warning.location.line for warning in first.diagnostics] == [1, 5]
    assert second.diagnostics == ()


@pytest.mark.parametrize("language", ["qqqqqqqq", "nosuchlang"])
def test_a_far_unknown_language_suggests_python(language: str) -> None:
    # "nosuchlang" shares most of its letters with Pygments' "spicelang".
    highlighted = Highlighter().highlight(
        "x", language, location=Location(Path("c.md"), 1)
    )

    assert highlighted.diagnostic is not None
    assert 'such as "python"' in highlighted.diagnostic.remedy


@pytest.mark.parametrize(
    "info",
    [
        "",
        "python",
        "py",
        "Python",
        "python3",
        "console",
        "json",
        "output",
        "text",
        "python norun",
        'python skip="needs a GPU"',
        "python raises=ValueError",
        'python skip="unbalanced',
    ],
)
def test_known_languages_and_options_do_not_warn(renderer: Renderer, info: str) -> None:
    rendered = render(renderer, f"```{info}\nx = 1\n```\n")

    assert rendered.diagnostics == ()


@pytest.mark.parametrize("language", ["python", "bash", "", "output", "nosuchlang"])
def test_code_text_appears_exactly_as_written(
    renderer: Renderer, language: str
) -> None:
    code = "\n\n\tif a<b and c>d:  \n\t\treturn \"&amp;\" + 'x'\n$x$ `y` *z*\n\n"
    text = (
        f"- item\n\n  ```{language}\n"
        + "".join(f"  {line}\n" for line in code.splitlines())
        + "  ```\n"
    )

    rendered = render(renderer, text)

    body = re.search(r"<code[^>]*>(.*?)</code>", rendered.html, re.DOTALL)
    assert body is not None
    # Tags removed and entities decoded once, the browser shows the code itself.
    assert html.unescape(re.sub(r"<[^>]+>", "", body[1])) == code


def test_highlighted_code_has_classes_and_no_inline_styles(
    renderer: Renderer,
) -> None:
    rendered = render(renderer, "```python\ndef f(): return 'x'\n```\n")

    assert '<span class="hl-k">def</span>' in rendered.html
    assert "style=" not in rendered.html


def test_lexers_are_looked_up_once_per_name(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []
    real = pygments.lexers.get_lexer_by_name

    def counting(name: str, **options: object) -> object:
        looked_up.append(name)
        return real(name, **options)

    monkeypatch.setattr("deckbuilder.highlight.get_lexer_by_name", counting)
    highlighter = Highlighter()
    for _ in range(3):
        for info in ("python", "nosuchlang", "python norun"):
            highlighter.highlight("x\n", info, location=Location(Path("c.md"), 1))

    assert sorted(looked_up) == ["nosuchlang", "python", "text"]


# One renderer, many texts ------------------------------------------------------


def test_rendering_again_gives_the_same_html(renderer: Renderer) -> None:
    text = "Note[^1] with `code`, $x$ and\n\n```python\nx = 1\n```\n\n[^1]: here\n"

    first = render(renderer, text)
    render(renderer, "Other[^1].\n\n[^1]: other note\n")
    again = render(renderer, text)

    assert again == first
    assert first.html.count('class="footnote-ref"') == 1


def test_crlf_and_cr_line_endings_render_like_lf(renderer: Renderer) -> None:
    text = "- a\n  - b\n\n```python\nx = 1\n```\n\n$y$\n"

    lf = render(renderer, text)

    assert render(renderer, text.replace("\n", "\r\n")) == lf
    assert render(renderer, text.replace("\n", "\r")) == lf


def test_placeholder_characters_in_the_text_do_nothing(renderer: Renderer) -> None:
    rendered = render(renderer, "a \x02wzxhzdk:0\x03 b $x$")

    assert rendered.html == r"<p>a wzxhzdk:0 b \(x\)</p>"


# No input raises ---------------------------------------------------------------


TOKENS = [
    *("$", "$$", "\\", "`", "```", "~~~", "*", "-", "+", "1.", " ", "  ", "    "),
    *("\t", "\n", "\n\n", "|", "\\|", "[^1]", "[^1]: ", ": ", "<div>", "</div>"),
    *("<", "&", "\\(", "\\)", "\\[", "\\]", "#", "> ", "x_1", "\r", "python"),
    *("pyhton", "'", '"', "---", "\x02", "\x03", "wzxhzdk:0"),
]


def test_random_markdown_never_raises(renderer: Renderer) -> None:
    generator = random.Random(20240601)

    for _ in range(400):
        text = "".join(generator.choices(TOKENS, k=generator.randint(0, 60)))
        rendered = render(renderer, text)
        assert isinstance(rendered.html, str)


def test_too_deep_nesting_is_shown_as_text_with_a_warning(
    renderer: Renderer,
) -> None:
    text = "".join(f"{'  ' * depth}- x\n" for depth in range(300))

    rendered = render(renderer, text, first_line=7)

    (warning,) = rendered.diagnostics
    assert warning.location == Location(Path("card.md"), 7)
    assert warning.message == "text nests too deeply to render"
    assert rendered.html.startswith("<pre>- x\n  - x\n")
    assert render(renderer, "- a\n  - b\n").html == (
        "<ul>\n<li>a<ul>\n<li>b</li>\n</ul>\n</li>\n</ul>"
    )


def test_stray_dollars_and_backticks_stay_fast(renderer: Renderer) -> None:
    # Each unmatched opener must not rescan the rest of the paragraph.
    text = "$a " * 20_000 + "\\( " * 20_000 + "` `` " * 5_000

    rendered = render(renderer, text)

    assert "\\)" not in rendered.html


# The stylesheet ------------------------------------------------------------------


def rules(css: str) -> list[tuple[list[str], dict[str, str]]]:
    """Return each CSS rule as its selectors and declarations (no nesting)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    parsed = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = {
            name.strip(): value.strip()
            for name, _, value in (
                item.partition(":") for item in body.split(";") if item.strip()
            )
        }
        parsed.append(([s.strip() for s in selectors.split(",")], declarations))
    return parsed


def test_code_scrolls_sideways_and_images_fit() -> None:
    parsed = rules(stylesheet())

    pre = [body for selectors, body in parsed if selectors == ["pre"]]
    images = [body for selectors, body in parsed if selectors == ["img"]]
    assert pre and pre[0]["overflow-x"] == "auto" and pre[0]["white-space"] == "pre"
    assert images and images[0]["max-width"] == "100%"
    assert any("table" in selectors for selectors, _ in parsed)


def test_css_colours_code_in_both_night_mode_classes() -> None:
    selectors = [s for group, _ in rules(stylesheet()) for s in group]

    for night in (".nightMode", ".night_mode"):
        assert f"{night} .code" in selectors
        assert f"{night} .code .hl-k" in selectors


def test_night_mode_overrides_every_light_token_rule() -> None:
    light: set[str] = set()
    night: dict[str, set[str]] = {".nightMode": set(), ".night_mode": set()}
    for selectors, _ in rules(highlight.code_colours()):
        for selector in selectors:
            scope, marker, token = selector.rpartition(" .hl-")
            if not marker:
                continue
            if scope == ".code":
                light.add(token)
            else:
                night[scope.split()[0]].add(token)

    assert len(light) > 50
    assert night[".nightMode"] == light
    assert night[".night_mode"] == light


def luminance(colour: str) -> float:
    red, green, blue = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))

    def linear(channel: float) -> float:
        if channel <= 0.04045:
            return channel / 12.92
        return float(((channel + 0.055) / 1.055) ** 2.4)

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast(one: str, other: str) -> float:
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("scope", [".code", ".nightMode .code", ".night_mode .code"])
def test_token_colours_meet_wcag_aa_contrast(scope: str) -> None:
    parsed = rules(highlight.code_colours())
    (base,) = [body for selectors, body in parsed if scope in selectors]
    tokens = [
        body
        for selectors, body in parsed
        if any(s.startswith(scope + " .hl-") for s in selectors)
    ]

    background = base["background-color"].lower()
    assert tokens
    for body in tokens:
        if body["background-color"] == "transparent":
            colour = body["color"].lower()
            assert contrast(colour, background) >= 4.5, (scope, body)


def test_stylesheet_is_reproducible() -> None:
    assert stylesheet() == stylesheet()
