"""Tutorial-style apps and batch scripts for the real schedulers, and reading their run dirs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

import yaml
from conftest import run_dirs, write_app

log = logging.getLogger(__name__)

JOB_SCRIPT = "job.sh"
STARTED = "TASK-STARTED"
FAILING_SEED = 13
NUM_EPOCH = 3  # tests/conftest.py CONFIG
ENDED_STATUSES = ("COMPLETE", "FAILED", "INTERRUPTED")

# The tutorial's loop (examples/tutorial/main.py) without torch; one seed fails.
TRAIN = f"""
cfg = ctx.config
print('{STARTED}', 'LR', cfg.optimizer.lr, 'SEED', cfg.seed, flush=True)
for epoch in range(cfg.num_epoch):
    time.sleep(0.2)
    ctx.logger.log_metrics({{'loss': cfg.optimizer.lr / (epoch + 1), 'epoch': epoch}},
                           log_name='train')
if cfg.seed == {FAILING_SEED}:
    raise RuntimeError('unlucky seed')
"""

# Runs until cancelled (bounded, so that a lost job cannot hold a node for long).
LONG = f"""
print('{STARTED}', 'SEED', ctx.config.seed, flush=True)
ctx.logger.log_metrics({{'epoch': 0}}, log_name='train')
deadline = time.time() + 150
while time.time() < deadline:
    time.sleep(0.1)
"""

# Directives a user would write: small walltime, one core.
DIRECTIVES: Dict[str, Sequence[str]] = {
    "slurm": ("#SBATCH --time=00:03:00", "#SBATCH --ntasks=1", "#SBATCH --cpus-per-task=1"),
    "sge": ("#$ -l h_rt=00:03:00",),
    "oar": ("#OAR -l core=1,walltime=00:03:00",),
}


def write_train_app(directory: Path) -> Path:
    return write_app(directory, TRAIN)


def write_long_app(directory: Path) -> Path:
    return write_app(directory, LONG)


def batch_script(scheduler: str, python_dir: str, commands: Sequence[str],
                 directives: Sequence[str] = ()) -> str:
    """A user's batch script: shebang, directives, PATH to the Python, the python commands.

    ``directives``: more directive lines (with their prefix), after the default ones.
    """
    lines = ["#!/bin/bash", *DIRECTIVES[scheduler], *directives,
             f"export PATH={python_dir}:$PATH", *commands]
    return "\n".join(lines) + "\n"


def write_batch_script(directory: Path, scheduler: str, python_dir: str,
                       commands: Sequence[str], directives: Sequence[str] = ()) -> Path:
    path = directory / JOB_SCRIPT
    path.write_text(batch_script(scheduler, python_dir, commands, directives))
    return path


def mlxpsub_argv(python: str = sys.executable) -> list[str]:
    """How a user starts mlxpsub with this Python: its console script, else ``-m``."""
    script = Path(python).parent / "mlxpsub"
    if script.is_file():
        return [str(script)]
    return [python, "-m", "mlxp_core.cli.mlxpsub"]


_SCHEDULER_VAR_PREFIXES = ("SLURM_", "OAR_", "PBS_", "SGE_", "LSB_", "MOAB_", "FAKE_SCHED_")


def clean_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """This process's environment without anything that looks like a scheduler job's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_SCHEDULER_VAR_PREFIXES)
           and k not in ("JOB_ID", "JOB_NAME", "HYDRA_FULL_ERROR", "MLXPSUB_SPEC")}
    env.update(extra or {})
    return env


def run_mlxpsub(directory: Path, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    """``mlxpsub job.sh`` in ``directory`` as root, with root's Python."""
    return subprocess.run([*mlxpsub_argv(), JOB_SCRIPT], cwd=directory, env=clean_env(),
                          capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)


# --------------------------------------------------------------------------------------------
# Run directories
# --------------------------------------------------------------------------------------------


def info(run_dir: Path) -> Dict[str, Any]:
    data = yaml.safe_load((run_dir / "metadata" / "info.yaml").read_text())
    if not isinstance(data, dict):
        raise RuntimeError(f"{run_dir}/metadata/info.yaml is not a mapping: {data!r}")
    return data


def run_dir_paths(app: Path) -> list[Path]:
    return [app / "logs" / str(i) for i in run_dirs(app)]


def submitted_ids(app: Path) -> Dict[Path, str]:
    """``{run dir: job id}`` as the submission recorded it in ``info.yaml`` ``submit.job_id``."""
    ids = {}
    for run_dir in run_dir_paths(app):
        job_id = (info(run_dir).get("submit") or {}).get("job_id")
        if not job_id:
            raise RuntimeError(f"{run_dir}: no submit.job_id in info.yaml: {info(run_dir)}")
        ids[run_dir] = str(job_id)
    return ids


def wait_ended(run_dir: Path, timeout: float = 10.0) -> Dict[str, Any]:
    """``info.yaml`` once its status is an ending, or as it is after ``timeout`` s.

    A scheduler may report a job ended a moment before its processes have exited; a job killed
    with SIGKILL stays RUNNING for ever (the caller's assertion then shows it).
    """
    deadline = time.monotonic() + timeout
    while True:
        data = info(run_dir)
        if data.get("status") in ENDED_STATUSES or time.monotonic() > deadline:
            return data
        time.sleep(0.1)


def wait_for_text(path: Path, text: str, timeout: float) -> str:
    """The content of ``path`` once it holds ``text``; TimeoutError (not an assertion) if never."""
    deadline = time.monotonic() + timeout
    while True:
        content = path.read_text(errors="replace") if path.is_file() else ""
        if text in content:
            return content
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} still lacks {text!r} after {timeout:g} s: {content!r}")
        time.sleep(0.2)


def tail(path: Path, lines: int = 15) -> str:
    if not path.is_file():
        return f"({path.name} missing)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def describe(run_dir: Path) -> str:
    """Diagnostics for an assertion message: status, and the job's log tails."""
    meta = info(run_dir) if (run_dir / "metadata" / "info.yaml").is_file() else {}
    return (f"\n--- {run_dir}: status {meta.get('status')}, submit {meta.get('submit')}, "
            f"scheduler {meta.get('scheduler')}\n--- log.stdout:\n{tail(run_dir / 'log.stdout')}"
            f"\n--- log.stderr:\n{tail(run_dir / 'log.stderr')}")


# a task that checkpoints on the walltime warning (ctx.on_checkpoint) and resumes from it
CHECKPOINT_ON_WARNING_APP = """
try:
    state = ctx.logger.load_checkpoint('last_ckpt')
    print('RESUMED FROM', state['epoch'], flush=True)
except FileNotFoundError:
    state = {'epoch': -1}
current = dict(state)
ctx.on_checkpoint(lambda: ctx.logger.log_checkpoint(dict(current), 'last_ckpt'))
print('TASK-STARTED', ctx.info.attempt, flush=True)
for epoch in range(state['epoch'] + 1, 100000):
    current['epoch'] = epoch
    ctx.logger.log_metrics({'epoch': epoch}, log_name='train')
    if ctx.info.attempt >= 2 and epoch >= state['epoch'] + 3:
        break
    time.sleep(0.5)
"""
