"""The code examples of MLXP 1.0.5's documentation (tests/mlxp_upstream/docs/*.rst, vendored
unmodified) run against this package.

Extracted from the .rst files at test time: every ``mlxp.yaml`` block is valid settings, and
the quick start (getting_started.rst) is built from its own blocks (``main.py``,
``configs/config.yaml``) and its console commands are run as written.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List, Tuple

import pytest
import yaml

from mlxp_core.settings import SCHEMA, _check

DOCS = Path(__file__).resolve().parents[1] / "mlxp_upstream" / "docs"
BLOCK = re.compile(r"^( *)\.\. code-block:: *(\w+)\n((?:\1 +:\w+:.*\n)*)((?:\n|\1 +.*\n)+)",
                   re.MULTILINE)


def blocks(name: str) -> List[Tuple[str, str, str]]:
    """``(language, caption, code)`` of every code block of one .rst file, in order."""
    text = (DOCS / f"{name}.rst").read_text()
    out = []
    for m in BLOCK.finditer(text):
        caption = re.search(r":caption: *(.*)", m.group(3) or "")
        out.append((m.group(2), caption.group(1).strip() if caption else "",
                    textwrap.dedent(m.group(4)).strip("\n") + "\n"))
    return out


def _is_settings(code: str) -> bool:
    try:
        data = yaml.safe_load(code)
    except yaml.YAMLError:  # an illustration with '...' (a file's content, elided)
        return False
    return isinstance(data, dict) and bool({"logger", "use_logger", "version_manager"} & set(data))


@pytest.mark.parametrize("name", ["configuring_mlxp", "easy_logging", "easy_versioning",
                                  "easy_launching"])
def test_every_settings_block_is_valid(name: str) -> None:
    found = [code for lang, _, code in blocks(name) if lang == "yaml" and _is_settings(code)]
    for code in found:
        _check(yaml.safe_load(code), SCHEMA, f"{name}.rst")  # raises on a bad key or type
    if name == "configuring_mlxp":
        assert found, "the settings block of configuring_mlxp.rst was not found"


def test_quick_start_runs_as_written(tmp_path: Path) -> None:
    code = blocks("getting_started")
    main = next(c for lang, _, c in code if lang == "python" and "mlxp.launch" in c)
    config = next(c for lang, cap, c in code if lang == "yaml" and "config.yaml" in cap)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "config.yaml").write_text(config)
    (tmp_path / "main.py").write_text(main)
    commands = [line[2:].strip() for lang, _, c in code if lang == "console"
                for line in c.splitlines() if line.startswith("$ python main.py")]
    assert commands == ["python main.py", "python main.py optimizer.lr=0.1"]
    for n, command in enumerate(commands, start=1):
        proc = subprocess.run([sys.executable, *command.split()[1:]], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "num_units: 100" in proc.stdout  # print(ctx.config): MLXP's YAML form
        lines = (tmp_path / "logs" / str(n) / "metrics" / "Quickstart.json").read_text()
        assert len(lines.splitlines()) == 10
    assert "lr: 0.1" in proc.stdout
