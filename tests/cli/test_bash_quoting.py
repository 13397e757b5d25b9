"""mlxpsub reads a batch script's python command lines with bash's quoting rules.

Every row is checked against what bash itself passes to a command (`printf '%s\\0' ...`, run
for real), so the table cannot drift from bash.
"""

from __future__ import annotations

import subprocess

import pytest

from mlxp_core.cli.batchscript import bash_words, parse_batch_script

ROWS = [
    r'"val=\$x"',  # the reported case: bash passes $x
    r"'a b' c",
    r'"c\d"',  # a backslash before another character stays inside double quotes
    r'"q=\"x\""',
    r'"b=\\"',
    r'"t=\`"',
    r"a\ b",
    r"\$HOME",
    r"'it'\''s'",
    r"$'tab\there'",
    r"$'\x41\101\u00e9\n'",
    r"$'q\'x' $'#not a comment'",
    r'"x=[1, 2]" y=3',
    r'"" x',
    r'a"b c"d',
    r'"multi\\n" "m\n"',
    r"'single \$ stays'",
    r'''"nested 'single'"''',
    r'x=\"',
    r'"$" lone=$',
    r"opt=a\\b",
    r"""mix='a'"b"\c""",
    r'"line=a\
b"',
]


def bash_says(words: str) -> list[str]:
    out = subprocess.run(["bash", "-c", f"printf '%s\\0' {words}"], capture_output=True,
                         check=True)
    return out.stdout.decode("utf-8").split("\0")[:-1]


@pytest.mark.parametrize("words", ROWS)
def test_words_are_what_bash_passes(words: str) -> None:
    assert bash_words(words) == bash_says(words)


@pytest.mark.parametrize("words", ROWS[:-1])  # a line continuation is joined by the parser
def test_mlxpsub_passes_the_task_what_bash_would(words: str) -> None:
    script = parse_batch_script(f"#!/bin/bash\n#SBATCH -t 1\npython main.py {words}\n")
    assert script.commands[0].args == bash_says(words)


def test_unterminated_quotes_are_errors() -> None:
    for words in ('"abc', "'abc", "$'abc"):
        with pytest.raises(ValueError):
            bash_words(words)
