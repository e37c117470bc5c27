"""Fill Anki card templates as Anki's engine does, and tell which cards a note gets.

This follows Anki's own engine (rslib's `template.rs` and `template_filters.rs`):
`{{Field}}` and `{{FrontSide}}`, sections `{{#Field}}...{{/Field}}` and
`{{^Field}}...{{/Field}}` (nested too, and `{{#c2}}` on a cloze card), and the filters
`text:`, `type:` (with `type:cloze:` and `type:nc:`), `hint:` and `cloze:`. A filter
Anki leaves to add-ons (`furigana:`, `kana:`, `tts ...:`, any other) leaves the text
as it is, as Anki does without the add-on. Changed delimiters (`{{=<% %>=}}`) are not
read; Anki's stock note types never use them.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

from deckbuilder.cloze import ClozeError, find_clozes

_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
# Anki counts a field holding only whitespace and empty <br> or <div> tags as empty.
_EMPTY = re.compile(r"(?:\s|</?(?:br|div) ?/?>)*", re.IGNORECASE)
_CLOZE_CONDITIONAL = re.compile(r"c\d+")
_HTML = re.compile(r"<!--.*?-->|<.*?>", re.DOTALL)


class TemplateError(ValueError):
    """A template Anki cannot render; the message is what Anki shows instead."""


@dataclass(frozen=True)
class _Replacement:
    key: str
    filters: tuple[str, ...]
    """The filters in the order they apply: the one next to the field first."""


@dataclass(frozen=True)
class _Section:
    key: str
    negated: bool
    children: tuple[_Node, ...]


_Node = str | _Replacement | _Section


def field_is_empty(text: str) -> bool:
    """Return whether Anki counts the field `text` as empty."""
    return _EMPTY.fullmatch(text) is not None


def render_template(
    template: str,
    fields: Mapping[str, str],
    *,
    cloze: int = 0,
    front_side: str = "",
    answer: bool = False,
) -> str:
    """Fill an Anki card template with `fields` as Anki does.

    `cloze` is the card's cloze number on a cloze note type (0 on a note without
    clozes shows the cloze fields' text as it is); `front_side` fills
    `{{FrontSide}}`; `answer` tells which side is rendered. `{{type:F}}` is left as
    Anki leaves it for its reviewer, `[[type:F]]`. Raise `TemplateError` where Anki
    would show an error instead of the card.
    """
    context = _Context(fields, cloze, front_side, answer)
    return "".join(context.render(_parse(template)))


def makes_card(template: str, fields: Mapping[str, str]) -> bool:
    """Return whether Anki makes a card of the front `template` for a note's `fields`.

    As Anki: only when the front would show some field that is not empty, whatever
    text the template holds around it. A template that cannot be read makes a card,
    so that the preview shows its error.
    """
    try:
        nodes = _parse(template)
    except TemplateError:
        return True
    filled = {name for name, value in fields.items() if not field_is_empty(value)}
    return _shows_a_field(nodes, filled)


def _shows_a_field(nodes: tuple[_Node, ...], filled: set[str]) -> bool:
    for node in nodes:
        if isinstance(node, _Replacement) and node.key in filled:
            return True
        # Anki looks into a negated section whatever its field holds.
        if isinstance(node, _Section) and (node.negated or node.key in filled):
            if _shows_a_field(node.children, filled):
                return True
    return False


@functools.lru_cache(maxsize=256)
def _parse(template: str) -> tuple[_Node, ...]:
    # Each open section's key and the nodes gathered so far; the template is the
    # bottom of the stack.
    stack: list[tuple[str, bool, list[_Node]]] = [("", False, [])]
    done = 0
    for match in _TAG.finditer(template):
        nodes = stack[-1][2]
        if match.start() > done:
            nodes.append(template[done : match.start()])
        done = match.end()
        inside = match[1].strip()
        if inside[:1] in ("#", "^"):
            stack.append((inside[1:].strip(), inside[0] == "^", []))
        elif inside[:1] == "/":
            key = inside[1:].strip()
            if len(stack) == 1:
                raise TemplateError(
                    f"Found '{{{{/{key}}}}}', but missing '{{{{#{key}}}}}' "
                    f"or '{{{{^{key}}}}}'"
                )
            opened, negated, children = stack.pop()
            if opened != key:
                mark = "^" if negated else "#"
                raise TemplateError(
                    f"Found '{{{{/{key}}}}}', but expected '{{{{/{opened}}}}}' "
                    f"to close '{{{{{mark}{opened}}}}}'"
                )
            stack[-1][2].append(_Section(key, negated, tuple(children)))
        else:
            *filters, key = inside.split(":")
            nodes.append(_Replacement(key.strip(), tuple(reversed(filters))))
    if len(stack) > 1:
        opened = stack[-1][0]
        raise TemplateError(f"Missing '{{{{/{opened}}}}}'")
    if done < len(template):
        stack[0][2].append(template[done:])
    return tuple(stack[0][2])


@dataclass(frozen=True)
class _Context:
    fields: Mapping[str, str]
    cloze: int
    front_side: str
    answer: bool

    def render(self, nodes: tuple[_Node, ...]) -> list[str]:
        pieces: list[str] = []
        for node in nodes:
            if isinstance(node, str):
                pieces.append(node)
            elif isinstance(node, _Section):
                if self.shown(node):
                    pieces.extend(self.render(node.children))
            elif node.key == "FrontSide":
                pieces.append(self.front_side)
            elif not node.key and node.filters:
                pass  # a filter without a field, such as `{{tts-voices:}}`
            elif node.key not in self.fields:
                written = ":".join((*reversed(node.filters), node.key))
                raise TemplateError(
                    f"Found '{{{{{written}}}}}', but there is no field called "
                    f"'{node.key}'"
                )
            else:
                pieces.append(self.filtered(self.fields[node.key], node))
        return pieces

    def shown(self, section: _Section) -> bool:
        if _CLOZE_CONDITIONAL.fullmatch(section.key):
            filled = section.key == f"c{self.cloze}"
        elif section.key in self.fields:
            filled = not field_is_empty(self.fields[section.key])
        else:
            mark = "^" if section.negated else "#"
            raise TemplateError(
                f"Found '{{{{{mark}{section.key}}}}}', but there is no field called "
                f"'{section.key}'"
            )
        return filled != section.negated

    def filtered(self, text: str, node: _Replacement) -> str:
        filters = node.filters
        # `{{type:cloze:Text}}` and `{{type:nc:Text}}` are one filter each to Anki.
        if filters in (("cloze", "type"), ("nc", "type")):
            return f"[[type:{filters[0]}:{node.key}]]"
        for name in filters:
            if name == "text":
                text = strip_html(text)
            elif name == "type":
                text = f"[[type:{node.key}]]"  # the reviewer puts the box there
            elif name == "hint":
                text = _hint(text, node.key)
            elif name == "cloze":
                text = cloze_side(text, self.cloze, answer=self.answer)
            elif name:  # Anki skips an empty filter, and stops at one it lacks
                break
        return text


def strip_html(text: str) -> str:
    """Return `text` without tags and comments, entities decoded, as Anki's `text:`."""
    return html.unescape(_HTML.sub("", text)).replace("\xa0", " ")


def _hint(text: str, field: str) -> str:
    if not text.strip():
        return text
    # Anki's markup. Its element id comes from Rust's hasher; any id that tells the
    # hints of one card apart does, so this one is the start of a SHA-256.
    number = hashlib.sha256(f"{text}\x1f{field}".encode()).hexdigest()[:16]
    return (
        '\n<a class=hint href="#"\n'
        "onclick=\"this.style.display='none';\n"
        f"document.getElementById('hint{number}').style.display='block';\n"
        f'return false;" draggable=false>\n{field}</a>\n'
        f'<div id="hint{number}" class=hint style="display: none">{text}</div>\n'
    )


def cloze_side(text: str, number: int, *, answer: bool) -> str:
    """Return the field `text` as the card of cloze `number` shows it.

    Anki hides the card's own cloze as [...] (or [hint]) and shows the others' text,
    each in a span as Anki writes it; a field without cloze `number` shows nothing.
    Number 0 (a note without clozes) shows the text as it is.
    """
    try:
        clozes = sorted(find_clozes(text), key=lambda cloze: (cloze.start, -cloze.end))
    except ClozeError:
        return text
    if number and all(cloze.number != number for cloze in clozes):
        return ""

    def emit(start: int, end: int) -> str:
        pieces = []
        done = start
        for cloze in clozes:
            if cloze.start < done or cloze.end > end:
                continue
            pieces.append(text[done : cloze.start])
            inner = emit(cloze.text_start, cloze.text_end)
            ordinal = f'data-ordinal="{cloze.number}"'
            if cloze.number != number:
                inner = f'<span class="cloze-inactive" {ordinal}>{inner}</span>'
            elif answer:
                inner = f'<span class="cloze" {ordinal}>{inner}</span>'
            else:
                hidden = f'data-cloze="{_attribute(inner)}"'
                shown = f"[{cloze.hint or '...'}]"
                inner = f'<span class="cloze" {hidden} {ordinal}>{shown}</span>'
            pieces.append(inner)
            done = cloze.end
        pieces.append(text[done:end])
        return "".join(pieces)

    return emit(0, len(text))


def cloze_answers(text: str, number: int) -> list[str]:
    """Return the hidden text of each cloze `number` in `text`, in order."""
    try:
        clozes = find_clozes(text)
    except ClozeError:
        return []
    ordered = sorted(clozes, key=lambda cloze: cloze.start)
    return [text[c.text_start : c.text_end] for c in ordered if c.number == number]


def _attribute(text: str) -> str:
    # Anki escapes the hidden text as the htmlescape crate's encode_attribute does:
    # every character below U+0100 but ASCII letters and digits becomes an entity.
    named = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
    return "".join(
        char
        if (char.isascii() and char.isalnum()) or ord(char) > 0xFF
        else named.get(char, f"&#x{ord(char):X};")
        for char in text
    )
