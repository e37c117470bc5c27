"""The pytest plugin, run from outside with pytester on small card projects."""

from __future__ import annotations

import fnmatch
import random
from pathlib import Path

import pytest
from helpers import card_project, write

from deckbuilder import outputs
from deckbuilder.errors import SourceError
from deckbuilder.model import CodeBlock, Location
from deckbuilder.regions import find_region, include_region

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    return card_project(pytester)


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest_inprocess("-p", "no:randomly", *args)


# Collection ---------------------------------------------------------------------


def test_each_card_with_python_code_is_an_item(project: pytest.Pytester) -> None:
    write(
        project,
        "cards/maths.md",
        """
        ## Sum?

        ```python
        assert 1 + 1 == 2
        ```

        ## No code here

        Just text.

        ## Shell and pseudo code only

        ```console
        $ echo hi
        ```

        ```python norun
        this is not python
        ```
        """,
    )
    more = "## A\n\n```py\npass\n```\n\n## B\n\n```python3\npass\n```\n"
    write(project, "cards/sub/more.md", more)

    result = run(project, "-v")

    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "deckbuilder: 2 card files, 3 cards with code",
            "cards/maths.md::sum PASSED*",
            "cards/sub/more.md::a PASSED*",
            "cards/sub/more.md::b PASSED*",
        ]
    )


def test_only_the_card_folders_are_collected(project: pytest.Pytester) -> None:
    code = "## Fails\n\n```python\nraise SystemExit(1)\n```\n"
    write(project, "README.md", code)
    write(project, "docs/guide.md", code)
    write(project, "notes/ok.md", "## Passes\n\n```python\npass\n```\n")

    default = run(project, ".")
    configured = run(project, "-o", "deckbuilder_cards=notes", ".")
    from_option = run(project, "--deckbuilder-cards", "notes", ".")

    assert default.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    configured.assert_outcomes(passed=1)
    from_option.assert_outcomes(passed=1)


def test_the_card_files_collected_are_those_the_build_reads(
    project: pytest.Pytester,
) -> None:
    code = "## Runs\n\n```python\npass\n```\n"
    write(project, "cards/real/deck.md", code)
    write(project, "cards/.draft.md", code.replace("pass", "raise SystemExit(1)"))
    (project.path / "cards" / "alias").symlink_to("real")
    (project.path / "cards" / "real" / "loop").symlink_to(".")

    result = run(project, "-v")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["cards/real/deck.md::runs PASSED*"])


def test_node_ids_are_question_slugs_and_select_with_k_and_deselect(
    project: pytest.Pytester,
) -> None:
    card = "```python\npass\n```\n"
    write(
        project,
        "cards/gans.md",
        f"## Describe how to create a `Generator`?\n\n{card}\n"
        f"## Describe how to create a generator\n\n{card}\n"
        f"## What is z?\n\n{card}",
    )

    collected = run(project, "--collect-only", "-q")
    selected = run(project, "-k", "generator and not generator-2", "-q")
    deselected = run(project, "--deselect", "cards/gans.md::what-is-z")

    collected.stdout.fnmatch_lines(
        [
            "cards/gans.md::describe-how-to-create-a-generator",
            "cards/gans.md::describe-how-to-create-a-generator-2",
            "cards/gans.md::what-is-z",
        ]
    )
    selected.assert_outcomes(passed=1, deselected=2)
    deselected.assert_outcomes(passed=2, deselected=1)


def test_a_source_error_in_a_card_fails_that_card_alone(
    project: pytest.Pytester,
) -> None:
    write(
        project,
        "cards/bad.md",
        "## Q\n\n```python include=nowhere.py#x\n```\n\n"
        "## Fine\n\n```python\nassert True\n```\n",
    )

    result = run(project)

    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        ["cards/bad.md:3:1: error: cannot read included module 'nowhere.py'*"]
    )


def test_source_errors_outside_cards_fail_collection_compiler_style(
    project: pytest.Pytester,
) -> None:
    write(project, "cards/bad.md", "---\ndek: x\n---\n## Q\n\n```python\npass\n```\n")

    result = run(project)

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["cards/bad.md:2:1: error: *dek*"])


# Failures -------------------------------------------------------------------------


def test_failure_names_the_md_line_the_question_and_card_frames_only(
    project: pytest.Pytester,
) -> None:
    write(
        project,
        "cards/deck.md",
        """
        # Deck

        ## Why does this fail?

        ```python
        def halve(n):
            return n / zero

        zero = 0
        ```

        Prose between blocks.

        ```python
        print("before")
        halve(4)
        ```
        """,
    )

    result = run(project)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            'cards/deck.md:7: card "Why does this fail?"',
            "Traceback (most recent call last):",
            '  File "cards/deck.md", line 16, in <module>',
            "    halve(4)",
            '  File "cards/deck.md", line 7, in halve',
            "    return n / zero",
            "ZeroDivisionError: division by zero",
            "*Captured stdout call*",
            "before",
        ]
    )
    assert "snippet_server" not in result.stdout.str()


def test_library_frames_are_collapsed(project: pytest.Pytester) -> None:
    code = "import json\njson.loads('{')"
    write(project, "cards/deck.md", f"## Q\n\n```python\n{code}\n```\n")

    result = run(project)

    result.stdout.fnmatch_lines(
        [
            '  File "cards/deck.md", line 5, in <module>',
            "  ... * frames in json",
            "json.decoder.JSONDecodeError: Expecting property name*",
        ]
    )


def test_syntax_errors_point_into_the_card(project: pytest.Pytester) -> None:
    write(project, "cards/deck.md", "## Q\n\n```python\nx = 1\nx = = 2\n```\n")

    result = run(project)

    result.stdout.fnmatch_lines(
        [
            'cards/deck.md:5: card "Q"',
            "Traceback (most recent call last):",
            '  File "cards/deck.md", line 5',
            "    x = = 2",
            "SyntaxError: invalid syntax",
        ]
    )


# Options --------------------------------------------------------------------------


def test_skip_reports_the_reason_and_skips_only_its_block(
    project: pytest.Pytester,
) -> None:
    write(
        project,
        "cards/deck.md",
        """
        ## All skipped

        ```python skip="needs a GPU"
        raise SystemExit(1)
        ```

        ## Partly skipped

        ```python skip="slow"
        raise SystemExit(1)
        ```

        ```python
        assert True
        ```
        """,
    )

    result = run(project)

    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED [1] cards/deck.md: needs a GPU"])


def test_raises_expects_the_named_exception(project: pytest.Pytester) -> None:
    write(
        project,
        "cards/deck.md",
        """
        ## Raises as promised

        ```python raises=KeyError
        {}["missing"]
        ```

        ```python raises=LookupError
        [][1]
        ```

        ```python raises=json.decoder.JSONDecodeError
        import json
        json.loads("{")
        ```

        ```python raises=js.JSONDecodeError
        import json as js
        js.loads("{")
        ```

        ```python
        after = True
        ```

        ## Does not raise

        ```python raises=ValueError
        int("12")
        ```

        ## Raises something else

        ```python raises=ValueError
        {}["missing"]
        ```
        """,
    )

    result = run(project)

    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            'cards/deck.md:27: card "Does not raise": expected ValueError to be '
            "raised, but the block ran through",
            "KeyError: 'missing'",
        ]
    )


def test_a_hanging_block_is_stopped_at_its_timeout(project: pytest.Pytester) -> None:
    write(
        project,
        "cards/deck.md",
        """
        ## Hangs

        ```python timeout=0.5
        import time

        time.sleep(30)
        ```

        ## Runs afterwards

        ```python
        pass
        ```
        """,
    )

    result = run(project, "--durations=0", "-vv")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            'cards/deck.md:6: card "Hangs": the block at cards/deck.md:3 timed out '
            "after 0.5 s",
            "It was running:",
            '  File "cards/deck.md", line 6, in <module>',
            "    time.sleep(30)",
        ]
    )


def test_default_timeout_comes_from_the_ini_file(project: pytest.Pytester) -> None:
    write(project, "cards/deck.md", "## Q\n\n```python\nwhile True: pass\n```\n")

    result = run(project, "-o", "deckbuilder_timeout=0.3")

    result.stdout.fnmatch_lines(["*timed out after 0.3 s"])


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import os\nos._exit(3)", "interpreter died: exit code 3"),
        (
            "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)",
            "interpreter died: signal 11 (SIGSEGV)",
        ),
        ("import ctypes\nctypes.string_at(0)", "interpreter died: signal 11 (SIGSEGV)"),
    ],
)
def test_a_card_that_kills_its_interpreter_fails_alone(
    project: pytest.Pytester, code: str, message: str
) -> None:
    card = "```python\npass\n```\n"
    dies = f"## Dies\n\n```python\n{code}\n```\n\n"
    write(project, "cards/deck.md", f"{dies}## Lives\n\n{card}")

    result = run(project)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [f'cards/deck.md:*: card "Dies": {message} while running the block at *:3']
    )


def test_the_subprocess_runner_reports_alike(project: pytest.Pytester) -> None:
    write(
        project,
        "cards/deck.md",
        """
        ## Passes

        ```python
        print("hi")
        ```

        ```output
        hi
        ```

        ## Fails

        ```python
        assert 1 == 2
        ```

        ## Hangs

        ```python timeout=0.3
        while True:
            pass
        ```

        ## Dies

        ```python
        import os
        os._exit(5)
        ```
        """,
    )

    result = run(project, "--deckbuilder-runner", "subprocess")

    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            'cards/deck.md:14: card "Fails"',
            "*",
            '  File "cards/deck.md", line 14, in <module>',
            "    assert 1 == 2",
            "AssertionError",
            "*",
            # Stopped in `while True:` or in `pass`, whichever was running.
            'cards/deck.md:2[01]: card "Hangs": the block at cards/deck.md:19 '
            "timed out after 0.3 s",
            "*",
            'cards/deck.md:*: card "Dies": interpreter died: exit code 5 while running '
            "the block at cards/deck.md:26",
        ]
    )


def test_unknown_block_option_fails_the_card_with_its_place(
    project: pytest.Pytester,
) -> None:
    write(project, "cards/deck.md", "## Q\n\n```python raise=ValueError\npass\n```\n")

    result = run(project)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "cards/deck.md:3:1: error: unknown code block option 'raise' "
            "(did you mean 'raises'? Otherwise use one of:*"
        ]
    )


# Setup and isolation --------------------------------------------------------------


def test_hidden_setup_runs_modules_then_preamble_blocks_then_the_card(
    project: pytest.Pytester,
) -> None:
    write(project, "code_snippets/base.py", 'order = ["base"]\n')
    write(project, "code_snippets/extra.py", 'order.append("extra")\n')
    write(project, "code_snippets/helpers.py", "def double(n):\n    return 2 * n\n")
    write(
        project,
        "cards/deck.md",
        """
        ---
        setup: base
        ---

        ```python setup
        order.append("preamble")
        ```

        ## With card setup
        <!-- setup: extra -->

        ```python
        from helpers import double

        assert order == ["base", "extra", "preamble"], order
        assert double(2) == 4
        ```

        ## File setup only

        ```python
        assert order == ["base", "preamble"], order
        ```
        """,
    )

    result = run(project)

    result.assert_outcomes(passed=2)


def test_missing_setup_module_fails_at_the_metadata_line(
    project: pytest.Pytester,
) -> None:
    card = "## Q\n<!-- setup: nothere -->\n\n```python\npass\n```\n"
    write(project, "cards/deck.md", card)

    result = run(project)

    result.stdout.fnmatch_lines(
        [
            "cards/deck.md:2:1: error: setup module 'nothere' cannot be read from "
            "code_snippets/nothere.py (create code_snippets/nothere.py or fix the name)"
        ]
    )


def test_a_failing_setup_module_is_named_with_the_line_that_asks_for_it(
    project: pytest.Pytester,
) -> None:
    broken = '"""Broken."""\nraise RuntimeError("no")\n'
    write(project, "code_snippets/broken.py", broken)
    card = "## Q\n<!-- setup: broken -->\n\n```python\npass\n```\n"
    write(project, "cards/deck.md", card)

    result = run(project)

    result.stdout.fnmatch_lines(
        [
            'cards/deck.md:2: card "Q", in setup module broken '
            "(code_snippets/broken.py)",
            "Traceback (most recent call last):",
            '  File "code_snippets/broken.py", line 2, in <module>',
            '    raise RuntimeError("no")',
            "RuntimeError: no",
        ]
    )


def test_cards_share_nothing(project: pytest.Pytester) -> None:
    write(
        project,
        "cards/deck.md",
        """
        ## First

        ```python
        import json
        import os

        json.touched = True
        shared = 1
        print(os.getpid())
        ```

        ## Second

        ```python
        import json
        import os

        assert "shared" not in globals()
        assert not hasattr(json, "touched")
        print(os.getpid())
        ```
        """,
    )

    result = run(project, "-rP")

    result.assert_outcomes(passed=2)
    pids = [line for line in result.stdout.lines if line.isdigit()]
    assert len(set(pids)) == 2


def test_a_fresh_block_starts_a_new_process_with_its_own_setup(
    project: pytest.Pytester,
) -> None:
    write(project, "code_snippets/one.py", "setup_one = 1\n")
    write(project, "code_snippets/two.py", "setup_two = 2\n")
    write(
        project,
        "cards/deck.md",
        """
        ## Two worlds
        <!-- setup: one -->

        ```python
        before = 1
        assert setup_one == 1
        ```

        ```python fresh=two
        assert "before" not in globals() and "setup_one" not in globals()
        assert setup_two == 2
        ```

        ```python
        after_fresh = setup_two
        ```
        """,
    )

    result = run(project)

    result.assert_outcomes(passed=1)


def test_random_and_numpy_are_seeded_per_card(project: pytest.Pytester) -> None:
    numpy = pytest.importorskip("numpy")
    random.seed(7)
    expected_random = random.random()
    numpy.random.seed(7)
    expected_numpy = numpy.random.randint(1000, size=3).tolist()
    write(
        project,
        "cards/deck.md",
        f"""
        ## Seeded

        ```python
        import random

        import numpy as np

        assert random.random() == {expected_random!r}
        assert np.random.randint(1000, size=3).tolist() == {expected_numpy!r}
        ```
        """,
    )

    result = run(project, "--deckbuilder-seed", "7")

    result.assert_outcomes(passed=1)


# Regions --------------------------------------------------------------------------


def test_an_included_region_runs_and_its_failures_point_into_the_module(
    project: pytest.Pytester,
) -> None:
    write(
        project,
        "code_snippets/shapes.py",
        '''
        """Shapes."""


        # region area
        def area(width, height):
            return width * heigth
        # endregion
        ''',
    )
    write(
        project,
        "cards/deck.md",
        """
        ## How is the area computed?

        ```python include=../code_snippets/shapes.py#area
        ```

        ```python
        area(2, 3)
        ```
        """,
    )

    result = run(project)

    result.stdout.fnmatch_lines(
        [
            'cards/deck.md:7: card "How is the area computed?"',
            '  File "cards/deck.md", line 7, in <module>',
            '  File "code_snippets/shapes.py", line 6, in area',
            "    return width * heigth",
            "NameError: name 'heigth' is not defined*",
        ]
    )


def test_find_region_dedents_and_drops_nested_markers(tmp_path: Path) -> None:
    text = (
        "class Model:\n"
        "    # region build\n"
        "    def build(self):\n"
        "        # region inner\n"
        "        x = 1\n"
        "        # endregion\n"
        "        return x\n"
        "    # endregion\n"
    )

    region = find_region(text, "build", tmp_path / "m.py")

    assert region.code == "def build(self):\n    x = 1\n    return x\n"
    assert region.runnable == "def build(self):\n\n    x = 1\n\n    return x\n"
    assert region.first_line == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("helpers.py", "include='helpers.py' does not name a module and a region"),
        ("helpers.py#nope", "region 'nope' not found in *helpers.py"),
        ("../../outside.py#x", "include path '../../outside.py' leaves the project*"),
    ],
)
def test_include_problems_are_located_at_the_block(
    tmp_path: Path, spec: str, message: str
) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards/helpers.py").write_text("# region x\npass\n# endregion\n")
    (tmp_path.parent / "outside.py").write_text("# region x\npass\n# endregion\n")
    location = Location(tmp_path / "cards/deck.md", 12, 3)

    with pytest.raises(SourceError) as caught:
        include_region(spec, location)

    assert caught.value.location == location
    assert fnmatch.fnmatch(caught.value.message, message)


# Output blocks --------------------------------------------------------------------

OUTPUT_CARD = """\
# Deck\r
\r
## What is printed?\r
\r
1. A list item:\r
\r
   ```python\r
   print("a  ")\r
   print(1 + 1)\r
   ```\r
\r
   ```output\r
   a\r
   3\r
   ```\r
\r
Text after.\r
"""


def test_output_blocks_are_compared_with_what_the_code_printed(
    project: pytest.Pytester,
) -> None:
    (project.path / "cards/deck.md").write_bytes(OUTPUT_CARD.encode())

    result = run(project)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            'cards/deck.md:12: card "What is printed?": output differs from what the '
            "code printed (pytest --deckbuilder-update-output rewrites it)",
            "--- cards/deck.md:12 (output block)",
            "+++ printed",
            "@@ -1,2 +1,2 @@",
            " a",
            "-3",
            "+2",
        ]
    )


def test_update_output_rewrites_only_the_output_block(
    project: pytest.Pytester,
) -> None:
    card = project.path / "cards/deck.md"
    card.write_bytes(OUTPUT_CARD.encode())

    updated = run(project, "--deckbuilder-update-output")
    again = run(project)

    updated.assert_outcomes(passed=1)
    updated.stdout.fnmatch_lines(
        ["*deckbuilder: updated output blocks*", "cards/deck.md:12"]
    )
    assert card.read_bytes() == OUTPUT_CARD.replace("   3\r", "   2\r").encode()
    again.assert_outcomes(passed=1)


def test_rewrite_keeps_every_other_line_ending_as_it_was(tmp_path: Path) -> None:
    # A card pasted from a Windows file into one with Unix line endings.
    path = tmp_path / "deck.md"
    path.write_bytes(b"## Q\n\n```output\r\nold\r\n```\r\nText\n## R\rA")
    block = CodeBlock(Location(path, 3), "output", {}, "old\n")

    outputs.rewrite(block, "new\nlines\n")

    assert path.read_bytes() == (
        b"## Q\n\n```output\r\nnew\r\nlines\r\n```\r\nText\n## R\rA"
    )


def test_rewrite_refuses_output_that_would_close_the_fence(tmp_path: Path) -> None:
    path = tmp_path / "deck.md"
    path.write_text("## Q\n\n```output\nold\n```\n")
    block = CodeBlock(Location(path, 3), "output", {}, "old\n")

    with pytest.raises(SourceError, match="would close the ``` fence"):
        outputs.rewrite(block, "```\n")

    assert path.read_text() == "## Q\n\n```output\nold\n```\n"


# pytest-xdist ---------------------------------------------------------------------


def test_cards_run_under_xdist(project: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    cards = "".join(
        f"## Card {n}\n\n```python\nimport os\nassert {n} * 2 == {2 * n}\n```\n\n"
        for n in range(6)
    )
    write(project, "cards/deck.md", cards)
    dies = "## Dies\n\n```python\nimport os\nos._exit(4)\n```\n"
    write(project, "cards/crash.md", dies)

    result = project.runpytest_subprocess("-n", "2", "-p", "no:randomly")

    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines(
        [
            "deckbuilder: 2 card files, 7 cards with code",
            "*interpreter died: exit code 4*",
        ]
    )


def test_hidden_blocks_run_under_test(project: pytest.Pytester) -> None:
    write(
        project,
        "cards/deck.md",
        """
        ## Checked quietly

        ```python
        x = 2
        ```

        ```python hide
        assert x == 3
        ```
        """,
    )

    result = run(project)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cards/deck.md:8*"])


def test_a_cloze_cards_code_runs_as_its_back_shows_it(
    project: pytest.Pytester,
) -> None:
    write(
        project,
        "cards/gaps.md",
        """
        ## Fill the gap
        <!-- type: cloze -->

        ```python
        total = {{c1::sum}}([1, 2, {{c2::3::a number}}])
        assert total == {{c3::{"six": 6}}}["six"]
        ```
        """,
    )

    result = run(project)

    result.assert_outcomes(passed=1)
