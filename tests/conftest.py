"""Shared helpers: write a small mlxp app into a temporary directory and run it for real."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

CONFIG = """\
seed: 0
num_epoch: 3
model:
  num_units: 100
optimizer:
  lr: 10.
"""

MAIN_HEADER = """\
import json, os, sys, time
import mlxp

def seeding_function(seed):
    import random
    print("SEEDED", json.dumps(seed))
    random.seed(json.dumps(seed))

"""


def write_app(
    directory: Path,
    body: str,
    config: Optional[str] = CONFIG,
    mlxp_yaml: Optional[str] = None,
    decorator: str = "@mlxp.launch(config_path='./configs', seeding_function=seeding_function)",
) -> Path:
    """A main.py whose task is `body` (indented under `def train(ctx):`)."""
    directory.mkdir(parents=True, exist_ok=True)
    configs = directory / "configs"
    configs.mkdir(exist_ok=True)
    if config is not None:
        (configs / "config.yaml").write_text(config)
    if mlxp_yaml is not None:
        (configs / "mlxp.yaml").write_text(mlxp_yaml)
    main = (
        MAIN_HEADER
        + f"{decorator}\ndef train(ctx):\n"
        + textwrap.indent(textwrap.dedent(body).strip() + "\n", "    ")
        + "\nif __name__ == '__main__':\n    train()\n"
    )
    (directory / "main.py").write_text(main)
    return directory


def run(
    directory: Path, *args: str, env: Optional[Dict[str, str]] = None, timeout: float = 120,
    script: str = "main.py",
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, script, *args], cwd=directory, env=full_env, text=True,
        capture_output=True, timeout=timeout,
    )


def info(directory: Path, log_id: int, parent: str = "logs") -> Dict[str, Any]:
    data = yaml.safe_load((directory / parent / str(log_id) / "metadata" / "info.yaml").read_text())
    assert isinstance(data, dict)
    return data


def run_dirs(directory: Path, parent: str = "logs") -> list[int]:
    root = directory / parent
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit())


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return tmp_path / "proj"
