"""Cards as Anki renders them, laid out by headless Chromium at phone and desktop width.

Anki's template engine renders the cards; Chromium then lays them out with the note
type's CSS, in light and night mode, and a script in the page measures what a learner
would see. Needs Debian's `chromium`; without it these tests are skipped with a reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import (
    CHROMIUM,
    chromium,
    collection_notes,
    import_apkg,
    new_collection,
    note_card_ids,
    note_type_css,
    render_card,
)

from deckbuilder import Options, build

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (apt-get install chromium)",
)

# Anki marks night mode with these classes on the card's body.
MODES = {"light": "card", "night": "card nightMode night_mode"}
WIDTHS = {"phone": 390, "desktop": 1200}

DECK = """\
---
deck: Layout
---
## A long line of code?
<!-- id: long-code -->

```python
result = some_function_with_a_long_name(first_argument, second_argument, third_argument, fourth_argument)
```

And a table:

| shape | meaning |
| --- | --- |
| `(64, 100)` | a batch of noise vectors |
"""  # noqa: E501

# Runs in the card's page once it is laid out, and reports to the page around it.
MEASURE = """
<script>
window.addEventListener("load", () => {
  const pre = document.querySelector("pre.code");
  const keyword = document.querySelector("pre.code .hl-n");
  const style = (element) => getComputedStyle(element);
  const result = {
    pageOverflows: document.documentElement.scrollWidth > window.innerWidth,
    preScrolls: pre.scrollWidth > pre.clientWidth,
    preOverflowX: style(pre).overflowX,
    preRight: pre.getBoundingClientRect().right,
    viewport: window.innerWidth,
    codeBackground: style(pre).backgroundColor,
    nameColour: style(keyword).color,
    sourceFontSize: parseFloat(style(document.querySelector(".source")).fontSize),
    textFontSize: parseFloat(style(document.body).fontSize),
  };
  parent.postMessage(JSON.stringify(result), "*");
});
</script>
"""

# Headless Chromium will not make a window narrower than 500 px, so a phone's screen
# is an iframe of the phone's width; the card page reports back by message.
FRAME = """
<!doctype html><html><body style="margin: 0">
<iframe src="{card}" width="{width}" height="900" style="border: 0"></iframe>
<script>
window.addEventListener("message", (event) => {{
  document.body.innerHTML = '<pre id="measured">' + event.data + "</pre>";
}});
</script>
</body></html>
"""


@pytest.fixture(scope="module")
def answer_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The long-code card's answer as Anki renders it, and the note type's CSS."""
    root = tmp_path_factory.mktemp("layout")
    (root / "cards").mkdir()
    (root / "cards" / "layout.md").write_text(DECK)
    build([root / "cards"], Options(out=root / "build", source_date_epoch=1))
    col = new_collection(root)
    import_apkg(col, root / "build" / "layout.apkg")
    [note] = collection_notes(col)
    [card_id] = note_card_ids(col, note.guid)
    _, answer = render_card(col, card_id)
    css = note_type_css(col, "deckbuilder")
    col.close()
    return answer, css


def measure(
    answer_page: tuple[str, str], tmp_path: Path, mode: str, width: int
) -> dict[str, object]:
    answer, css = answer_page
    card = tmp_path / f"{mode}-{width}.html"
    card.write_text(
        '<!doctype html><html><head><meta name="viewport" '
        'content="width=device-width, initial-scale=1">'
        f"<style>{css}</style></head>"
        f'<body class="{MODES[mode]}">{answer}{MEASURE}</body></html>'
    )
    frame = tmp_path / f"frame-{mode}-{width}.html"
    frame.write_text(FRAME.format(card=card.name, width=width))
    dom = chromium(frame, width, "--virtual-time-budget=5000", "--dump-dom")
    measured = dom.split('<pre id="measured">', 1)[1].split("</pre>", 1)[0]
    return dict(json.loads(measured))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_long_code_scrolls_inside_its_block_not_the_page(
    answer_page: tuple[str, str], tmp_path: Path, mode: str, width: int
) -> None:
    measured = measure(answer_page, tmp_path, mode, width)

    assert measured["pageOverflows"] is False
    assert measured["preScrolls"] is True
    assert measured["preOverflowX"] == "auto"
    assert isinstance(measured["preRight"], float | int)
    assert measured["preRight"] <= width
    assert measured["viewport"] == width


def test_night_mode_recolours_code(
    answer_page: tuple[str, str], tmp_path: Path
) -> None:
    light = measure(answer_page, tmp_path, "light", 390)
    night = measure(answer_page, tmp_path, "night", 390)

    assert light["codeBackground"] != night["codeBackground"]
    assert light["nameColour"] != night["nameColour"]


def test_source_line_is_small_print(
    answer_page: tuple[str, str], tmp_path: Path
) -> None:
    measured = measure(answer_page, tmp_path, "light", 390)

    assert isinstance(measured["sourceFontSize"], float | int)
    assert isinstance(measured["textFontSize"], float | int)
    assert measured["sourceFontSize"] < 0.8 * measured["textFontSize"]


def test_screenshots_are_taken_at_both_widths_in_both_modes(
    answer_page: tuple[str, str], tmp_path: Path
) -> None:
    answer, css = answer_page
    for mode in MODES:
        for width in WIDTHS.values():
            card = tmp_path / f"{mode}-{width}.html"
            card.write_text(
                f'<style>{css}</style><body class="{MODES[mode]}">{answer}</body>'
            )
            frame = tmp_path / f"frame-{mode}-{width}.html"
            frame.write_text(FRAME.format(card=card.name, width=width))
            shot = tmp_path / f"{mode}-{width}.png"

            chromium(frame, width, f"--screenshot={shot}", "--hide-scrollbars")

            header = shot.read_bytes()[:24]
            assert header[:8] == b"\x89PNG\r\n\x1a\n"
            assert int.from_bytes(header[16:20], "big") == max(width, 500)
