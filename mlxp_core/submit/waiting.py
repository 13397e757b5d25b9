"""`hydra.launcher.wait=true`: the head waits for its jobs and returns their results to Hydra.

A job is finished when its run directory records an end (COMPLETE, FAILED, INTERRUPTED), or
when the scheduler no longer lists it although it recorded none (killed before or while
running: out of memory, `qdel` without notice, node failure). Such a lost job is recorded
FAILED by the head, with what the scheduler said. Results come from each run's
`job_return.pkl`, so Hydra's optimising sweepers work over a cluster.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List

from hydra.core.utils import JobReturn

from mlxp_core.record import info as run_info
from mlxp_core.run import jobreturn
from mlxp_core.schedulers import Scheduler
from mlxp_core.schedulers.commands import active_ids, base_id, was_cancelled
from mlxp_core.submit.report import progress

log = logging.getLogger("mlxp")
# a job missing from the scheduler's list this many polls in a row is lost
MISSES_BEFORE_LOST = 3


def _mark_lost(scheduler: Scheduler, job: Any) -> None:
    run_info.record_lost(job.run_dir, scheduler.name, was_cancelled(scheduler, job.job_id),
                         "the head", f"no longer lists job {job.job_id}")


def wait(scheduler: Scheduler, jobs: List[Any], poll_s: float, check_lost: bool) -> None:
    """Block until every job in `jobs` is finished (see the module docstring)."""
    pending = [j for j in jobs if j.run_dir is not None and not j.error]
    misses: Dict[int, int] = {}
    bar = progress(len(pending), "waiting", minimum=1)
    try:
        while pending:
            listed = active_ids(scheduler) if check_lost else None
            still = []
            for job in pending:
                if run_info.read_status(job.run_dir) in run_info.TERMINAL:
                    continue
                if listed is not None and job.job_id and base_id(job.job_id) not in listed:
                    misses[job.idx] = misses.get(job.idx, 0) + 1
                    if (misses[job.idx] >= MISSES_BEFORE_LOST
                            and run_info.read_status(job.run_dir) not in run_info.TERMINAL):
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
    out = []
    for job in jobs:
        record = jobreturn.load(job.run_dir) if job.run_dir is not None else None
        meta: Dict[str, Any] = run_info.read_info(job.run_dir) if job.run_dir else {}
        why = (meta.get("error") or {}).get("message") or job.error or "no result"
        out.append(jobreturn.to_job_return(
            record, job.overrides, workdir, task_name,
            f"run {job.log_id} ended {meta.get('status', run_info.SUBMIT_FAILED)}: {why}"))
    return out
