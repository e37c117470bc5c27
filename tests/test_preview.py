"""`deckbuilder preview`: the pages it writes, and how headless Chromium shows them.

The browser tests need Debian's `chromium`; without it they are skipped with a reason.
"""

from __future__ import annotations

import html
import json
import re
import zlib
from pathlib import Path

import pytest
from anki.collection import ExportAnkiPackageOptions
from anki.import_export_pb2 import ExportLimit
from helpers import (
    CHROMIUM,
    chromium,
    import_apkg,
    new_collection,
    note_card_ids,
    render_card,
)
from typer.testing import CliRunner, Result

from deckbuilder import Options, build
from deckbuilder.anki_templates import TemplateError, makes_card
from deckbuilder.cli import app
from deckbuilder.importers import importer
from deckbuilder.importers.write import write_import
from deckbuilder.package import note_guid
from deckbuilder.pipeline import _compile
from deckbuilder.preview import card_sides, render_template
from deckbuilder.report import Report

DECK = """\
---
deck: Machine Learning::GANs
tags: [gans]
---

## What does the discriminator of a GAN output?
<!-- id: d-output -->

The probability that its input is a **real** image.

![a red dot](img/dot.png)

## How is the noise batch drawn?
<!-- id: noise -->

```python
import numpy as np
batch_z = np.random.uniform(-1, 1, size=(64, 100))  # one row of noise per image in the batch
```

## How to create the Generator Inputs in TF
<!-- id: inputs -->

## The generator turns {{c1::noise}} into {{c2::images::what}}.
<!-- id: roles; type: cloze -->

## Which network judges the images?
<!-- id: judge; type: reversed -->

The discriminator.

##
"""  # noqa: E501

# Every note type, with what Anki escapes in a cloze's hidden text.
MORE_TYPES = """
## Which noise does the generator take?
<!-- id: typed; type: type-in -->

uniform

Between -1 and 1.

## Drawing the noise batch
<!-- id: code-cloze; type: cloze -->

```python
batch_z = np.random.{{c1::uni&form("½ é € 中")}}(-1, 1, size=(64, {{c2::z_dim}}))
```

???

One row per image.
"""

PHONE, DESKTOP = 390, 1200


def png(width: int, height: int) -> bytes:
    """Return a red PNG image of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + b"\x08\x02\0\0\0"
    rows = b"".join(b"\0" + b"\xff\0\0" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cards" / "img").mkdir(parents=True)
    (tmp_path / "cards" / "gans.md").write_text(DECK)
    (tmp_path / "cards" / "img" / "dot.png").write_bytes(png(4, 4))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_preview_writes_a_page_per_deck_an_index_and_the_media(project: Path) -> None:
    result = run("preview")

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "wrote build/preview/machine-learning.gans.html",
        "wrote build/preview/index.html",
    ]
    assert result.stderr.splitlines()[-1].startswith(
        "previewed 1 deck, 6 cards, 2 incomplete, 2 warnings, 0 errors in "
    )
    index = (project / "build" / "preview" / "index.html").read_text()
    assert 'href="machine-learning.gans.html">Machine Learning::GANs</a>' in index
    [image] = (project / "build" / "preview" / "media").iterdir()
    assert image.read_bytes() == png(4, 4)
    page = (project / "build" / "preview" / "machine-learning.gans.html").read_text()
    assert f'src="media/{image.name}"' in page
    assert "http://" not in page and "https://" not in page
    assert not list((project / "build").glob("*.apkg"))


def test_preview_reports_bad_cards_at_their_place_and_writes_nothing(
    project: Path,
) -> None:
    (project / "cards" / "gans.md").write_text(
        DECK + "\n## Unclosed {{c1::cloze\n<!-- type: cloze -->\n"
    )

    result = run("preview")

    assert result.exit_code == 1
    assert "cards/gans.md:34:10: error: cloze is never closed" in result.stderr
    assert "previewed 1 deck" in result.stderr
    assert not (project / "build" / "preview").exists()


def test_preview_takes_the_out_folder(project: Path) -> None:
    result = run("preview", "cards/gans.md", "--out", "site")

    assert result.exit_code == 0
    assert (project / "site" / "preview" / "machine-learning.gans.html").is_file()


def test_templates_fill_fields_sections_and_clozes_as_anki_does() -> None:
    fields = {"Text": "A {{c1::x::hint}} and {{c2::y}}.", "Empty": " "}

    front = render_template("{{cloze:Text}}{{#Empty}}gone{{/Empty}}", fields, cloze=1)
    back = render_template(
        "{{cloze:Text}}{{^Empty}}!{{/Empty}}", fields, cloze=2, answer=True
    )

    assert front == (
        'A <span class="cloze" data-cloze="x" data-ordinal="1">[hint]</span> and '
        '<span class="cloze-inactive" data-ordinal="2">y</span>.'
    )
    assert back == (
        'A <span class="cloze-inactive" data-ordinal="1">x</span> and '
        '<span class="cloze" data-ordinal="2">y</span>.!'
    )


def test_cards_are_what_ankis_template_engine_renders(project: Path) -> None:
    named = 'deck: "ML & <Q>::GANs"'  # Anki puts the name in unescaped
    deck = DECK.replace("deck: Machine Learning::GANs", named) + MORE_TYPES
    (project / "cards" / "gans.md").write_text(deck)
    options = Options(out=project / "build", include_incomplete=True)
    assert not build([Path("cards")], options).errors
    col = new_collection(project)
    import_apkg(col, project / "build" / "ml-q.gans.apkg")

    notes = _compile([Path("cards")], options, Report())

    assert {note.note_type for note in notes} == {
        "basic",
        "reversed",
        "cloze",
        "type-in",
    }
    for note in notes:
        anki = [
            render_card(col, card)
            for card in note_card_ids(col, note_guid(note.card_id))
        ]
        ours = [(front, back) for _, front, back in card_sides(note)]
        assert ours == anki, note.card_id
    col.close()


# Runs in the preview page once it is laid out; reports to the page around it.
MEASURE = """
<script>
window.addEventListener("load", () => {
  const all = (selector) => Array.from(document.querySelectorAll(selector));
  const night = document.getElementById("switch-night");
  const colours = () => {
    const card = document.querySelector(".side > .card");
    const pre = document.querySelector("pre.code");
    const name = document.querySelector("pre.code .hl-n");
    return [getComputedStyle(card).backgroundColor, getComputedStyle(card).color,
            getComputedStyle(pre).backgroundColor, getComputedStyle(name).color];
  };
  const light = colours();
  night.click();
  const dark = colours();
  night.click();
  const phone = document.getElementById("switch-phone");
  phone.click();
  const phoneSides = all(".side").map((side) => side.getBoundingClientRect().width);
  const right = (element) => element.getBoundingClientRect().right;
  const codeInSide = all("pre.code").map(
    (pre) => right(pre) <= right(pre.closest(".side")));
  phone.click();
  const result = {
    phoneSides, codeInSide,
    viewport: window.innerWidth,
    pageOverflows: document.documentElement.scrollWidth > window.innerWidth,
    codeRights: all("pre.code").map((pre) => pre.getBoundingClientRect().right),
    codeScrolls: all("pre.code").map((pre) => pre.scrollWidth > pre.clientWidth),
    labels: all(".preview-label").map((label) => label.textContent),
    incomplete: all(".preview-card").map((c) => c.classList.contains("is-incomplete")),
    highlighted: all("pre.code span[class^='hl-']").length,
    clozes: all(".cloze").map((cloze) => cloze.textContent),
    images: all("img").map((img) => img.naturalWidth),
    light, dark,
  };
  parent.postMessage(JSON.stringify(result), "*");
});
</script>
"""

# Headless Chromium will not make a window narrower than 500 px, so a phone's screen
# is an iframe of the phone's width; the page reports back by message.
FRAME = """
<!doctype html><html><body style="margin: 0">
<iframe src="{page}" width="{width}" height="900" style="border: 0"></iframe>
<script>
window.addEventListener("message", (event) => {{
  document.body.innerHTML = '<pre id="measured">' + event.data + "</pre>";
}});
</script>
</body></html>
"""

browser = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (apt-get install chromium)",
)


@pytest.fixture
def page(project: Path) -> Path:
    assert run("preview").exit_code == 0
    return project / "build" / "preview" / "machine-learning.gans.html"


def measure(page: Path, width: int) -> dict[str, object]:
    measured = page.with_name("measured.html")
    measured.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    frame = page.with_name(f"frame-{width}.html")
    frame.write_text(FRAME.format(page=measured.name, width=width))

    dom = chromium(frame, width, "--virtual-time-budget=5000", "--dump-dom")

    shown = dom.split('<pre id="measured">', 1)[1].split("</pre>", 1)[0]
    return dict(json.loads(shown))


@browser
def test_page_shows_every_card_incomplete_ones_first_and_marked(page: Path) -> None:
    measured = measure(page, DESKTOP)

    # Two incomplete cards, then four complete notes: the reversed one has two cards,
    # the cloze one a card per cloze number.
    assert measured["incomplete"] == [True, True] + [False] * 6
    labels = measured["labels"]
    assert isinstance(labels, list)
    assert labels[0].startswith("incomplete cards/gans.md:21")
    assert labels[1].startswith("incomplete cards/gans.md:32")
    assert [label.split(" · ", 2)[2] for label in labels[2:]] == [
        "card 1",
        "card 1",
        "cloze 1",
        "cloze 2",
        "card 1",
        "card 2",
    ]
    assert isinstance(measured["highlighted"], int) and measured["highlighted"] > 5
    assert measured["clozes"] == ["[...]", "noise", "[what]", "images"]
    assert measured["images"] == [4]  # the answer's picture, loaded from media/


@browser
@pytest.mark.parametrize("width", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_code_scrolls_inside_its_block_not_past_the_viewport(
    page: Path, width: int
) -> None:
    measured = measure(page, width)

    assert measured["viewport"] == width
    assert measured["pageOverflows"] is False
    rights = measured["codeRights"]
    assert isinstance(rights, list) and len(rights) == 1  # on the back
    assert all(right <= width for right in rights)
    assert measured["codeScrolls"] == [True]


@browser
def test_phone_switch_lays_each_side_out_at_phone_width(page: Path) -> None:
    measured = measure(page, DESKTOP)

    sides = measured["phoneSides"]
    assert isinstance(sides, list) and set(sides) == {PHONE}
    assert measured["codeInSide"] == [True]


@browser
def test_night_switch_changes_the_card_colours(page: Path) -> None:
    measured = measure(page, PHONE)

    light, dark = measured["light"], measured["dark"]
    assert isinstance(light, list) and isinstance(dark, list)
    assert [a != b for a, b in zip(light, dark, strict=True)] == [True] * 4


@browser
@pytest.mark.parametrize("mode", ["light", "night"])
@pytest.mark.parametrize("width", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_screenshots_in_both_modes_at_both_widths(
    page: Path, mode: str, width: int
) -> None:
    frame = page.with_name(f"shot-{mode}-{width}.html")
    fragment = "#night" if mode == "night" else ""
    frame.write_text(FRAME.format(page=page.name + fragment, width=width))
    shot = page.with_name(f"{mode}-{width}.png")

    chromium(frame, width, f"--screenshot={shot}", "--hide-scrollbars")

    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20], "big") == max(width, 500)
    # The top-left corner is the page's background: light grey, or near black.
    pixel = _first_pixel(shot.read_bytes())
    assert (sum(pixel) > 600) == (mode == "light")


def _first_pixel(data: bytes) -> tuple[int, int, int]:
    # Chromium writes 8-bit RGB(A) PNGs; every PNG filter leaves the first pixel of the
    # first row as it is (its neighbours count as 0), after the row's filter byte.
    chunks, at = b"", 8
    while at < len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        if data[at + 4 : at + 8] == b"IDAT":
            chunks += data[at + 8 : at + 8 + length]
        at += 12 + length
    row = zlib.decompress(chunks)
    red, green, blue = row[1:4]
    return red, green, blue


# Anki's stock note types as `deckbuilder import` writes them, and a cloze one.
STOCK_TYPES = {
    "reversed.yaml": """\
id: 1700000000201
name: Basic (and reversed card)
fields: [Front, Back]
templates:
  - name: Card 1
    front: "{{Front}}"
    back: "{{FrontSide}}<hr id=answer>{{Back}}"
  - name: Card 2
    front: "{{Back}}"
    back: "{{FrontSide}}<hr id=answer>{{Front}}"
css: ".card { text-align: center; }"
""",
    "optional.yaml": """\
id: 1700000000202
name: Basic (optional reversed card)
fields: [Front, Back, Add Reverse]
templates:
  - name: Card 1
    front: "{{Front}}"
    back: "{{FrontSide}}<hr id=answer>{{Back}}"
  - name: Card 2
    front: "{{#Add Reverse}}{{Back}}{{/Add Reverse}}"
    back: "{{FrontSide}}<hr id=answer>{{Front}}"
""",
    "typein.yaml": """\
id: 1700000000203
name: Basic (type in the answer)
fields: [Front, Back]
templates:
  - name: Card 1
    front: "{{Front}}\\n\\n{{type:Back}}"
    back: "{{Front}}\\n\\n<hr id=answer>\\n\\n{{type:Back}}"
""",
    "cloze.yaml": """\
id: 1700000000204
name: Cloze
kind: cloze
fields: [Text, Back Extra]
templates:
  - name: Cloze
    front: "{{cloze:Text}}"
    back: "{{cloze:Text}}<br>\\n{{Back Extra}}"
""",
    "probe.yaml": """\
id: 1700000000205
name: Probe
fields: [Front, Back, Note]
templates:
  - name: Look
    front: "{{Front}}|{{text:Front}}|{{Tags}}|{{Type}}|{{Deck}}|{{Subdeck}}|{{Card}}"
    back: "{{FrontSide}}{{#Note}}<i>{{Note}}</i>{{/Note}}{{^Note}}none{{/Note}}"
""",
}
STOCK_CARDS = """\
---
deck: Languages::Stock
---

## perro
<!-- note-type: types/reversed.yaml -->

dog

## casa
<!-- note-type: types/optional.yaml -->

house

## gato
<!-- note-type: types/optional.yaml -->

cat

<!-- field: Add Reverse -->

y

## 2 + 2 =
<!-- note-type: types/typein.yaml -->

4

## The {{c1::cat}} sleeps on the {{c2::mat::place}}.
<!-- note-type: types/cloze.yaml -->

Extra words.

## A **bold** word
<!-- note-type: types/probe.yaml; tags: b a -->

bold
"""


@pytest.fixture
def stock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "cards" / "types").mkdir(parents=True)
    for name, text in STOCK_TYPES.items():
        (tmp_path / "cards" / "types" / name).write_text(text)
    (tmp_path / "cards" / "stock.md").write_text(STOCK_CARDS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sections(page: str) -> dict[str, tuple[str, str]]:
    """Return the front and back HTML inside each card of a preview page, by label."""
    found = re.findall(
        r'<h2 class="preview-label">([^<]*)</h2>.*?'
        r'side-front[^>]*>.*?<div class="card card\d+">(.*?)</div></div>'
        r'<div class="side side-back.*?<div class="card card\d+">(.*?)</div></div>'
        r"</div></section>",
        page,
        re.DOTALL,
    )
    return {html.unescape(label): (front, back) for label, front, back in found}


def test_anki_note_types_are_previewed_with_their_own_templates(stock: Path) -> None:
    result = run("preview")

    assert result.exit_code == 0, result.stderr
    page = (stock / "build" / "preview" / "languages.stock.html").read_text()
    cards = sections(page)
    where = "cards/stock.md"
    assert list(cards) == [
        f"{where}:5 · Basic (and reversed card) · Card 1",
        f"{where}:5 · Basic (and reversed card) · Card 2",
        f"{where}:10 · Basic (optional reversed card) · Card 1",  # Add Reverse empty
        f"{where}:15 · Basic (optional reversed card) · Card 1",
        f"{where}:15 · Basic (optional reversed card) · Card 2",
        f"{where}:24 · Basic (type in the answer) · Card 1",
        f"{where}:29 · Cloze · Cloze 1",
        f"{where}:29 · Cloze · Cloze 2",
        f"{where}:34 · Probe · Look",
    ]
    assert cards[f"{where}:5 · Basic (and reversed card) · Card 2"] == (
        "dog",
        "dog<hr id=answer>perro",
    )
    assert cards[f"{where}:15 · Basic (optional reversed card) · Card 2"] == (
        "cat",
        "cat<hr id=answer>gato",
    )
    box = '<input id="typeans" type="text" placeholder="type the answer">'
    assert cards[f"{where}:24 · Basic (type in the answer) · Card 1"] == (
        f"2 + 2 =\n\n{box}",
        '2 + 2 =\n\n<hr id=answer>\n\n<code id="typeans">4</code>',
    )
    cat = '<span class="cloze-inactive" data-ordinal="1">cat</span>'
    assert cards[f"{where}:29 · Cloze · Cloze 2"] == (
        f"The {cat} sleeps on the "
        '<span class="cloze" data-cloze="mat" data-ordinal="2">[place]</span>.',
        f'The {cat} sleeps on the <span class="cloze" data-ordinal="2">mat</span>.'
        "<br>\nExtra words.",
    )
    front = (
        "A <strong>bold</strong> word|A bold word|a b|Probe|Languages::Stock|Stock|Look"
    )
    assert cards[f"{where}:34 · Probe · Look"] == (front, front + "none")
    # Anki's `card2` class on the second card, and each note type's CSS in the page.
    assert '<div class="card card2">dog</div>' in page
    assert ".card { text-align: center; }" in page


def test_a_note_type_file_gives_its_card_the_vocab_example_of_the_docs(
    stock: Path,
) -> None:
    (stock / "cards" / "types" / "vocab.yaml").write_text(
        "id: 1700000000123\nname: Vocab\nkind: standard\n"
        "fields: [Word, Meaning, Example]\ntemplates:\n  - name: Recognise\n"
        '    front: "{{Word}}"\n'
        '    back: "{{FrontSide}}<hr id=answer>{{Meaning}}<br>{{Example}}"\n'
        "css: |\n  .card { color: navy; }\n"
    )
    (stock / "cards" / "stock.md").write_text(
        "---\ndeck: Languages::Spanish\nnote-type: types/vocab.yaml\n---\n\n"
        "## gato\n<!-- guid: Kh#@3:4#M_; tags: noun -->\n\ncat\n\n"
        "<!-- field: Example -->\n\nEl **gato** duerme.\n"
    )

    assert run("preview").exit_code == 0

    page = (stock / "build" / "preview" / "languages.spanish.html").read_text()
    assert sections(page) == {
        "cards/stock.md:6 · Vocab · Recognise": (
            "gato",
            "gato<hr id=answer>cat<br>El <strong>gato</strong> duerme.",
        )
    }
    # One note type on the page: its CSS as the package has it, unscoped.
    assert "<style>\n.card { color: navy; }\n/* deckbuilder: code colours */" in page
    assert "@scope" not in page


def test_each_note_types_css_is_scoped_to_its_own_cards(stock: Path) -> None:
    (stock / "cards" / "own.md").write_text(
        "---\ndeck: Languages::Stock\n---\n\n## Which network judges?\n\nThe critic.\n"
    )

    assert run("preview").exit_code == 0

    page = (stock / "build" / "preview" / "languages.stock.html").read_text()
    # deckbuilder's cards, then the note types' in the order their cards come; the
    # note types without CSS of their own share the code colours.
    scopes = re.findall(r"<style>\n@scope \(\.(style-\d+)\) \{\n", page)
    assert scopes == ["style-1", "style-2", "style-3"]
    assert "@scope (.style-1) {\n/* deckbuilder note type: layout" in page
    assert "@scope (.style-2) {\n.card { text-align: center; }\n" in page
    assert "@scope (.style-3) {\n\n/* deckbuilder: code colours */" in page
    assert (
        'class="side side-front style-2"><div class="side-label">front</div>'
        '<div class="card card1">perro</div>' in page
    )


def test_templates_follow_ankis_sections_filters_and_errors() -> None:
    fields = {"Word": "<b>g&amp;to</b>&nbsp;x", "Empty": "<br> <div></div>", "N": "1"}
    template = (
        "{{#Word}}[{{^Empty}}{{#N}}{{text:Word}}{{/N}}{{/Empty}}]{{/Word}}"
        "{{#Empty}}gone{{/Empty}}|{{ kana:Word }}|{{type:cloze:Word}}|{{#c2}}two{{/c2}}"
    )

    shown = render_template(template, fields, cloze=2)
    with pytest.raises(TemplateError) as missing:
        render_template("{{Word}} {{Meaning}}", fields)
    with pytest.raises(TemplateError) as unclosed:
        render_template("{{#Word}}x", fields)

    assert shown == "[g&to x]|<b>g&amp;to</b>&nbsp;x|[[type:cloze:Word]]|two"
    assert str(missing.value) == (
        "Found '{{Meaning}}', but there is no field called 'Meaning'"
    )
    assert str(unclosed.value) == "Missing '{{/Word}}'"


def test_a_hint_is_a_link_that_reveals_the_field() -> None:
    hint = render_template("{{hint:Meaning}}", {"Meaning": "cat"})

    [number] = re.findall(r"getElementById\('hint(\w+)'\)", hint)
    assert hint == (
        '\n<a class=hint href="#"\n'
        "onclick=\"this.style.display='none';\n"
        f"document.getElementById('hint{number}').style.display='block';\n"
        'return false;" draggable=false>\nMeaning</a>\n'
        f'<div id="hint{number}" class=hint style="display: none">cat</div>\n'
    )
    assert render_template("{{hint:Meaning}}", {"Meaning": " "}) == " "


@pytest.mark.parametrize(
    ("front", "fields", "made"),
    [
        ("{{Word}}", {"Word": "gato"}, True),
        ("{{Word}}", {"Word": " <br/> "}, False),
        # Text around an empty field makes no card, as in Anki.
        ("Say: {{#Extra}}{{Extra}}{{/Extra}}", {"Extra": ""}, False),
        ("{{^Extra}}{{Word}}{{/Extra}}", {"Extra": "x", "Word": "gato"}, True),
        ("{{#Extra}}{{Word}}{{/Extra}}", {"Extra": "", "Word": "gato"}, False),
    ],
)
def test_a_template_makes_a_card_when_its_front_shows_a_filled_field(
    front: str, fields: dict[str, str], made: bool
) -> None:
    assert makes_card(front, fields) is made


def test_anki_note_type_cards_are_what_ankis_template_engine_renders(
    stock: Path,
) -> None:
    options = Options(out=stock / "build")
    assert not build([Path("cards")], options).errors
    col = new_collection(stock)
    import_apkg(col, stock / "build" / "languages.stock.apkg")

    notes = _compile([Path("cards")], options, Report())

    for note in notes:
        guid = note.guid or note_guid(note.card_id)
        anki = [render_card(col, card) for card in note_card_ids(col, guid)]
        ours = [(front, back) for _, front, back in card_sides(note)]
        assert ours == anki, note.card_id
    col.close()


@browser
def test_a_note_types_css_reaches_its_cards_only(stock: Path) -> None:
    (stock / "cards" / "types" / "reversed.yaml").write_text(
        STOCK_TYPES["reversed.yaml"].replace(
            '".card { text-align: center; }"',
            '".card { color: navy; } .card.nightMode strong { color: red; }"',
        )
    )
    (stock / "cards" / "own.md").write_text(
        "---\ndeck: Languages::Stock\n---\n\n## Which **network** judges?\n\nIt.\n"
    )
    (stock / "cards" / "stock.md").write_text(
        "---\ndeck: Languages::Stock\n---\n\n## A **dog**\n"
        "<!-- note-type: types/reversed.yaml -->\n\nperro\n"
    )
    assert run("preview").exit_code == 0
    page = stock / "build" / "preview" / "languages.stock.html"
    script = """<script>
    const cards = Array.from(document.querySelectorAll(".side-front > .card"));
    const bold = (card) => card.querySelector("b, strong");
    const colours = () => cards.map((card) => [getComputedStyle(card).color,
      bold(card) ? getComputedStyle(bold(card)).color : "none"]);
    const light = colours();
    document.getElementById("switch-night").click();
    document.body.innerHTML = '<pre id="measured">'
      + JSON.stringify({light, night: colours()}) + "</pre>";
    </script>"""
    page.write_text(page.read_text().replace("</body>", script + "</body>"))

    dom = chromium(page, DESKTOP, "--dump-dom")

    shown = dom.split('<pre id="measured">', 1)[1].split("</pre>", 1)[0]
    measured = json.loads(html.unescape(shown))
    navy, red = "rgb(0, 0, 128)", "rgb(255, 0, 0)"
    black, white = "rgb(0, 0, 0)", "rgb(252, 252, 252)"
    # deckbuilder's card first: the page's colours; then the note type's two cards.
    assert measured["light"] == [[black, black], [navy, navy], [navy, "none"]]
    assert measured["night"] == [[white, white], [navy, red], [navy, "none"]]


def test_a_deck_imported_from_anki_is_previewed_with_its_note_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    col = new_collection(tmp_path)
    for note_type, fields in [
        ("Basic (and reversed card)", ["perro", "dog"]),
        ("Basic (type in the answer)", ["2 + 2 =", "4"]),
    ]:
        note = col.new_note(col.models.by_name(note_type))
        note.fields[:] = fields
        col.add_note(note, col.decks.id("Spanish"))
    package = tmp_path / "deck.apkg"
    col.export_anki_package(
        out_path=str(package),
        options=ExportAnkiPackageOptions(with_media=True),
        limit=ExportLimit(),
    )
    col.close()
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    write_import(importer("apkg")(package), project / "cards", source=package)
    monkeypatch.chdir(project)

    assert run("preview").exit_code == 0

    page = (project / "build" / "preview" / "spanish.html").read_text()
    cards = {
        label.split(" · ", 1)[1]: sides for label, sides in sections(page).items()
    }
    box = '<input id="typeans" type="text" placeholder="type the answer">'
    assert cards == {
        "Basic (and reversed card) · Card 1": (
            "perro",
            "perro\n\n<hr id=answer>\n\ndog",
        ),
        "Basic (and reversed card) · Card 2": (
            "dog",
            "dog\n\n<hr id=answer>\n\nperro",
        ),
        "Basic (type in the answer) · Card 1": (
            f"2 + 2 =\n\n{box}",
            '2 + 2 =\n\n<hr id=answer>\n\n<code id="typeans">4</code>',
        ),
    }
