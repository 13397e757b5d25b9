"""Record a run whose job the scheduler ended abnormally, when the scheduler itself says so.

OAR's ``oardel`` (and its walltime) SIGKILL every process of a job with no catchable signal
first, so the job cannot record its own end and its run would stay RUNNING. OAR can run a
command of the user's when a job ends (``oarsub --notify "[ERROR]exec:<command>"``): it runs
it as the job's user, through ssh, on the host that submitted the job, with the arguments
``<job id> <job name> <tag> <comment>`` appended, once per event and outside the job (its
cpuset is gone by then). So every single OAR job script mlxp renders carries::

    #OAR --notify [ERROR]exec:<python> -m mlxp_core.endnotice oar <run dir>

and OAR runs, when the job has ended in state Error::

    <python> -m mlxp_core.endnotice oar <run dir> <job id> <job name> ERROR <comment>

This records, exactly as a head waiting for the job would (:func:`mlxp_core.waiting.record_lost`),
INTERRUPTED when OAR says the job was deleted (``oardel``, walltime: one ``oarstat`` call), else
FAILED (``JobLost``); and only while the run still shows that very job RUNNING (or SUBMITTED, if
it never started): a job that recorded its own end, or an earlier attempt's late notice, is left
alone. Nothing polls: the cost is one short process per abnormally ended job.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from mlxp_core import runinfo

log = logging.getLogger("mlxp")
RECORDER = "the scheduler's end notification"
TAGS = ("RUNNING", "END", "ERROR", "INFO", "SUSPENDED", "RESUMING")  # OAR's
USAGE = ("usage: python -m mlxp_core.endnotice <scheduler> <run dir> <job id> [<job name> "
         "<tag> <comment>...]")


def _job_of(info: Dict[str, Any]) -> Optional[str]:
    """The job id the run belongs to now: the running attempt's, else the submitted one."""
    key = "scheduler" if info.get("status") == runinfo.RUNNING else "submit"
    record = info.get(key)
    job_id = record.get("job_id") if isinstance(record, dict) else None
    return None if job_id is None else str(job_id)


def record(scheduler_name: str, run_dir: Path, job_id: str, tag: str = "ERROR") -> Optional[str]:
    """Record the abnormal end of job `job_id` in `run_dir`; the status written, or None."""
    from mlxp_core.schedulers import get_scheduler
    from mlxp_core.waiting import record_lost

    if tag != "ERROR":
        log.info("mlxp: %s notice %s for job %s: nothing to record", scheduler_name, tag, job_id)
        return None
    if not (run_dir / "metadata" / "info.yaml").is_file():
        log.error("mlxp: %s is not a run directory (no metadata/info.yaml)", run_dir)
        return None
    status = record_lost(get_scheduler(scheduler_name), run_dir, job_id, RECORDER,
                         f"ended job {job_id} in error",
                         belongs=lambda info: _job_of(info) == job_id)
    log.info("mlxp: %s job %s ended in error: run %s %s", scheduler_name, job_id, run_dir,
             status or "unchanged (it recorded its end, or belongs to another job)")
    return status


def main(argv: Optional[Sequence[str]] = None) -> int:
    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if len(args) < 3:
        log.error(USAGE)
        return 2
    scheduler_name, run_dir, job_id = args[:3]
    # OAR passes "<job name> <tag>"; an empty job name vanishes from its command line
    tag = next((word for word in args[3:5] if word in TAGS), "ERROR")
    try:
        record(scheduler_name, Path(run_dir), job_id, tag)
    except (OSError, ValueError) as exc:
        log.error("mlxp: could not record the end of job %s in %s: %s", job_id, run_dir, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
