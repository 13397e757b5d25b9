"""The command a job runs: the head's own command, pinned to one sweep point and run directory.

A job re-invokes the user's script (`python main.py lr=0.1 seed=1 ...`) in RUN mode, with the
Hydra overrides and `--config-name/--config-path/--config-dir` flags of the head command, and
`+mlxp.logger.log_id=<id>` so that it writes into the directory the head allocated.
"""

from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from mlxp_core.cli_args import split_args

CALLBACK_TARGET = "mlxp_core.callbacks.MLXPCallback"
# Hydra overrides that belong to the head's sweep, never to a job
_NOT_FORWARDED = ("hydra.mode", "hydra/launcher", "hydra.launcher", "hydra.sweep", "hydra.sweeper",
                  "hydra/sweeper")
_PATH_FLAGS = {"config_name": "--config-name", "config_path": "--config-path",
               "config_dir": "--config-dir"}


@dataclass
class Invocation:
    """How the head process was started: interpreter flags and the script (or `-m module`)."""

    interpreter_flags: List[str] = field(default_factory=list)
    target: List[str] = field(default_factory=list)  # ['main.py'] or ['-m', 'pkg.main']
    target_file: Optional[str] = None


def head_invocation() -> Invocation:
    orig = list(getattr(sys, "orig_argv", []) or [sys.executable, *sys.argv])
    argv0 = sys.argv[0] if sys.argv else ""
    for i, word in enumerate(orig[1:], start=1):
        if word == "-m" and i + 1 < len(orig):
            return Invocation(orig[1:i], ["-m", orig[i + 1]], os.path.abspath(argv0))
        if word == "-c":
            return Invocation()
        if word == argv0:
            return Invocation(orig[1:i], [argv0], os.path.abspath(argv0))
    return Invocation()


def can_reinvoke(invocation: Invocation, task_function: Optional[Callable[..., Any]]) -> bool:
    """True when the task is defined in the script the head runs, so a job can run it again."""
    if not invocation.target or task_function is None or invocation.target_file is None:
        return False
    try:
        task_file = inspect.getfile(inspect.unwrap(task_function))
    except TypeError:
        return False
    return os.path.realpath(task_file) == os.path.realpath(invocation.target_file)


def _key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def forwarded_hydra_overrides(config: DictConfig, skip: Sequence[str] = ()) -> List[str]:
    """The head's Hydra overrides that a job needs (not the sweep's, not `skip`)."""
    out = []
    for item in OmegaConf.select(config, "hydra.overrides.hydra") or []:
        text = str(item)
        if text in skip or _key(text).startswith(_NOT_FORWARDED):
            continue
        out.append(text)
    return out


def path_flags() -> List[str]:
    """`--config-name/--config-path/--config-dir` as given to the head command."""
    args = split_args(sys.argv[1:])
    out: List[str] = []
    for name, flag in _PATH_FLAGS.items():
        value = args.flags.get(name)
        if value:
            out += [flag, value]
    return out


def has_mlxp_callback(config: DictConfig) -> bool:
    callbacks = OmegaConf.select(config, "hydra.callbacks") or {}
    return any(
        isinstance(cb, DictConfig) and cb.get("_target_") == CALLBACK_TARGET
        for cb in callbacks.values()
    )


def pin_overrides(overrides: Sequence[str], log_id: Optional[int]) -> List[str]:
    """A job's task overrides with its log_id set (replacing any log_id given by the user)."""
    kept = [o for o in overrides if _key(o) != "mlxp.logger.log_id"]
    return kept if log_id is None else [*kept, f"+mlxp.logger.log_id={log_id}"]


def job_argv(
    launcher_words: Sequence[str],
    python: str,
    invocation: Invocation,
    flags: Sequence[str],
    overrides: Sequence[str],
    hydra_overrides: Sequence[str],
    add_callback: bool,
) -> List[str]:
    argv = [*launcher_words, python, *invocation.interpreter_flags, *invocation.target, *flags,
            *overrides, *hydra_overrides, "hydra.mode=RUN"]
    if add_callback:
        argv.append(f"+hydra.callbacks.mlxp._target_={CALLBACK_TARGET}")
    return argv
