"""Facts about the process that runs a task: host, user, command, scheduler job, git state."""

from __future__ import annotations

import datetime as _dt
import functools
import getpass
import os
import platform
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional


def now() -> _dt.datetime:
    return _dt.datetime.now().astimezone()


def iso(moment: _dt.datetime) -> str:
    return moment.isoformat()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def command_line() -> str:
    """The command as typed, interpreter included (`python main.py lr=0.1`)."""
    argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    return shlex.join(argv)


@functools.lru_cache(maxsize=8)
def git_state(directory: str) -> Optional[Dict[str, Any]]:
    """Commit, branch and dirty flag of the repository holding `directory`, or None."""
    try:
        out = subprocess.run(
            ["git", "-C", directory, "status", "--porcelain=v2", "--branch",
             "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    state: Dict[str, Any] = {"commit": None, "branch": None, "dirty": False}
    for line in out.stdout.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.split(" ", 2)[2]
            state["commit"] = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line.split(" ", 2)[2]
            state["branch"] = None if head == "(detached)" else head
        elif line and not line.startswith("#"):
            state["dirty"] = True
    return state


def main_file() -> Optional[str]:
    """The script being run (`python main.py` -> its absolute path), or None (`python -c`)."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return str(Path(path).resolve()) if path else None


def code_dir() -> str:
    """The directory of the script being run (where its git repository is looked up)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return str(Path(path).resolve().parent) if path else os.getcwd()


def process_facts(overrides: List[str], config_dir: Optional[str],
                  scheduler: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Everything recorded in info.yaml about the process that starts a run.

    `scheduler` is the job's `{name, job_id, ...}` (`schedulers.job_id_from_env`) or None.
    """
    from mlxp_core import __version__

    try:
        import hydra

        hydra_version = hydra.__version__
    except ImportError:  # pragma: no cover
        hydra_version = None
    return {
        "hostname": socket.gethostname(),
        "process_id": os.getpid(),
        "user": _user(),
        "executable": sys.executable,
        "python_version": platform.python_version(),
        "command": command_line(),
        "current_file_path": main_file(),  # MLXP's name: the script that was run
        "overrides": list(overrides),
        "work_dir": os.getcwd(),
        "config_dir": config_dir,
        "scheduler": scheduler,
        "git": git_state(code_dir()),
        "versions": {"mlxp_core": __version__, "hydra": hydra_version},
    }
