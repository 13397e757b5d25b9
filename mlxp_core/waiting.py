"""`hydra.launcher.wait=true`: the head waits for its jobs and returns their results to Hydra.

A job is finished when its run directory records an end (COMPLETE, FAILED, INTERRUPTED), or
when the scheduler no longer lists it although it recorded none (killed before or while
running: out of memory, `qdel` without notice, node failure). Such a lost job is recorded
FAILED by the head, with what the scheduler said. Results come from each run's
`job_return.pkl`, so Hydra's optimising sweepers work over a cluster.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set

from mlxp_core import rundir, runinfo
from mlxp_core.schedulers import Scheduler

if TYPE_CHECKING:  # Hydra is imported by `results` only: `record_lost` runs in short
    from hydra.core.utils import JobReturn  # processes (mlxp_core.endnotice) that need no Hydra

log = logging.getLogger("mlxp")
TERMINAL = {runinfo.COMPLETE, runinfo.FAILED, runinfo.INTERRUPTED, runinfo.SUBMIT_FAILED}
_LEADING_ID = re.compile(r"\s*(\d+)")
# a job missing from the scheduler's list this many polls in a row is lost
MISSES_BEFORE_LOST = 3


def active_ids(scheduler: Scheduler) -> Optional[Set[str]]:
    """Base ids the scheduler still lists as queued or running; None if it cannot tell."""
    if not scheduler.active_command:
        return None
    try:
        out = subprocess.run(list(scheduler.active_command), capture_output=True, text=True,
                             timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("mlxp: %s failed: %s", scheduler.active_command, exc)
        return None
    if out.returncode != 0:
        log.debug("mlxp: %s exited %s: %s", scheduler.active_command, out.returncode, out.stderr)
        return None
    ids = set()
    for line in out.stdout.splitlines():
        if set(line.split()) & set(scheduler.finished_states):
            continue
        match = _LEADING_ID.match(line)
        if match:
            ids.add(match.group(1))
    return ids


def _base_id(job_id: str) -> str:
    match = _LEADING_ID.match(job_id)
    return match.group(1) if match else job_id


def _status(job: Any) -> str:
    data = rundir.read_yaml(job.run_dir / "metadata" / "info.yaml")
    return str(data.get("status")) if isinstance(data, dict) else "UNKNOWN"


def job_info(scheduler: Scheduler, job_id: str) -> Optional[str]:
    """What the scheduler's `job_info_command` prints about one job; None if it cannot tell."""
    if not scheduler.job_info_command:
        return None
    argv = [w.replace("{id}", job_id) for w in scheduler.job_info_command]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("mlxp: %s failed: %s", argv, exc)
        return None
    return out.stdout


def cancelled_in(scheduler: Scheduler, info_text: Optional[str]) -> bool:
    """Whether `info_text` (from :func:`job_info`) says a user deleted the job."""
    return bool(info_text and scheduler.cancelled_pattern
                and re.search(scheduler.cancelled_pattern, info_text))


def _was_cancelled(scheduler: Scheduler, job_id: str) -> bool:
    return cancelled_in(scheduler, job_info(scheduler, job_id))


def record_lost(scheduler: Scheduler, run_dir: Path, job_id: Optional[str], recorder: str,
                fact: str, belongs: Optional[Callable[[Dict[str, Any]], bool]] = None,
                cancelled: Optional[bool] = None) -> Optional[str]:
    """Record the end of a job that ended without recording one itself; the status written.

    INTERRUPTED when the scheduler says the job was deleted (its `cancelled_pattern`; asked
    here unless the caller already knows, `cancelled`), else FAILED (`JobLost`). Nothing is
    written (None) when the run has recorded an end meanwhile, or when `belongs(info)` says
    the run is not that job's any more. `recorder` says who noticed (`the head`), `fact` what
    was noticed (`no longer lists job 12`).
    """
    path = run_dir / "metadata" / "info.yaml"
    with rundir.info_lock(run_dir):
        info = rundir.read_info(run_dir)
        if info.get("status") in TERMINAL or (belongs is not None and not belongs(info)):
            return None
        end = runinfo.now()
        info["end_time"] = runinfo.iso(end)
        try:  # as the job's own ending records it: from this attempt's start
            start = _dt.datetime.fromisoformat(str(info["start_time"]))
            info["duration_s"] = round((end - start).total_seconds(), 6)
        except (KeyError, TypeError, ValueError):
            pass  # it never started
        if cancelled is None:
            cancelled = bool(job_id) and _was_cancelled(scheduler, str(job_id))
        if cancelled:
            info["status"] = runinfo.INTERRUPTED
            info["signal"] = f"SIGKILL ({scheduler.name}: job deleted; recorded by {recorder})"
        else:
            info["status"] = runinfo.FAILED
            info["error"] = {
                "type": "JobLost",
                "message": f"{scheduler.name} {fact} and the job recorded no end (killed "
                           f"without notice, out of memory, or node failure; recorded by "
                           f"{recorder}); see {run_dir / 'log.stderr'}",
                "traceback": "",
            }
        rundir.write_yaml_atomic(path, info)
        return str(info["status"])


def _mark_lost(scheduler: Scheduler, job: Any) -> None:
    record_lost(scheduler, job.run_dir, job.job_id, "the head",
                f"no longer lists job {job.job_id}")


def _bar(total: int) -> Any:
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="waiting", unit="job", file=sys.stderr)


def wait(scheduler: Scheduler, jobs: List[Any], poll_s: float, check_lost: bool) -> None:
    """Block until every job in `jobs` is finished (see the module docstring)."""
    pending = [j for j in jobs if j.run_dir is not None and not j.error]
    misses: Dict[int, int] = {}
    bar = _bar(len(pending))
    try:
        while pending:
            listed = active_ids(scheduler) if check_lost else None
            still = []
            for job in pending:
                if _status(job) in TERMINAL:
                    continue
                if listed is not None and job.job_id and _base_id(job.job_id) not in listed:
                    misses[job.idx] = misses.get(job.idx, 0) + 1
                    if misses[job.idx] >= MISSES_BEFORE_LOST and _status(job) not in TERMINAL:
                        _mark_lost(scheduler, job)
                        continue
                else:
                    misses.pop(job.idx, None)
                still.append(job)
            if bar is not None:
                bar.update(len(pending) - len(still))
            pending = still
            if pending:
                time.sleep(poll_s)
    finally:
        if bar is not None:
            bar.close()


def results(jobs: List[Any], workdir: str, task_name: str) -> List[JobReturn]:
    from mlxp_core import jobreturn

    out = []
    for job in jobs:
        record = jobreturn.load(job.run_dir) if job.run_dir is not None else None
        meta: Dict[str, Any] = {}
        if job.run_dir is not None:
            meta = rundir.read_yaml(job.run_dir / "metadata" / "info.yaml") or {}
        why = (meta.get("error") or {}).get("message") or job.error or "no result"
        out.append(jobreturn.to_job_return(
            record, job.overrides, workdir, task_name,
            f"run {job.log_id} ended {meta.get('status', runinfo.SUBMIT_FAILED)}: {why}"))
    return out
