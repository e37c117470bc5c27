"""The `deckbuilder` command line in Typer: parse arguments, call the core, exit."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, Optional, TypeVar

import typer

from deckbuilder import __version__, console
from deckbuilder.console import BuildRequest, Format, echo
from deckbuilder.errors import DeckbuilderError
from deckbuilder.options import Options
from deckbuilder.report import Report

T = TypeVar("T")

app = typer.Typer(
    help="Compile Markdown flashcards into Anki packages, and keep their code honest.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help and usage errors: Typer's boxed ones import its rich formatting,
    # half of the start of `deckbuilder --help`.
    rich_markup_mode=None,
)

Paths = Annotated[
    Optional[list[Path]],  # noqa: UP045 - Typer reads this annotation at run time
    typer.Argument(
        help="Card files or folders of them. Default: `cards` in pyproject.toml, "
        "else cards/.",
        show_default=False,
    ),
]
Strict = Annotated[
    Optional[bool],  # noqa: UP045
    typer.Option(
        "--strict/--no-strict",
        help="Treat incomplete cards as errors (for CI). Default: `strict` in "
        "pyproject.toml, else no.",
        show_default=False,
    ),
]


FormatOption = Annotated[
    Format,
    typer.Option(
        "--format",
        case_sensitive=False,
        help="text: problems on stderr, for people. json: one JSON document on "
        "stdout with every problem and the summary, nothing on stderr.",
    ),
]


def _version(value: bool) -> None:
    if value:
        echo(f"deckbuilder {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Compile Markdown flashcards into Anki packages.

    Settings in [tool.deckbuilder] of the project's pyproject.toml are the defaults
    of the flags. Exit codes: 0 success (warnings allowed), 1 errors in the cards,
    the settings or the build, 2 wrong command-line usage.
    """


Out = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--out",
        "-o",
        help="Folder for the .apkg packages. Default: `out` in "
        "pyproject.toml, else build/.",
        show_default=False,
    ),
]
IncludeIncomplete = Annotated[
    Optional[bool],  # noqa: UP045
    typer.Option(
        "--include-incomplete/--no-include-incomplete",
        help="Ship incomplete cards, tagged 'incomplete' and marked on the card. "
        "Default: `include-incomplete` in pyproject.toml, else no.",
        show_default=False,
    ),
]
Bundle = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--bundle", metavar="NAME", help="Write all decks into one NAME.apkg."
    ),
]


@app.command()
def build(
    paths: Paths = None,
    out: Out = None,
    strict: Strict = None,
    include_incomplete: IncludeIncomplete = None,
    bundle: Bundle = None,
    output: FormatOption = Format.TEXT,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Render and write everything afresh; leave the cache in the "
            "output folder as it is.",
        ),
    ] = False,
) -> None:
    """Build one .apkg per deck from the card files."""
    request = BuildRequest(
        paths=tuple(paths or ()),
        out=out,
        strict=strict,
        include_incomplete=include_incomplete,
        bundle=_bundle_name(bundle),
        output=output,
        no_cache=no_cache,
        source_date_epoch=_source_date_epoch(),
    )
    # The console script reads a plain build's command line itself (launch.py) and
    # skips Typer; both ways end in console.run_build, so they cannot drift apart.
    raise typer.Exit(console.run_build(request))


@app.command()
def watch(
    paths: Paths = None,
    out: Out = None,
    strict: Strict = None,
    include_incomplete: IncludeIncomplete = None,
    bundle: Bundle = None,
) -> None:
    """Build, then rebuild the decks whose card files or included modules change."""
    import watchfiles

    from deckbuilder.sources import project_root
    from deckbuilder.watch import DeckWatch

    options = _options(
        Format.TEXT,
        out=out,
        strict=strict,
        include_incomplete=include_incomplete,
        bundle=_bundle_name(bundle),
        source_date_epoch=_source_date_epoch(),
    )
    cards = _paths(paths, options)
    session = DeckWatch(cards, options)
    started = time.monotonic()
    console.print_report(_run(session.start), "built", started)
    root = project_root(Path.cwd() / "pyproject.toml") or Path.cwd()
    snippets = Path(os.path.relpath(root / "code_snippets"))
    targets = [*cards, *([snippets] if snippets.is_dir() else [])]
    shown = ", ".join(str(target) for target in targets)
    echo(f"watching {shown} (press Ctrl-C to stop)", err=True)
    for changes in watchfiles.watch(
        *targets, watch_filter=_watched, raise_interrupt=False
    ):
        started = time.monotonic()
        try:
            report = session.changed(Path(path) for _, path in changes)
        except DeckbuilderError as error:
            echo(str(error), err=True)
            continue
        if report is not None:
            console.print_report(report, "rebuilt", started)


def _watched(change: object, path: str) -> bool:
    # Card files, helper modules and note type files; editors' hidden swap and
    # lock files are not.
    name = os.path.basename(path)
    return name.endswith((".md", ".py", ".yaml", ".yml")) and not name.startswith(".")


PreviewOut = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--out",
        "-o",
        help="Output folder; the pages go to OUT/preview/. Default: `out` in "
        "pyproject.toml, else build/.",
        show_default=False,
    ),
]


@app.command()
def preview(paths: Paths = None, out: PreviewOut = None) -> None:
    """Write an HTML page per deck under OUT/preview/ showing every card."""
    from deckbuilder.preview import preview as run_preview

    _execute(
        lambda options: run_preview(_paths(paths, options), options),
        Format.TEXT,
        "previewed",
        out=out,
    )


@app.command()
def check(
    paths: Paths = None, strict: Strict = None, output: FormatOption = Format.TEXT
) -> None:
    """Parse and render every card and report problems; write nothing."""
    from deckbuilder.pipeline import check as run_check

    _execute(
        lambda options: run_check(_paths(paths, options), options),
        output,
        "checked",
        strict=strict,
    )


@app.command()
def ids(paths: Paths = None, output: FormatOption = Format.TEXT) -> None:
    """Write every card's current id into its source as <!-- id: ... -->."""
    from deckbuilder.config import resolve_options
    from deckbuilder.ids import write_ids

    report = Report()
    written: dict[Path, int] = {}
    try:
        options = resolve_options({})
        written = write_ids(_paths(paths, options), report, options)
    except DeckbuilderError as error:
        if output is Format.TEXT:
            raise typer.Exit(console.fail(error, output)) from None
        document, code = console.failure(error), 1
    else:
        document, code = report.as_dict(), report.exit_code
    if output is Format.JSON:
        # Every document of `ids` has the ids written in place of a build's summary.
        del document["summary"]
        document["written"] = {path.as_posix(): n for path, n in written.items()}
        console.emit(document)
        raise typer.Exit(code)
    console.print_diagnostics(report)
    for path, count in written.items():
        echo(f"{path}: wrote {count} id{'s' * (count != 1)}")
    if not written and not report.errors:
        echo("every card already has an id")
    raise typer.Exit(report.exit_code)


@app.command()
def init(
    folder: Annotated[
        Path, typer.Argument(help="Folder of the new project; made if missing.")
    ] = Path("."),
) -> None:
    """Start a deck project: settings, an example card file and a helper module."""
    from deckbuilder.scaffold import new_project

    written = _run(lambda: new_project(folder))
    for path in written:
        echo(f"wrote {path}")
    go = "" if folder == Path(".") else f"cd {folder} && "
    echo(f"next: {go}deckbuilder build && pytest", err=True)


@app.command("import")
def import_export(
    export_format: Annotated[
        str,
        typer.Argument(
            metavar="FORMAT",
            help="The export's format: apkg, colpkg, anki-text or brainscape.",
        ),
    ],
    export: Annotated[Path, typer.Argument(help="The exported file.")],
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--out",
            "-o",
            help="Folder to write one card file per deck into (with note-types/ and "
            "media/), or a .md card file for an export of one deck. By default an "
            "export of one deck without media is printed to stdout.",
        ),
    ] = None,
    deck: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="Deck name for an export of one deck; by default the export's own, "
            "else the --out file's name or the title."
        ),
    ] = None,
    tag: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--tag", help="Tag for every card; repeat for more."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace files that already exist.")
    ] = False,
) -> None:
    """Convert a deck exported by Anki or a flashcard site into card files."""
    from deckbuilder.errors import ExportFormatError
    from deckbuilder.importers import importer
    from deckbuilder.importers.write import to_markdown, write_import
    from deckbuilder.metadata import tag_problem

    try:
        read = importer(export_format)
    except ExportFormatError as error:  # a format there is no importer for
        raise typer.BadParameter(
            f"{error.message} ({error.remedy})", param_hint="FORMAT"
        ) from None
    for word in tag or []:
        if problem := tag_problem(word):
            raise typer.BadParameter(
                f"tag {word!r} cannot be used in Anki: {problem}", param_hint="--tag"
            )
    if deck is not None:
        deck = _deck_option(deck)
    with console.progress(Format.TEXT) as progress:
        imported = _run(lambda: read(export, progress))
    if out is None:
        console.print_diagnostics(Report(diagnostics=list(imported.all_diagnostics)))
        if len(imported.decks) != 1 or imported.media or imported.note_types:
            echo(
                f"{export}: error: the export holds "
                f"{console.count(len(imported.decks), 'deck')}, "
                f"{console.count(len(imported.note_types), 'Anki note type')} and "
                f"{console.count(len(imported.media), 'media file')} (give --out a "
                "folder to write them to)",
                err=True,
            )
            raise typer.Exit(1)
        (only,) = imported.decks
        name = deck or only.name or only.title or export.stem
        echo(to_markdown(only, deck_name=name, tags=tag or []), nl=False)
        return
    with console.progress(Format.TEXT) as progress:
        written = _run(
            lambda: write_import(
                imported,
                out,
                source=export,
                deck_name=deck,
                tags=tag or [],
                force=force,
                progress=progress,
            )
        )
    console.print_diagnostics(Report(diagnostics=list(written.diagnostics)))
    for path in written.card_files:
        echo(f"wrote {path}")
    extras = [
        console.count(len(written.note_type_files), "note type file"),
        console.count(len(written.media_files), "media file"),
    ]
    cards = console.count(imported.card_count, "card")
    echo(f"imported {cards} into {out} ({', '.join(extras)})", err=True)


def _source_date_epoch() -> int | None:
    try:
        return console.source_date_epoch(os.environ)
    except console.UsageProblem as problem:
        raise typer.BadParameter(str(problem)) from None


def _deck_option(value: str) -> str:
    from deckbuilder.errors import SourceError
    from deckbuilder.metadata import deck_name

    # The build's own check: a name it would refuse in the front matter is refused
    # here, before the import writes it there.
    try:
        return deck_name(value, None)
    except SourceError as error:
        raise typer.BadParameter(
            f"{error.message} ({error.remedy})", param_hint="--deck"
        ) from None


def _bundle_name(value: str | None) -> str | None:
    try:
        return console.bundle_name(value)
    except console.UsageProblem as problem:
        raise typer.BadParameter(str(problem), param_hint="--bundle") from None


def _options(output: Format, **flags: object) -> Options:
    from deckbuilder.config import resolve_options

    return _run(lambda: resolve_options(flags), output)


def _paths(paths: list[Path] | None, options: Options) -> list[Path]:
    return console.card_paths(paths, options)


def _run(action: Callable[[], T], output: Format = Format.TEXT) -> T:
    try:
        return action()
    except DeckbuilderError as error:
        raise typer.Exit(console.fail(error, output)) from None


def _execute(
    action: Callable[[Options], Report], output: Format, verb: str, **flags: object
) -> NoReturn:
    raise typer.Exit(console.execute(action, output, verb, **flags))


def main() -> None:
    """Run the command line through Typer, whatever it asks for."""
    app()
