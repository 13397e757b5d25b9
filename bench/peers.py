"""The interpreters the contenders run with, and the virtual environments that hold them.

* ``bench/.venv-mlxp105``: ``mlxp==1.0.5`` from PyPI (the peer), with what it pulls in.
* ``bench/.venv-ours``: this checkout installed in editable mode (``pip install -e .``), so it
  follows the working tree; rebuilt when ``pyproject.toml`` changes. Plain Hydra runs in it too.

Both are venvs of the same base interpreter and hold only their own dependencies, so start-up
costs compare like with like (the base interpreter's site-packages may carry ``.pth`` hooks
that cost tens of milliseconds at every start). Without ``bench/.venv-ours`` (``--quick`` when
it was never built) the contenders run with the interpreter running the harness.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bench.harness import REPO

log = logging.getLogger("bench")

MLXP_VENV = REPO / "bench" / ".venv-mlxp105"
OURS_VENV = REPO / "bench" / ".venv-ours"
MLXP_VERSION = "1.0.5"
_MARKER = ".bench-installed"


@dataclass
class Interpreters:
    ours: Path  # runs ours, plain Hydra, the floors and the fake submit commands
    mlxp: Optional[Path]  # MLXP 1.0.5; None when not available (quick mode only)

    @property
    def ours_bin(self) -> Path:
        return self.ours.parent

    @property
    def mlxp_bin(self) -> Optional[Path]:
        return None if self.mlxp is None else self.mlxp.parent


def _base_python() -> str:
    """The real base interpreter (not a venv's, not a pyenv shim)."""
    return os.path.join(sys.base_exec_prefix, "bin", f"python{sys.version_info[0]}."
                        f"{sys.version_info[1]}")


def _pip(python: Path, *args: str) -> None:
    cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args]
    log.info("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")


def _create(venv: Path) -> Path:
    log.info("creating %s", venv)
    subprocess.run([_base_python(), "-m", "venv", "--clear", str(venv)], check=True)
    return venv / "bin" / "python"


def _mlxp_ok(python: Path) -> bool:
    check = ("import importlib.metadata as m, mlxp; "
             f"assert m.version('mlxp') == {MLXP_VERSION!r}")
    # in a scratch directory: importing mlxp deletes ./multirun.yaml at exit
    return python.exists() and subprocess.run(
        [str(python), "-c", check], capture_output=True, cwd=tempfile.gettempdir(),
        check=False).returncode == 0


def mlxp_python(build: bool) -> Optional[Path]:
    """Python of the MLXP 1.0.5 venv; built when missing if ``build``, else None."""
    python = MLXP_VENV / "bin" / "python"
    if _mlxp_ok(python):
        return python
    if not build:
        log.info("%s not available: MLXP 1.0.5 is left out of this run", MLXP_VENV)
        return None
    python = _create(MLXP_VENV)
    _pip(python, f"mlxp=={MLXP_VERSION}")
    if not _mlxp_ok(python):
        raise RuntimeError(f"{MLXP_VENV}: mlxp=={MLXP_VERSION} does not import after install")
    return python


def _ours_stamp() -> str:
    return hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()


def ours_python(build: bool) -> Path:
    """Python of ``bench/.venv-ours`` (built or refreshed if ``build``), else this interpreter."""
    python = OURS_VENV / "bin" / "python"
    marker = OURS_VENV / _MARKER
    fresh = python.exists() and marker.is_file() and marker.read_text() == _ours_stamp()
    if fresh:
        return python
    if not build:
        log.info("%s not built: ours and plain Hydra run with %s", OURS_VENV, sys.executable)
        return Path(sys.executable)
    python = _create(OURS_VENV)
    _pip(python, "-e", str(REPO), "--config-settings", "editable_mode=compat")
    marker.write_text(_ours_stamp())
    return python


def interpreters(build: bool) -> Interpreters:
    return Interpreters(ours=ours_python(build), mlxp=mlxp_python(build))
