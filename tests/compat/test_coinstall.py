"""MLXP's own distribution installed next to ours is reported, not silently mixed.

pip records an installed distribution as ``<name>-<version>.dist-info/METADATA`` on
``sys.path``; the environment here gets MLXP 1.0.5's record that way (its files are not
needed: the check reads package metadata only, before anything is imported).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("script", ["mlxp_core.cli.main", "mlxp_core.cli.mlxpsub"])
def test_console_scripts_stop_with_one_message(tmp_path: Path, script: str) -> None:
    dist = tmp_path / "site" / "mlxp-1.0.5.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mlxp\nVersion: 1.0.5\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", script, "status"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "MLXP 1.0.5" in proc.stderr and "pip uninstall mlxp" in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    # without it: no such message
    clean = subprocess.run([sys.executable, "-m", script, "--help"], capture_output=True,
                           text=True, timeout=60, check=False)
    assert clean.returncode == 0 and "MLXP 1.0.5" not in clean.stderr, clean.stderr
