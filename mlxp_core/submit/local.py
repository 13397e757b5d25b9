"""`hydra/launcher=mlxp_local`: run the rendered job scripts as local background processes.

Each job gets the same `script.sh` a scheduler would get (without directives), run with bash,
its output in `log.stdout`/`log.stderr` of its run directory, at most `max_workers` at a time
(default: the CPU count). The head waits and returns each job's status and return value.

A script job re-invokes the user's script (`python main.py lr=0.1 ...`) like a cluster job.
When the task cannot be re-invoked (it is not defined in the script the head runs, as in
Hydra's own launcher test suites), the job runs `python -m mlxp_core.run.jobrunner job.pkl`
instead: the task function and Hydra's state are pickled (cloudpickle), as submitit does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, List, Sequence

import cloudpickle
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from mlxp_core.record import info as run_info
from mlxp_core.record.atomic import write_bytes_atomic, write_text_atomic
from mlxp_core.record.layout import SCRIPT, STDERR, STDOUT
from mlxp_core.run import jobreturn
from mlxp_core.submit import command
from mlxp_core.submit.batch import discard_unrecorded, prepare, record
from mlxp_core.submit.plan import Job, Plan, job_spec, jobs_of, make_plan, render, validate

log = logging.getLogger("mlxp")


def _pickled_job(launcher: Any, plan: Plan, job: Job) -> None:
    """Prepare a job that runs the pickled task function (no re-invocable script)."""
    uses_mlxp = not plan.add_callback
    if uses_mlxp:
        prepare(plan, job)  # allocates the mlxp run directory
        assert job.run_dir is not None
    else:
        sweep_dir = Path(str(OmegaConf.select(plan.config, "hydra.sweep.dir")))
        job.run_dir = (sweep_dir / ".mlxp_local" / str(job.idx)).resolve()
        job.run_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "hydra_context": launcher.hydra_context,
        "task_function": launcher.task_function,
        "config": plan.config,
        "overrides": list(job.overrides),
        "idx": job.idx,
        "singleton_state": Singleton.get_state(),
        "result_dir": str(job.run_dir),
    }
    pkl = job.run_dir / "job.pkl"
    write_bytes_atomic(pkl, cloudpickle.dumps(payload))
    assert job.spec is not None or not uses_mlxp
    spec = job_spec(plan, job)
    spec.command = [plan.python, "-m", "mlxp_core.run.jobrunner", str(pkl)]
    job.spec = spec
    script = job.run_dir / SCRIPT
    write_text_atomic(script, render(plan, spec))
    script.chmod(0o755)


def _run_script(job: Job, workdir: str, procs: List[subprocess.Popen[bytes]]) -> int:
    assert job.run_dir is not None
    with open(job.run_dir / STDOUT, "wb") as out, open(job.run_dir / STDERR, "wb") as err:
        proc = subprocess.Popen(["bash", str(job.run_dir / SCRIPT)], cwd=workdir,
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # its own group, signalled as a whole
        procs.append(proc)
        return proc.wait()


def _result(plan: Plan, job: Job, code: int) -> JobReturn:
    assert job.run_dir is not None
    name = job.log_id if job.log_id is not None else job.idx
    return jobreturn.to_job_return(
        jobreturn.load(job.run_dir), job.overrides, plan.workdir, plan.task_name,
        f"run {name} exited with status {code} and no result; see {job.run_dir / STDERR}")


def _workers(plan: Plan) -> int:
    return plan.params.max_workers or os.cpu_count() or 1


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int) -> Sequence[JobReturn]:
    """`Launcher.launch` of `hydra/launcher=mlxp_local`."""
    plan = make_plan(launcher)
    reinvoke = command.can_reinvoke(plan.invocation, launcher.task_function)
    validate(plan)
    workers = _workers(plan)
    jobs = jobs_of(job_overrides, initial_job_idx)
    status = run_info.DRY_RUN if plan.params.dry_run else run_info.SUBMITTED
    try:
        for job in jobs:
            if reinvoke:
                prepare(plan, job)
            else:
                _pickled_job(launcher, plan, job)
            if job.info:  # an mlxp run directory (not a plain Hydra job's scratch dir)
                record(job, status)
    except BaseException:
        discard_unrecorded(jobs)
        raise
    if plan.params.dry_run:
        for job in jobs:
            print(f"mlxp: rendered {job.run_dir / SCRIPT if job.run_dir else ''} (dry run)")
        return [_dry(plan, job) for job in jobs]
    procs: List[subprocess.Popen[bytes]] = []
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        codes = list(pool.map(lambda j: _run_script(j, plan.workdir, procs), jobs))
    except BaseException:  # Ctrl-C or SIGTERM of the head: the jobs end INTERRUPTED
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        raise
    finally:
        pool.shutdown(wait=True)
    _report_local(jobs, codes)
    return [_result(plan, job, code) for job, code in zip(jobs, codes)]


def _report_local(jobs: List[Job], codes: List[int]) -> None:
    """One line per job (id, status, directory), then the failures' stderr files."""
    for job in jobs:
        if job.info:  # an mlxp run directory
            status = run_info.read_status(job.run_dir) if job.run_dir else "UNKNOWN"
            print(f"mlxp: run {job.log_id} {status}: {job.run_dir}")
    bad = [(job, code) for job, code in zip(jobs, codes) if code != 0]
    if bad:
        print(f"mlxp: {len(bad)} of {len(jobs)} local jobs failed:")
        for job, code in bad:
            print(f"  run {job.log_id if job.log_id is not None else job.idx} exited with {code}: "
                  f"{job.run_dir / STDERR if job.run_dir else ''}")


def _dry(plan: Plan, job: Job) -> JobReturn:
    ret = JobReturn(overrides=list(job.overrides), working_dir=plan.workdir)
    ret.status = JobStatus.COMPLETED
    ret.return_value = {"log_id": job.log_id, "script": str(job.run_dir / SCRIPT)}
    return ret
