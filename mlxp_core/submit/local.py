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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import cloudpickle
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn
from omegaconf import OmegaConf

from mlxp_core.record import info as run_info
from mlxp_core.record.atomic import write_bytes_atomic, write_text_atomic
from mlxp_core.record.layout import SCRIPT, STDERR, STDOUT
from mlxp_core.run import jobreturn
from mlxp_core.submit import command, report
from mlxp_core.submit.batch import discard_unrecorded, make_sweep_dir, prepare, record
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


class _Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise _Interrupted(signum)


@contextlib.contextmanager
def _head_signals(handler: Any) -> Iterator[None]:
    """SIGINT/SIGTERM call `handler` within the block, whatever the inherited disposition
    (a head started with `&` from a script or under some `nohup`s ignores SIGINT)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in saved.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)


class _Runner:
    """Runs the job scripts (`workers` at a time) and, on Ctrl-C, stops those running and
    starts no other."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.lock = threading.Lock()
        self.stopping = False
        self.procs: List[subprocess.Popen[bytes]] = []

    def run(self, job: Job) -> Optional[int]:
        """The script's exit status; None when it was not started (the head was stopped)."""
        assert job.run_dir is not None
        with self.lock:
            if self.stopping:
                return None
            with open(job.run_dir / STDOUT, "wb") as out, open(job.run_dir / STDERR,
                                                               "wb") as err:
                proc = subprocess.Popen(["bash", str(job.run_dir / SCRIPT)], cwd=self.workdir,
                                        stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                        start_new_session=True)  # its own group
            self.procs.append(proc)
        return proc.wait()

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM every running script's process group (the job records INTERRUPTED);
        SIGKILL those still there after `grace_s`."""
        with self.lock:
            self.stopping = True
            running = [p for p in self.procs if p.poll() is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        end = time.monotonic() + grace_s
        for proc in running:
            try:
                proc.wait(timeout=max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _record_interrupted(jobs: List[Job], signame: str) -> None:
    """After a Ctrl-C of the head: every job gets an end (never SUBMITTED/RUNNING forever)."""
    counts: Dict[str, int] = {}
    for job in jobs:
        if not job.info or job.run_dir is None:
            continue
        status = run_info.record_not_started(job.run_dir, signame) or run_info.record_lost(
            job.run_dir, "local", cancelled=True, recorder="the head",
            fact=f"stopped the job on {signame}") or run_info.read_status(job.run_dir)
        if status == run_info.INTERRUPTED and "cancelled before start" in str(
                run_info.read_info(job.run_dir).get("signal", "")):
            status = "cancelled before start"
        counts[status] = counts.get(status, 0) + 1
        print(f"mlxp: run {job.log_id} {status}: {job.run_dir}")
    what = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    print(f"mlxp: interrupted by {signame}: {what or 'no run'}", flush=True)


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
    make_sweep_dir(plan)
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
        return [report.job_return(plan, job) for job in jobs]
    runner = _Runner(plan.workdir)
    pool = ThreadPoolExecutor(max_workers=workers)
    futures = [pool.submit(runner.run, job) for job in jobs]
    try:
        with _head_signals(_raise_interrupted):
            codes = [future.result() for future in futures]
    except _Interrupted as stop:  # Ctrl-C or SIGTERM of the head
        with _head_signals(signal.SIG_IGN):  # a second Ctrl-C must not cut the clean-up
            for future in futures:
                future.cancel()
            runner.stop()
            pool.shutdown(wait=True)
            _record_interrupted(jobs, str(stop))
        raise SystemExit(128 + stop.signum) from None
    finally:
        pool.shutdown(wait=True)
    _report_local(jobs, [c if c is not None else -1 for c in codes])
    return [_result(plan, job, code if code is not None else -1)
            for job, code in zip(jobs, codes)]


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
