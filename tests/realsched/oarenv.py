"""OAR jobs run as the unprivileged user ``oartest``: give it a Python with mlxp-core, and a home.

Root's Python (pyenv under ``/root``, mode 0700) and pytest's ``tmp_path`` are out of that user's
reach, so :func:`ensure_venv` builds a world-readable virtualenv at :data:`VENV` from the system
Python and installs mlxp-core into it, NON-editable, from a copy of the working tree (the copy
also keeps setuptools' ``build/`` and ``*.egg-info`` out of the checkout). The venv is kept
across test runs: a stamp records what it was built from, and

* a different system Python or ``pyproject.toml`` (dependencies) rebuilds it from scratch;
* different sources (``mlxp/``, ``mlxp_core/``, ``hydra_plugins/``, committed or not) reinstall
  only the project (``--no-deps``, a few seconds);
* otherwise it is reused as it is.

A lock file serialises concurrent test sessions.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional, Sequence

from realsched.schedulers import OAR_USER, as_user

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("MLXP_OAR_VENV", "/opt/mlxp-oar-venv"))
SYSTEM_PYTHON = "/usr/bin/python3"
STAMP_NAME = ".mlxp-test-stamp.json"
# what a non-editable install of the project is built from
PROJECT_FILES = ("pyproject.toml", "README.md")
PROJECT_DIRS = ("mlxp", "mlxp_core", "hydra_plugins")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
INSTALL_TIMEOUT_S = 900.0


@dataclass
class VenvReport:
    """What :func:`ensure_venv` did, and how long it took."""

    path: Path
    action: str  # "reused", "reinstalled project", "built"
    seconds: float


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _git_head() -> Optional[str]:
    proc = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _python_version() -> str:
    proc = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version)"],
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def copy_project(dest: Path) -> Path:
    """Copy what the package is built from into ``dest`` (world-readable); returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, dest / name)
    for name in PROJECT_DIRS:
        shutil.copytree(REPO / name, dest / name, ignore=_IGNORED)
    make_readable(dest)
    return dest


def tree_hash(root: Path) -> str:
    """One hash of every file's relative path and content under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def make_readable(root: Path) -> None:
    """``chmod -R a+rX``: every user may read the files and enter the directories."""
    subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)


def _stamp(source: Path) -> Dict[str, Optional[str]]:
    return {
        "python": _python_version(),
        "deps": _sha256((source / "pyproject.toml").read_bytes()),
        "tree": tree_hash(source),
        "git_head": _git_head(),  # for the reader; the tree hash decides
    }


def _read_stamp(venv: Path) -> Dict[str, Optional[str]]:
    try:
        data = json.loads((venv / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _run(argv: Sequence[str], what: str) -> None:
    started = time.monotonic()
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False,
                          timeout=INSTALL_TIMEOUT_S)
    log.info("%s: %.1f s", what, time.monotonic() - started)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {' '.join(argv)}\n"
                           f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def _pip(venv: Path, *args: str) -> list[str]:
    return [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
            "--disable-pip-version-check", *args]


def _build(venv: Path, source: Path) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    _run([SYSTEM_PYTHON, "-m", "venv", str(venv)], f"create venv {venv}")
    _run(_pip(venv, "setuptools>=68", "wheel"), "install build tools")
    _run(_pip(venv, "--no-build-isolation", str(source)), "install mlxp-core and dependencies")


def _reinstall(venv: Path, source: Path) -> None:
    _run(_pip(venv, "--no-build-isolation", "--no-deps", "--force-reinstall", str(source)),
         "reinstall mlxp-core")


def _check_user_can_import(venv: Path) -> None:
    code = "import mlxp, mlxp_core.cli.mlxpsub, hydra_plugins.mlxp_launcher.launcher"
    argv = as_user(OAR_USER, [str(venv / "bin" / "python"), "-c", code])
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd="/")
    if proc.returncode != 0:
        raise RuntimeError(f"{OAR_USER} cannot import mlxp from {venv}: {proc.stderr[-2000:]}")


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_venv(venv: Path = VENV) -> VenvReport:
    """The venv for OAR jobs, built or refreshed as needed (see the module doc)."""
    started = time.monotonic()
    lock = venv.parent / f".{venv.name}.lock"
    with _locked(lock):
        with tempfile.TemporaryDirectory(prefix="mlxp-oar-src-") as tmp:
            source = copy_project(Path(tmp) / "mlxp-core")
            wanted, have = _stamp(source), _read_stamp(venv)
            python_ok = (venv / "bin" / "python").is_file()
            if not python_ok or any(have.get(k) != wanted[k] for k in ("python", "deps")):
                _build(venv, source)
                action = "built"
            elif have.get("tree") != wanted["tree"]:
                _reinstall(venv, source)
                action = "reinstalled project"
            else:
                action = "reused"
            if action != "reused":
                make_readable(venv)
                _check_user_can_import(venv)
                (venv / STAMP_NAME).write_text(json.dumps(wanted, indent=1))
    report = VenvReport(venv, action, time.monotonic() - started)
    log.info("OAR venv %s: %s in %.1f s", venv, action, report.seconds)
    return report


# --------------------------------------------------------------------------------------------
# The OAR user's side
# --------------------------------------------------------------------------------------------


def user_home(user: str = OAR_USER) -> str:
    return pwd.getpwnam(user).pw_dir


def user_env(venv: Path = VENV, user: str = OAR_USER) -> Dict[str, str]:
    """A login-like environment for ``user`` with the venv first on PATH (nothing of root's)."""
    return {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": user_home(user),
        "USER": user,
        "LOGNAME": user,
        "LANG": "C.UTF-8",
    }


def run_as_user(argv: Sequence[str], cwd: Path, env: Mapping[str, str],
                user: str = OAR_USER, timeout: float = 300.0
                ) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as ``user`` in ``cwd`` with exactly ``env``, plus ``PWD`` as a shell sets it.

    (``oarsub`` reads its launching directory from ``$PWD`` and fails without it.)
    """
    variables = {**env, "PWD": str(cwd)}
    full = as_user(user, ["env", "-i", *(f"{k}={v}" for k, v in variables.items()), *argv])
    return subprocess.run(full, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False, stdin=subprocess.DEVNULL)


def user_dir(user: str = OAR_USER) -> Path:
    """A new directory under /tmp that ``user`` owns (the caller removes it)."""
    path = Path(tempfile.mkdtemp(prefix="mlxp-oar-test-", dir="/tmp"))
    shutil.chown(path, user, user)
    return path


def give_to(root: Path, user: str = OAR_USER) -> None:
    """``chown -R user:user root``."""
    subprocess.run(["chown", "-R", f"{user}:{user}", str(root)], check=True)
