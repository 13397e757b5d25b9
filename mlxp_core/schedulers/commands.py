"""Every scheduler command mlxp runs (no shell): submit, cancel, list, one job's record.

Call :func:`check_submit_command` before creating anything on disk, so that a head node without
the scheduler fails early with :class:`SubmitCommandNotFound`. What the commands are and how
their output reads is in each scheduler's description; this module only runs them.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import stat
import subprocess
from typing import IO, Mapping, Optional, Set

from mlxp_core.schedulers.base import (
    Scheduler,
    SubmitCommandNotFound,
    SubmitError,
    parse_job_id,
)

__all__ = [
    "SubmitCommandNotFound",
    "SubmitError",
    "active_ids",
    "cancel",
    "cancelled_in",
    "check_submit_command",
    "job_info",
    "parse_job_id",
    "submit",
]

logger = logging.getLogger(__name__)

SUBMIT_TIMEOUT_S = 120.0


def _which(scheduler: Scheduler, command: str, env: Optional[Mapping[str, str]]) -> str:
    search = (os.environ if env is None else env).get("PATH", os.defpath)
    found = shutil.which(command, path=search)
    if found is None:
        raise SubmitCommandNotFound(
            f"{scheduler.name}: command {command!r} not found on PATH ({search}); run on a "
            f"submit host of the cluster, or load the scheduler's environment module",
            command=command,
        )
    return found


def check_submit_command(scheduler: Scheduler, env: Optional[Mapping[str, str]] = None) -> str:
    """Absolute path of the submit command, or :class:`SubmitCommandNotFound`.

    ``env``: the environment whose ``PATH`` is searched (default ``os.environ``).
    """
    return _which(scheduler, scheduler.submit_command[0], env)


def submit(scheduler: Scheduler, script_path: str, cwd: str,
           env: Optional[Mapping[str, str]] = None, timeout: float = SUBMIT_TIMEOUT_S) -> str:
    """Submit ``script_path`` from directory ``cwd``; returns the job id the scheduler printed.

    ``env`` is the submit command's environment (default: inherited). Raises
    :class:`SubmitCommandNotFound` when the command is missing, :class:`SubmitError` when it
    fails (message: command, exit status, the scheduler's stderr) or prints no job id.
    """
    executable = check_submit_command(scheduler, env)
    script = os.path.abspath(os.path.join(cwd, script_path))
    if not os.path.isdir(cwd):
        raise SubmitError(f"{scheduler.name}: submit directory {cwd!r} does not exist")
    if not os.path.isfile(script):
        raise SubmitError(f"{scheduler.name}: job script {script!r} does not exist")
    if scheduler.script_must_be_executable:
        _make_executable(script)
    argv = [executable, *scheduler.submit_command[1:]]
    shown = shlex.join([*scheduler.submit_command, script])
    if scheduler.submit_via_stdin:
        shown = f"{shlex.join(scheduler.submit_command)} < {shlex.quote(script)}"
        with open(script, "rb") as stdin:
            out = _run(scheduler, argv, shown, cwd, env, stdin, timeout)
    else:
        out = _run(scheduler, [*argv, script], shown, cwd, env, None, timeout)
    job_id = parse_job_id(scheduler, out.stdout, command=shown)
    logger.debug("%s: submitted %s as job %s", scheduler.name, script, job_id)
    return job_id


def cancel(scheduler: Scheduler, job_id: str, env: Optional[Mapping[str, str]] = None,
           timeout: float = SUBMIT_TIMEOUT_S) -> None:
    """Cancel ``job_id`` with the scheduler's cancel command; :class:`SubmitError` if it fails."""
    executable = _which(scheduler, scheduler.cancel_command[0], env)
    argv = [executable, *scheduler.cancel_command[1:], str(job_id)]
    shown = shlex.join([*scheduler.cancel_command, str(job_id)])
    _run(scheduler, argv, shown, None, env, None, timeout)
    logger.debug("%s: cancelled job %s", scheduler.name, job_id)


def _make_executable(path: str) -> None:
    mode = os.stat(path).st_mode
    wanted = mode | stat.S_IXUSR | (stat.S_IXGRP if mode & stat.S_IRGRP else 0) | (
        stat.S_IXOTH if mode & stat.S_IROTH else 0)
    if wanted != mode:
        os.chmod(path, wanted)


def _run(scheduler: Scheduler, argv: list[str], shown: str, cwd: Optional[str],
         env: Optional[Mapping[str, str]], stdin: Optional[IO[bytes]],
         timeout: float) -> subprocess.CompletedProcess[str]:
    logger.debug("%s: running %s (cwd=%s)", scheduler.name, shown, cwd)
    full_env = dict(os.environ if env is None else env)
    if cwd is not None:
        # OAR takes the job's directory from $PWD, not from the process's working directory
        full_env["PWD"] = os.path.abspath(cwd)
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=full_env,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            capture_output=True, timeout=timeout, check=False,
        )
    except FileNotFoundError as exc:
        raise SubmitCommandNotFound(f"{scheduler.name}: cannot run `{shown}`: {exc}",
                                    command=shown) from exc
    except subprocess.TimeoutExpired as exc:
        raise SubmitError(f"{scheduler.name}: `{shown}` did not finish within {timeout:g} s",
                          command=shown) from exc
    out = subprocess.CompletedProcess(
        argv, proc.returncode, _decode(proc.stdout), _decode(proc.stderr))
    if out.returncode != 0:
        said = out.stderr.strip() or out.stdout.strip() or "(no output)"
        raise SubmitError(
            f"{scheduler.name}: `{shown}` failed with exit status {out.returncode}: {said}",
            command=shown, returncode=out.returncode, stdout=out.stdout, stderr=out.stderr,
        )
    return out


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


_LEADING_ID = re.compile(r"\s*(\d+)")


def base_id(job_id: str) -> str:
    """The leading number of a job id (`12` of `12.server`, `12_3`, `12[3]`)."""
    match = _LEADING_ID.match(job_id)
    return match.group(1) if match else job_id


def active_ids(scheduler: Scheduler) -> Optional[Set[str]]:
    """Base ids the scheduler still lists as queued or running; None if it cannot tell."""
    if not scheduler.active_command:
        return None
    try:
        out = subprocess.run(list(scheduler.active_command), capture_output=True, text=True,
                             timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("mlxp: %s failed: %s", scheduler.active_command, exc)
        return None
    if out.returncode != 0:
        logger.debug("mlxp: %s exited %s: %s", scheduler.active_command, out.returncode,
                     out.stderr)
        return None
    ids = set()
    for line in out.stdout.splitlines():
        if set(line.split()) & set(scheduler.finished_states):
            continue
        match = _LEADING_ID.match(line)
        if match:
            ids.add(match.group(1))
    return ids


def job_info(scheduler: Scheduler, job_id: str) -> Optional[str]:
    """What the scheduler's `job_info_command` prints about one job; None if it cannot tell."""
    if not scheduler.job_info_command:
        return None
    argv = [w.replace("{id}", job_id) for w in scheduler.job_info_command]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("mlxp: %s failed: %s", argv, exc)
        return None
    return out.stdout


def cancelled_in(scheduler: Scheduler, info_text: Optional[str]) -> bool:
    """Whether `info_text` (from :func:`job_info`) says a user deleted the job."""
    return bool(info_text and scheduler.cancelled_pattern
                and re.search(scheduler.cancelled_pattern, info_text))


def was_cancelled(scheduler: Scheduler, job_id: Optional[str]) -> bool:
    """Ask the scheduler whether job `job_id` was deleted by a user (one call)."""
    return bool(job_id) and cancelled_in(scheduler, job_info(scheduler, str(job_id)))
