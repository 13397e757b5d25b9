"""What the head reports after submitting: JobReturns for Hydra, the mlxpsub report, the one
summary a command prints, and the progress bar of long loops.

One command prints one summary: a launcher run by `mlxpsub` hands its jobs back in the
report file instead (`handoff`), and `mlxpsub` prints the summary of all its commands.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, List, Optional

from hydra.core.utils import JobReturn, JobStatus

from mlxp_core.errors import UsageAbort
from mlxp_core.record.info import shorten
from mlxp_core.record.layout import SCRIPT
from mlxp_core.submit import handoff

if TYPE_CHECKING:
    from mlxp_core.submit.plan import Job, Plan

# at most this many distinct failure messages are listed; identical ones are counted
MAX_FAILURE_KINDS = 5


def job_return(plan: Plan, job: Job) -> JobReturn:
    """What Hydra gets for a job that was submitted, not waited for: where it went."""
    ret = JobReturn(overrides=list(job.overrides), working_dir=plan.workdir,
                    task_name=plan.task_name)
    ret.status = JobStatus.COMPLETED
    ret.return_value = {
        "scheduler": plan.scheduler_name,
        "job_id": job.job_id, "log_id": job.log_id, "log_dir": str(job.run_dir),
        "script": str(job.run_dir / SCRIPT) if job.run_dir else None,
    }
    return ret


def progress(total: int, desc: str, minimum: int = 20) -> Any:
    """A tqdm bar on stderr for `total` items, only on a terminal and for long loops."""
    if total < minimum or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="job", file=sys.stderr)


def write_handoff_report(plan: Plan, jobs: List[Job]) -> None:
    """Under mlxpsub: append what was submitted to the report it named."""
    if plan.params.report:
        handoff.append_report(Path(plan.params.report), [
            handoff.Submitted(j.log_id, j.job_id, j.error,
                              str(j.run_dir) if j.run_dir else None) for j in jobs])


_COMMAND = re.compile(r"`(\S+) [^`]*`")


def failure_kind(message: str) -> str:
    """A failure message without what differs from job to job (the submitted script's path
    in the quoted command): `slurm: `sbatch ...` failed with exit status 1: <said>`."""
    return _COMMAND.sub(r"`\1 ...`", message)


def failure_lines(errors: Iterable[str]) -> List[str]:
    """Identical failure messages once each, with their count (most frequent first); each
    message cut to `record.info.MAX_MESSAGE_CHARS` (a scheduler may answer pages)."""
    counts = Counter(failure_kind(e) for e in errors)
    lines = [f"{n} x {shorten(message)}" if n > 1 else shorten(message)
             for message, n in counts.most_common(MAX_FAILURE_KINDS)]
    if len(counts) > MAX_FAILURE_KINDS:
        lines.append(f"... and {len(counts) - MAX_FAILURE_KINDS} other messages")
    return lines


def print_jobs(lines: Iterable[tuple[Optional[int], Optional[str], Optional[str],
                                     Optional[str]]]) -> None:
    """One line per job: `run <id>: <script> job <job id>` or `... FAILED` (CLI output)."""
    for log_id, run_dir, job_id, error in lines:
        script = f"{run_dir}/{SCRIPT}" if run_dir else ""
        state = "SUBMIT_FAILED" if error else f"job {job_id}" if job_id else ""
        print(f"  run {log_id}: {script} {state}".rstrip())


def summary(plan: Plan, jobs: List[Job]) -> None:
    """The command's summary (unless mlxpsub prints it); `UsageAbort` if a submission failed."""
    failed = [j for j in jobs if j.error]
    if plan.params.report:  # mlxpsub reports for the whole script
        if failed:
            raise SystemExit(1)
        return
    verb = "rendered (dry run)" if plan.params.dry_run else "submitted"
    sweep = f" (sweep {plan.sweep['id']})" if plan.sweep else ""
    print(f"mlxp: {len(jobs) - len(failed)} of {len(jobs)} jobs {verb} to "
          f"{plan.scheduler_name}{sweep}")
    print_jobs((j.log_id, str(j.run_dir) if j.run_dir else None, j.job_id, j.error)
               for j in jobs)
    if failed:
        raise UsageAbort(
            f"{len(failed)} of {len(jobs)} submissions failed (marked SUBMIT_FAILED): "
            + "; ".join(failure_lines(j.error or "" for j in failed)))
