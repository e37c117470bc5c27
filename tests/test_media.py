"""Images and sounds: copied into the package once, named by content, judged by Anki."""

from __future__ import annotations

import hashlib
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from anki.collection import Collection
from helpers import collection_notes, import_apkg, new_collection, read_apkg_notes

from deckbuilder import Options, build

EPOCH = 1_700_000_000


def png(red: int) -> bytes:
    """Return a valid 1x1 PNG of the given red level: different levels, other bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, 0, 0]))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def stored_name(data: bytes, suffix: str) -> str:
    """The name the card format promises: the content's SHA-256, 20 hex digits."""
    return f"{hashlib.sha256(data).hexdigest()[:20]}{suffix}"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "cards" / "one").mkdir(parents=True)
    (root / "cards" / "two").mkdir()
    (root / "pyproject.toml").write_text("")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def col(tmp_path: Path) -> Iterator[Collection]:
    collection = new_collection(tmp_path)
    yield collection
    collection.close()


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def test_media_are_stored_once_by_content_and_shown_by_anki(
    project: Path, col: Collection
) -> None:
    red, green, sound = png(255), png(128), b"ID3 not really an mp3"
    write(project / "cards" / "one" / "img" / "a.png", red)
    write(project / "cards" / "two" / "img" / "a.png", green)
    write(project / "cards" / "one" / "img" / "my pic ü.png", red)
    write(project / "cards" / "one" / "say hi.mp3", sound)
    write(
        project / "cards" / "one" / "one.md",
        "---\ndeck: Media\n---\n\n## What colour?\n\n![a red dot](img/a.png)\n\n"
        '<img src="img/my pic ü.png" alt="same dot">\n\n'
        "![again](img/my%20pic%20%C3%BC.png) [sound:say hi.mp3]\n",
    )
    write(
        project / "cards" / "two" / "two.md",
        "---\ndeck: Media\n---\n\n## And this one?\n\n![a green dot](img/a.png)\n",
    )

    report = build([Path("cards")], Options(source_date_epoch=EPOCH))
    import_apkg(col, Path("build/media.apkg"))

    assert not report.errors
    red_name, green_name = stored_name(red, ".png"), stored_name(green, ".png")
    sound_name = stored_name(sound, ".mp3")
    with zipfile.ZipFile("build/media.apkg") as package:
        names = sorted(package.read("media").decode().split('"')[3::4])
    assert names == sorted([red_name, green_name, sound_name])
    media = Path(col.media.dir())
    assert (media / red_name).read_bytes() == red
    assert (media / green_name).read_bytes() == green
    assert (media / sound_name).read_bytes() == sound
    first, second = collection_notes(col)
    back = first.fields["Back"]
    assert re.findall(r'src="([^"]*)"', back) == [red_name] * 3
    assert f"[sound:{sound_name}]" in back
    assert re.findall(r'src="([^"]*)"', second.fields["Back"]) == [green_name]


def test_code_and_web_addresses_are_left_alone(project: Path) -> None:
    write(
        project / "cards" / "one" / "one.md",
        "## Syntax?\n\nAnki plays `[sound:x.mp3]`; "
        '<img src="https://example.org/x.png"> is online.\n\n'
        '```html\n<img src="missing.png">\n```\n',
    )

    report = build([Path("cards")], Options(source_date_epoch=EPOCH))

    assert not report.errors
    assert report.packages == ["build/one.one.apkg"]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("![dot](img/gone.png)", "image 'img/gone.png' not found"),
        ("[sound:gone.mp3]", "sound 'gone.mp3' not found"),
        (
            "![dot](../../../outside.png)",
            "image '../../../outside.png' is outside the project",
        ),  # noqa: E501
        ("![dot](img)", "image 'img' not found"),
    ],
)
def test_bad_references_are_located_errors(
    project: Path, reference: str, message: str
) -> None:
    write(project.parent / "outside.png", png(1))
    (project / "cards" / "one" / "img").mkdir()
    write(
        project / "cards" / "one" / "one.md",
        f"## Question\n\nFirst line.\nSee {reference} here.\n",
    )

    report = build([Path("cards")], Options(source_date_epoch=EPOCH))

    [error] = report.errors
    assert str(error.location) == "cards/one/one.md:4:12"
    assert error.message == message
    assert report.packages == []


def test_a_symbolic_link_out_of_the_project_is_refused(project: Path) -> None:
    write(project.parent / "secret.png", png(2))
    (project / "cards" / "one" / "link.png").symlink_to(project.parent / "secret.png")
    write(project / "cards" / "one" / "one.md", "## Q\n\n![x](link.png)\n")

    report = build([Path("cards")], Options(source_date_epoch=EPOCH))

    [error] = report.errors
    assert error.message == "image 'link.png' is outside the project"


def test_packages_with_media_are_byte_identical(project: Path) -> None:
    write(project / "cards" / "one" / "b.png", png(3))
    write(project / "cards" / "one" / "a.png", png(4))
    write(project / "cards" / "one" / "one.md", "## Q\n\n![b](b.png) ![a](a.png)\n")
    build([Path("cards")], Options(source_date_epoch=EPOCH))
    first = Path("build/one.one.apkg").read_bytes()
    Path("build/one.one.apkg").unlink()

    build([Path("cards")], Options(source_date_epoch=EPOCH))

    assert Path("build/one.one.apkg").read_bytes() == first


def test_an_edited_image_makes_the_note_newer(project: Path, tmp_path: Path) -> None:
    image = write(project / "cards" / "one" / "a.png", png(5))
    card = write(project / "cards" / "one" / "one.md", "## Q\n\n![a](a.png)\n")
    later = int(card.stat().st_mtime) + 60
    os.utime(image, (later, later))

    build([Path("cards")], Options())

    [note] = read_apkg_notes(Path("build/one.one.apkg"), tmp_path)
    assert note.mod == later


def test_fields_without_media_never_search_for_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Looking for the project walks up the file system; once per field was a seventh
    # of a build's time.
    from deckbuilder import media

    searched: list[Path] = []
    monkeypatch.setattr(media, "project_boundary", lambda path: searched.append(path))

    linked = media.link_media(
        "<p>No picture, just <code>&lt;img src=x&gt;</code></p>",
        source="No picture, just `<img src=x>`",
        path=tmp_path / "cards.md",
        first_line=1,
    )

    assert linked.files == ()
    assert searched == []
