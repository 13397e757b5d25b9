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

An array script (``hydra.launcher.array=true``) serves many run directories; it names the
array's run list instead (``<parent>/.arrays/<first>-<last>.runs.json``, see
:mod:`mlxp_core.submit.arrays`)::

    #OAR --notify [ERROR]exec:<python> -m mlxp_core.endnotice oar <run list>

Every task of the array is a job of its own, with its own id and the same notification; OAR
runs it with the TASK's job id. The recorder reads the task's ``array_index`` (and
``array_id``) from the one ``oarstat -J -f -j <job id>`` call it makes anyway, and takes the
run directory at that index of the list (one small file read: no scan of the run
directories, so an array of 1000 deleted tasks costs 1000 such short processes, nothing more).

This records, exactly as a head waiting for the job would
(:func:`mlxp_core.record.info.record_lost`), INTERRUPTED when OAR says the job was deleted
(``oardel``, walltime: ``FRAG_JOB_REQUEST`` in that same ``oarstat`` output), else FAILED
(``JobLost``); and only while the run still belongs to that very job: a run RUNNING records the
job id of its running attempt (``scheduler.job_id``: the task's own id for an array task), a
run that never started the id it was submitted under (``submit.job_id``: the ARRAY's id for an
array task, together with ``submit.array_task_index``). A job that recorded its own end, or an
earlier attempt's late notice, is left alone. Nothing polls: the cost is one short process per
abnormally ended job. """

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mlxp_core.record import info as run_info
from mlxp_core.record.layout import info_path, run_of_task
from mlxp_core.schedulers import get_scheduler
from mlxp_core.schedulers.commands import cancelled_in, job_info

log = logging.getLogger("mlxp")
RECORDER = "the scheduler's end notification"
TAGS = ("RUNNING", "END", "ERROR", "INFO", "SUSPENDED", "RESUMING")  # OAR's
USAGE = ("usage: python -m mlxp_core.endnotice <scheduler> <run dir | array run list> <job id> "
         "[<job name> <tag> <comment>...]")
Task = Tuple[str, int]  # (array id, task index) of an array task, as the scheduler says


def _belongs(info: Dict[str, Any], job_id: str, task: Optional[Task]) -> bool:
    """Whether the run is still job `job_id`'s (array task `task` of its array, if given)."""
    running = info.get("status") == run_info.RUNNING
    record = info.get("scheduler" if running else "submit")
    if not isinstance(record, dict):
        return False
    if running or task is None:  # a started run knows its own job id, even as an array task
        return str(record.get("job_id")) == job_id
    array_id, index = task  # never started: submitted as task `index` of array `array_id`
    return (str(record.get("job_id")) == array_id
            and str(record.get("array_task_index")) == str(index))


def array_task(info_text: Optional[str], job_id: str) -> Optional[Task]:
    """``(array id, task index)`` of job `job_id` in ``oarstat -J -f -j <job id>``'s output."""
    try:
        data = json.loads(info_text or "")
        job = data[job_id] if isinstance(data, dict) else None
        return str(int(job["array_id"])), int(job["array_index"])
    except (ValueError, KeyError, TypeError):
        return None


def _run_of(run_list: Path, task: Optional[Task]) -> Optional[Path]:
    if task is None:
        log.error("mlxp: the scheduler did not say which array task the job is")
        return None
    try:
        runs = json.loads(run_list.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.error("mlxp: cannot read the array's run list %s: %s", run_list, exc)
        return None
    run_dir = run_of_task(runs, task[1]) if isinstance(runs, dict) else None
    if run_dir is None:
        log.error("mlxp: no run directory for task %s in %s", task[1], run_list)
    return run_dir


def record(scheduler_name: str, target: Path, job_id: str, tag: str = "ERROR") -> Optional[str]:
    """Record the abnormal end of job `job_id`; the status written, or None.

    `target` is the job's run directory, or the run list of the array the job is a task of.
    """
    if tag != "ERROR":
        log.info("mlxp: %s notice %s for job %s: nothing to record", scheduler_name, tag, job_id)
        return None
    scheduler = get_scheduler(scheduler_name)
    info_text: Optional[str] = None
    task: Optional[Task] = None
    if target.is_file():  # an array's run list
        info_text = job_info(scheduler, job_id)
        task = array_task(info_text, job_id)
        run_dir = _run_of(target, task)
        if run_dir is None:
            return None
    else:
        run_dir = target
    if not info_path(run_dir).is_file():
        log.error("mlxp: %s is not a run directory (no metadata/info.yaml)", run_dir)
        return None
    if task is None:
        info_text = job_info(scheduler, job_id)
    status = run_info.record_lost(
        run_dir, scheduler.name, cancelled_in(scheduler, info_text), RECORDER,
        f"ended job {job_id} in error", belongs=lambda info: _belongs(info, job_id, task))
    log.info("mlxp: %s job %s ended in error: run %s %s", scheduler_name, job_id, run_dir,
             status or "unchanged (it recorded its end, or belongs to another job)")
    return status


def main(argv: Optional[Sequence[str]] = None) -> int:
    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if len(args) < 3:
        log.error(USAGE)
        return 2
    scheduler_name, target, job_id = args[:3]
    # OAR passes "<job name> <tag>"; an empty job name vanishes from its command line
    tag = next((word for word in args[3:5] if word in TAGS), "ERROR")
    try:
        record(scheduler_name, Path(target), job_id, tag)
    except (OSError, ValueError) as exc:
        log.error("mlxp: could not record the end of job %s in %s: %s", job_id, target, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
