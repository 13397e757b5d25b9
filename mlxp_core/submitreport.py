"""What the head reports after submitting: JobReturns for Hydra, the mlxpsub report, the summary.

The summary prints one line per job (user-facing CLI output) and raises `UsageAbort` when any
submission failed; the JSON report is what `mlxpsub` reads back from each command it runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, List

from hydra.core.utils import JobReturn, JobStatus

from mlxp_core import rundir
from mlxp_core.errors import UsageAbort
from mlxp_core.rundir import SCRIPT

if TYPE_CHECKING:  # submission imports this module
    from mlxp_core.submission import Job, Plan


def job_return(plan: Plan, job: Job, task_name: str) -> JobReturn:
    ret = JobReturn(overrides=list(job.overrides), working_dir=plan.workdir, task_name=task_name)
    ret.status = JobStatus.COMPLETED
    ret.return_value = {
        "scheduler": plan.scheduler.name if plan.scheduler else "local",
        "job_id": job.job_id, "log_id": job.log_id, "log_dir": str(job.run_dir),
        "script": str(job.run_dir / SCRIPT) if job.run_dir else None,
    }
    return ret


def progress(total: int) -> Any:
    if total < 20 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="submitting", unit="job", file=sys.stderr)


def write_report(plan: Plan, jobs: List[Job]) -> None:
    """For mlxpsub: what was submitted, as JSON (appended over several launch calls)."""
    path = plan.params.get("report")
    if not path:
        return
    done = json.loads(Path(path).read_text()) if Path(path).is_file() else []
    done += [{"log_id": j.log_id, "job_id": j.job_id, "error": j.error} for j in jobs]
    rundir.write_text_atomic(Path(path), json.dumps(done))


def summary(plan: Plan, jobs: List[Job]) -> None:
    name = plan.scheduler.name if plan.scheduler else "local"
    failed = [j for j in jobs if j.error]
    verb = "rendered (dry run)" if plan.params.get("dry_run") else "submitted"
    print(f"mlxp: {len(jobs) - len(failed)} of {len(jobs)} jobs {verb} to {name}")
    for job in jobs:
        state = f"FAILED: {job.error}" if job.error else f"job {job.job_id}" if job.job_id else ""
        print(f"  run {job.log_id}: {job.run_dir / SCRIPT if job.run_dir else ''} {state}")
    if failed:
        raise UsageAbort(
            f"{len(failed)} of {len(jobs)} submissions failed (marked SUBMIT_FAILED): "
            + "; ".join(f"run {j.log_id}: {j.error}" for j in failed)
        )
