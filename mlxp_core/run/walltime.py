"""What a run does when its scheduler warns it before the walltime (or a preemption).

The job script exports `MLXP_SIGNAL_BEFORE_S` (from `hydra.launcher.signal_before_walltime_s`
or mlxpsub's `#MLXP signal_before_walltime_s=N`), `MLXP_MAX_REQUEUES` and, when `time` was
requested, `MLXP_WALLTIME_S`. The scheduler then sends its warning signal
(`Scheduler.warning_signal`: SLURM `--signal=B:USR1@N`, Grid Engine `s_rt` -> SIGUSR1, OAR
`--checkpoint N` -> SIGUSR2, LSF `-wa USR1 -wt`, Moab `-l signal=SIGUSR1@N`); a scheduler
without one (TORQUE/PBS) gets mlxp's own timer (SIGALRM at `time` - N).

On the warning, rank 0 (once; later copies of the signal are ignored):

1. calls the checkpoint hooks registered with `ctx.on_checkpoint(fn)`, within N seconds minus
   a margin (a hook still running then is abandoned, and that is recorded);
2. tells timeout from preemption as submitit does: a warning after
   min(80 % of the walltime, walltime - 10 min) of run time is the walltime, an earlier one a
   preemption (unknown walltime: timeout);
3. requeues the job: `scontrol requeue <id>` (SLURM), or exit status 99 (Grid Engine reruns
   the job, OAR resubmits an idempotent job, LSF requeues with `-Q "99"`); a timeout only while
   fewer than `max_requeues` timeouts were requeued (preemptions are not counted);
4. ends the run INTERRUPTED with `interruption: {reason, signal, checkpoint, requeued, ...}`.

The next attempt runs the same script in the same run directory (`attempt: N+1`) and resumes
from the checkpoint (`ctx.logger.load_checkpoint`).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

from mlxp_core.record.atomic import write_text_atomic
from mlxp_core.record.layout import (
    MAX_REQUEUES_ENV,
    METADATA,
    REQUEUE_MARKER,
    WALLTIME_ENV,
    WARNING_ENV,
)
from mlxp_core.schedulers import Scheduler, get_scheduler

log = logging.getLogger("mlxp")

TIMEOUT = "timeout"
PREEMPTION = "preemption"
HOOK_MARGIN = 0.2  # hooks get (1 - margin) of the warning time: the rest is for the record
REQUEUE_COMMAND_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class WalltimeWarning:
    """The walltime warning a job was set up for (`plan` reads it from the environment)."""

    before_s: int
    walltime_s: Optional[int]
    max_requeues: int
    signum: int
    scheduler: Optional[Scheduler]
    self_timer: bool  # no scheduler signal: mlxp's own SIGALRM


def plan(environ: Mapping[str, str], scheduler_name: Optional[str]) -> Optional[WalltimeWarning]:
    """The job's warning setup, or None when the job script asked for none."""
    before = environ.get(WARNING_ENV)
    if not before:
        return None
    scheduler = get_scheduler(scheduler_name) if scheduler_name else None
    walltime = environ.get(WALLTIME_ENV) or environ.get("OAR_JOB_WALLTIME_SECONDS")
    name = scheduler.warning_signal if scheduler else ""
    return WalltimeWarning(
        before_s=int(before), walltime_s=int(walltime) if walltime else None,
        max_requeues=int(environ.get(MAX_REQUEUES_ENV) or 0),
        signum=int(getattr(signal, name)) if name else int(signal.SIGALRM),
        scheduler=scheduler, self_timer=not name)


def arm(warning: WalltimeWarning, elapsed_s: float) -> None:
    """Start mlxp's own timer when the scheduler sends no warning (needs the walltime)."""
    if warning.self_timer and warning.walltime_s:
        signal.alarm(max(1, int(warning.walltime_s - warning.before_s - elapsed_s)))


def disarm(warning: Optional[WalltimeWarning]) -> None:
    if warning is not None and warning.self_timer:
        signal.alarm(0)


def reason(warning: WalltimeWarning, elapsed_s: float) -> str:
    """timeout or preemption, by the run time when the warning came (submitit's rule)."""
    if not warning.walltime_s:
        return TIMEOUT
    guaranteed = min(warning.walltime_s * 0.8, warning.walltime_s - 10 * 60)
    return TIMEOUT if elapsed_s >= guaranteed else PREEMPTION


def run_hooks(hooks: List[Callable[[], Any]], budget_s: float) -> Dict[str, Any]:
    """Call the checkpoint hooks in order, in a thread, within `budget_s` seconds in all.

    The main thread is stopped in the signal handler meanwhile, so the hooks see the task's
    state as it was when the signal came. A hook that raises is recorded (type, message,
    traceback) and the next hooks still run; a hook still running after the budget is left
    behind (a daemon thread the process exit ends) and recorded as timed out.
    """
    if not hooks:
        return {"checkpoint": "none registered"}
    outcome: Dict[str, Any] = {"checkpoint": "saved"}

    def call_all() -> None:
        for hook in hooks:
            try:
                hook()
            except BaseException as exc:  # recorded; the run still ends INTERRUPTED
                outcome["checkpoint"] = "failed"
                outcome["checkpoint_error"] = {
                    "type": type(exc).__name__, "message": str(exc),
                    "traceback": "".join(traceback.format_exception(
                        type(exc), exc, exc.__traceback__))}
                log.error("mlxp: checkpoint hook %r raised %s: %s", hook, type(exc).__name__,
                          exc)

    started = time.monotonic()
    worker = threading.Thread(target=call_all, daemon=True, name="mlxp-checkpoint")
    worker.start()
    worker.join(timeout=max(0.0, budget_s))
    outcome["checkpoint_s"] = round(time.monotonic() - started, 3)
    if worker.is_alive():
        outcome["checkpoint"] = "timed out"
        outcome["checkpoint_error"] = {
            "type": "CheckpointTimeout",
            "message": f"the checkpoint hook was still running {budget_s:g} s after the "
                       f"warning; the run ended without waiting for it",
            "traceback": ""}
        log.error("mlxp: checkpoint hook still running after %.1f s: abandoned", budget_s)
    return outcome


def requeue(warning: WalltimeWarning, why: str, info: Mapping[str, Any], run_dir: Path
            ) -> Dict[str, Any]:
    """Ask the scheduler to run the job again; returns what is recorded, and `exit_status`."""
    counted = (info.get("requeues") or {}).get(TIMEOUT, 0)
    sched = warning.scheduler
    if why == TIMEOUT and counted >= warning.max_requeues:
        return {"requeued": False,
                "requeue": f"not requeued: {counted} timeout(s) requeued already "
                           f"(max_requeues={warning.max_requeues})"}
    if sched is None:
        return {"requeued": False, "requeue": "not requeued: not a scheduler job"}
    job = info.get("scheduler") if isinstance(info.get("scheduler"), dict) else {}
    job_id = str((job or {}).get("job_id") or "")
    if sched.requeue_command:
        argv = [word.replace("{job_id}", job_id) for word in sched.requeue_command]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                                  timeout=REQUEUE_COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            return {"requeued": False, "requeue": f"`{' '.join(argv)}` failed: {exc}"}
        if proc.returncode != 0:
            said = (proc.stderr or proc.stdout).strip()
            return {"requeued": False,
                    "requeue": f"`{' '.join(argv)}` exited {proc.returncode}: {said}"}
        return {"requeued": True, "requeue": " ".join(argv)}
    if sched.requeue_exit_status is not None:
        # the job script exits with it too (all ranks' launcher ends with its own status)
        write_text_atomic(run_dir / METADATA / REQUEUE_MARKER, f"{why}\n")
        return {"requeued": True, "requeue": f"exit {sched.requeue_exit_status}",
                "exit_status": sched.requeue_exit_status}
    return {"requeued": False,
            "requeue": f"not requeued: {sched.name} offers a job no way to requeue itself"}


def ignore_later(signum: int) -> None:
    """Copies of the warning arrive twice (process group + the script's forwarding)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signum, signal.SIG_IGN)

