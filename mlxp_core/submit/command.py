"""The command a job runs: the head's own command, pinned to one sweep point and run directory.

A job re-invokes the user's script (`python main.py lr=0.1 seed=1 ...`) in RUN mode, with the
Hydra overrides and `--config-name/--config-path/--config-dir` flags of the head command, and
the output directory and job number a multirun job would have had. The job script also exports
`MLXP_RUN_DIR`, the run directory the head allocated, which the job's callback adopts.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence

from omegaconf import DictConfig, OmegaConf

from mlxp_core.hydra_app.argv import split_args
from mlxp_core.run import CALLBACK_TARGET
from mlxp_core.run.job_config import raw_list
from mlxp_core.settings import override_key

# Hydra overrides that belong to the head's sweep, never to a job
_NOT_FORWARDED = ("hydra.mode", "hydra/launcher", "hydra.launcher", "hydra.sweep", "hydra.sweeper",
                  "hydra/sweeper")
_PATH_FLAGS = {"config_name": "--config-name", "config_path": "--config-path",
               "config_dir": "--config-dir"}


@dataclass
class Invocation:
    """How the head process was started: interpreter flags, the script (or `-m module`) and
    the `--config-name/--config-path/--config-dir` flags given to it."""

    interpreter_flags: List[str] = field(default_factory=list)
    target: List[str] = field(default_factory=list)  # ['main.py'] or ['-m', 'pkg.main']
    target_file: Optional[str] = None
    config_flags: List[str] = field(default_factory=list)


def head_invocation() -> Invocation:
    """Read once, at the start of a launch, from the process's command line.

    `sys.argv` is what Hydra parsed (the decorator hands Hydra its command line there);
    `sys.orig_argv` has the interpreter's own flags.
    """
    orig = list(getattr(sys, "orig_argv", []) or [sys.executable, *sys.argv])
    argv0 = sys.argv[0] if sys.argv else ""
    flags = _config_flags(sys.argv[1:])
    for i, word in enumerate(orig[1:], start=1):
        if word == "-m" and i + 1 < len(orig):
            return Invocation(orig[1:i], ["-m", orig[i + 1]], os.path.abspath(argv0), flags)
        if word == "-c":
            return Invocation(config_flags=flags)
        if word == argv0:
            return Invocation(orig[1:i], [argv0], os.path.abspath(argv0), flags)
    return Invocation(config_flags=flags)


def can_reinvoke(invocation: Invocation, task_function: Optional[Callable[..., Any]]) -> bool:
    """True when the task is defined in the script the head runs, so a job can run it again."""
    if not invocation.target or task_function is None or invocation.target_file is None:
        return False
    try:
        task_file = inspect.getfile(inspect.unwrap(task_function))
    except TypeError:
        return False
    return os.path.realpath(task_file) == os.path.realpath(invocation.target_file)


def forwarded_hydra_overrides(config: DictConfig, skip: Sequence[str] = ()) -> List[str]:
    """The head's Hydra overrides that a job needs (not the sweep's, not `skip`)."""
    out = []
    for text in raw_list(config, "hydra.overrides.hydra"):
        if text in skip or override_key(text).startswith(_NOT_FORWARDED):
            continue
        out.append(text)
    return out


def _config_flags(argv: List[str]) -> List[str]:
    """`--config-name/--config-path/--config-dir` as given to the head command."""
    args = split_args(argv)
    out: List[str] = []
    for name, flag in _PATH_FLAGS.items():
        value = args.flags.get(name)
        if value:
            out += [flag, value]
    return out


_PLAIN_VALUE = re.compile(r"[\w/.:+@%-]*(\$\{[\w.:-]*\}[\w/.:+@%-]*)*\Z")


def hydra_value(text: str) -> str:
    """`text` as a value in Hydra's override grammar (quoted unless plainly safe)."""
    if _PLAIN_VALUE.match(text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def multirun_job_overrides(config: DictConfig, idx: int) -> List[str]:
    """Hydra overrides giving a RUN-mode job the output dir and number of multirun job `idx`."""
    sweep_dir = os.path.abspath(str(OmegaConf.select(config, "hydra.sweep.dir")))
    sweep = OmegaConf.to_container(config.hydra.sweep, resolve=False)
    assert isinstance(sweep, dict)
    subdir = str(sweep.get("subdir") or ".")
    run_dir = subdir if os.path.isabs(subdir) else f"{sweep_dir}/{subdir}"
    return [f"hydra.run.dir={hydra_value(run_dir)}", f"hydra.job.num={idx}"]


def job_argv(
    launcher_words: Sequence[str],
    python: str,
    invocation: Invocation,
    overrides: Sequence[str],
    hydra_overrides: Sequence[str],
    add_callback: bool,
) -> List[str]:
    argv = [*launcher_words, python, *invocation.interpreter_flags, *invocation.target,
            *invocation.config_flags, *overrides, *hydra_overrides, "hydra.mode=RUN"]
    if add_callback:
        argv.append(f"+hydra.callbacks.mlxp._target_={CALLBACK_TARGET}")
    return argv
