"""`mlxpsub` end to end on the REAL SLURM, Grid Engine and OAR of this machine.

Start them with `bash scripts/schedulers/start-all.sh` (`.ci/run` does). A test whose scheduler
is down is skipped, or fails when MLXP_REQUIRE_SCHEDULERS=1 (CI). Jobs are followed with the
schedulers' own commands (`scontrol`, `qstat`/`qacct`, `oarstat`), never with mlxp's.

SLURM and Grid Engine jobs are submitted by root with root's Python; OAR refuses root, so OAR
jobs are submitted by the unprivileged user `oartest`, with a virtualenv it can read
(`realsched.oarenv`) and a project directory it owns under /tmp.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Set

import pytest
from realsched import oarenv, schedulers
from realsched.apps import (
    FAILING_SEED,
    NUM_EPOCH,
    STARTED,
    describe,
    info,
    run_mlxpsub,
    submitted_ids,
    wait_ended,
    wait_for_text,
    write_batch_script,
    write_long_app,
    write_train_app,
)
from realsched.schedulers import JobEnd, cancel, look, require, wait_done

log = logging.getLogger(__name__)

ROOT_PYTHON_DIR = os.path.dirname(sys.executable)
SWEEP = "python main.py optimizer.lr=0.1,1.0 seed=1,2"
FAILING = f"python main.py seed={FAILING_SEED}"
JOBS_TIMEOUT_S = 240.0

# what each scheduler records for a job that exited 0, and for one that exited 1
ENDED_OK: Dict[str, JobEnd] = {
    "slurm": ("COMPLETED", "0:0"), "sge": ("DONE", "0"), "oar": ("Terminated", "0"),
}
ENDED_FAILED: Dict[str, JobEnd] = {
    "slurm": ("FAILED", "1:0"), "sge": ("DONE", "1"), "oar": ("Terminated", "256"),
}
# after the user's cancel command: the scheduler's state (prefix), and the signal mlxp records
CANCELLED_STATE = {"slurm": "CANCELLED", "sge": "FAILED 100", "oar": "Error"}
# OAR gives no catchable signal: OAR's end notification (mlxp_core.endnotice) records it
CANCEL_SIGNAL = {"slurm": "SIGTERM", "sge": "SIGUSR2",
                 "oar": "SIGKILL (oar: job deleted; recorded by the scheduler's end notification)"}


@dataclass
class Site:
    """One scheduler as a user meets it: a project directory, a Python, and `mlxpsub`."""

    name: str
    app: Path  # the user's project directory (main.py, configs/, job.sh)
    python_dir: str  # directory of the `python` the job script puts first on PATH
    submit: Callable[[], subprocess.CompletedProcess[str]]  # `mlxpsub job.sh` in `app`
    job_ids: List[str] = field(default_factory=list)  # submitted by the test
    ended: Set[str] = field(default_factory=set)  # seen ended by the scheduler

    def mlxpsub(self) -> subprocess.CompletedProcess[str]:
        proc = self.submit()
        log.info("mlxpsub on %s: exit %s\n%s\n%s", self.name, proc.returncode, proc.stdout,
                 proc.stderr)
        return proc

    def wait(self, job_ids: Iterable[str], timeout: float = JOBS_TIMEOUT_S) -> Dict[str, JobEnd]:
        ends = wait_done(self.name, job_ids, timeout=timeout)
        self.ended.update(ends)
        return ends


def _oar_submit(app: Path) -> Callable[[], subprocess.CompletedProcess[str]]:
    def submit() -> subprocess.CompletedProcess[str]:
        oarenv.give_to(app)  # the files the test wrote as root
        mlxpsub = str(oarenv.VENV / "bin" / "mlxpsub")
        return oarenv.run_as_user([mlxpsub, "job.sh"], cwd=app, env=oarenv.user_env())
    return submit


def _cancel_leftovers(site: Site) -> None:
    """Best effort: a failed test must not leave jobs running on the shared schedulers."""
    for job_id in set(site.job_ids) - site.ended:
        try:
            if not look(site.name, job_id)[0]:
                cancel(site.name, job_id)
        except (RuntimeError, ValueError, OSError) as exc:
            log.warning("could not cancel leftover %s job %s: %s", site.name, job_id, exc)


@pytest.fixture(scope="session")
def oar_venv() -> oarenv.VenvReport:
    """/opt/mlxp-oar-venv with mlxp-core installed from this tree (cached across runs)."""
    report = oarenv.ensure_venv()
    log.info("OAR venv %s: %s in %.1f s", report.path, report.action, report.seconds)
    return report


@pytest.fixture
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    name: str = request.param
    require(name)
    if name == "oar":
        report: oarenv.VenvReport = request.getfixturevalue("oar_venv")
        request.node.user_properties.append(("oar_venv", f"{report.action} {report.seconds:.1f}s"))
        app = oarenv.user_dir()
        current = Site(name, app, str(oarenv.VENV / "bin"), _oar_submit(app))
    else:
        app = tmp_path / "project"
        app.mkdir()
        current = Site(name, app, ROOT_PYTHON_DIR, lambda: run_mlxpsub(app))
    try:
        yield current
    finally:
        _cancel_leftovers(current)
        if name == "oar":
            shutil.rmtree(app, ignore_errors=True)


def _param(name: str, *marks: Any) -> Any:
    return pytest.param(name, marks=[pytest.mark.scheduler(name), *marks], id=name)


ALL = [_param("slurm"), _param("sge"), _param("oar")]


def _submit(site: Site, expected_jobs: int, commands: int) -> Dict[Path, str]:
    """`mlxpsub job.sh`; ``{run dir: job id}``.

    Raises RuntimeError, not AssertionError, so that an xfail(raises=AssertionError) test
    cannot pass off a broken submission as the expected failure.
    """
    proc = site.mlxpsub()
    summary = f"{expected_jobs} jobs submitted, 0 failed ({site.name}, {commands} commands)"
    if proc.returncode != 0 or summary not in proc.stdout:
        raise RuntimeError(f"mlxpsub failed (exit {proc.returncode}, expected {summary!r}):\n"
                           f"{proc.stdout}\n{proc.stderr}")
    ids = submitted_ids(site.app)
    site.job_ids += ids.values()
    if len(ids) != expected_jobs or len(set(ids.values())) != expected_jobs:
        raise RuntimeError(f"expected {expected_jobs} run dirs with distinct job ids: {ids}")
    return ids


def _check_run_dir(site: Site, run_dir: Path, job_id: str, meta: Dict[str, Any]) -> None:
    for name in ("script.sh", "log.stdout", "log.stderr", "metrics/train.json",
                 "metadata/info.yaml", "metadata/config.yaml"):
        assert (run_dir / name).is_file(), f"{name} missing{describe(run_dir)}"
    script = (run_dir / "script.sh").read_text()
    assert script.startswith("#!/bin/bash\n") and f"export PATH={site.python_dir}:" in script
    assert meta["submit"]["job_id"] == job_id and meta["submit"]["scheduler"] == site.name
    assert meta["scheduler"]["name"] == site.name, describe(run_dir)
    assert meta["scheduler"]["job_id"] == job_id, describe(run_dir)
    assert meta["executable"].startswith(site.python_dir), meta["executable"]
    if site.name == "oar":
        assert meta["user"] == oarenv.OAR_USER


@pytest.mark.parametrize("site", ALL, indirect=True)
def test_sweep_runs_every_point_as_a_job(site: Site) -> None:
    """A tutorial-style script: 4 sweep points COMPLETE, 1 FAILED, for mlxp and the scheduler."""
    write_train_app(site.app)
    write_batch_script(site.app, site.name, site.python_dir, [SWEEP, FAILING])
    ids = _submit(site, expected_jobs=5, commands=2)
    ends = site.wait(ids.values())
    points = set()
    for run_dir, job_id in ids.items():
        meta = wait_ended(run_dir)
        _check_run_dir(site, run_dir, job_id, meta)
        points.add(tuple(meta["overrides"]))
        if meta["overrides"] == [f"seed={FAILING_SEED}"]:
            assert meta["status"] == "FAILED", describe(run_dir)
            assert meta["error"]["type"] == "RuntimeError"
            assert meta["error"]["message"] == "unlucky seed"
            assert ends[job_id] == ENDED_FAILED[site.name], (ends, describe(run_dir))
            continue
        assert meta["status"] == "COMPLETE", describe(run_dir)
        assert ends[job_id] == ENDED_OK[site.name], (ends, describe(run_dir))
        assert STARTED in (run_dir / "log.stdout").read_text()
        lines = (run_dir / "metrics/train.json").read_text().splitlines()
        assert len(lines) == NUM_EPOCH, lines
    assert points == {("optimizer.lr=0.1", "seed=1"), ("optimizer.lr=0.1", "seed=2"),
                      ("optimizer.lr=1.0", "seed=1"), ("optimizer.lr=1.0", "seed=2"),
                      (f"seed={FAILING_SEED}",)}


@pytest.mark.parametrize("site", ALL, indirect=True)
def test_cancelling_a_running_job_ends_interrupted(site: Site) -> None:
    """The user's own cancel command (scancel / qdel / oardel) on a running mlxpsub job.

    SLURM and Grid Engine (-notify) signal the job first, which records its interruption;
    OAR SIGKILLs it, then runs the end notification of the job script on the submit host.
    """
    write_long_app(site.app)
    write_batch_script(site.app, site.name, site.python_dir, ["python main.py seed=1"])
    ((run_dir, job_id),) = _submit(site, expected_jobs=1, commands=1).items()
    if site.name == "oar":
        notice = (f"#OAR --notify [ERROR]exec:{site.python_dir}/python -m mlxp_core.endnotice "
                  f"oar {run_dir}\n")
        assert notice in (run_dir / "script.sh").read_text()
    wait_for_text(run_dir / "log.stdout", STARTED, timeout=JOBS_TIMEOUT_S)
    cancel(site.name, job_id)
    state, code = site.wait([job_id], timeout=90)[job_id]
    meta = wait_ended(run_dir, timeout=30)
    assert meta["status"] == "INTERRUPTED", f"{site.name} {state} {code}{describe(run_dir)}"
    assert meta.get("signal") == CANCEL_SIGNAL[site.name], meta
    if site.name == "sge" and state == "DONE":
        # the job recorded INTERRUPTED and exited 128+SIGUSR2 before the notify-time SIGKILL
        assert code == "140", (state, code)
    else:
        assert state.startswith(CANCELLED_STATE[site.name]), (state, code)
    assert "end_time" in meta and meta["duration_s"] > 0
    assert info(run_dir)["scheduler"]["job_id"] == job_id


def test_require_fails_under_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate itself, with a scheduler that answers nothing (needs no scheduler)."""
    monkeypatch.setitem(schedulers._PROBLEMS, "sge", lambda: "`qstat -g c` exited 1: down")
    monkeypatch.setattr(schedulers, "_DOWN", {})
    monkeypatch.delenv(schedulers.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"start-all\.sh"):
        require("sge")
    monkeypatch.setenv(schedulers.REQUIRE_ENV, "1")
    start = r"MLXP_REQUIRE_SCHEDULERS is set: .* SCHEDULERS=sge bash scripts/schedulers/start-all"
    with pytest.raises(pytest.fail.Exception, match=start):
        require("sge")


# --------------------------------------------------------------------------------------------
# Arrays, wait mode, requeue
# --------------------------------------------------------------------------------------------

TERMINAL = ("COMPLETE", "FAILED", "INTERRUPTED")


def _mlxpsub_with(site: Site, *options: str) -> subprocess.CompletedProcess[str]:
    """`mlxpsub <options> job.sh` as the site's user."""
    if site.name == "oar":
        oarenv.give_to(site.app)
        mlxpsub = str(oarenv.VENV / "bin" / "mlxpsub")
        return oarenv.run_as_user([mlxpsub, *options, "job.sh"], cwd=site.app,
                                  env=oarenv.user_env())
    from realsched.apps import clean_env, mlxpsub_argv

    return subprocess.run([*mlxpsub_argv(), *options, "job.sh"], cwd=site.app, env=clean_env(),
                          capture_output=True, text=True, timeout=600, check=False,
                          stdin=subprocess.DEVNULL)


def _run_dirs(app: Path) -> List[Path]:
    from realsched.apps import run_dir_paths

    return run_dir_paths(app)


@pytest.mark.parametrize("site", ALL, indirect=True)
def test_array_sweep(site: Site) -> None:
    """`mlxpsub --array`: one submission; every point in its own run dir, task id recorded."""
    write_train_app(site.app)
    write_batch_script(site.app, site.name, site.python_dir, [SWEEP])
    proc = _mlxpsub_with(site, "--array")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 jobs submitted, 0 failed" in proc.stdout
    run_dirs = _run_dirs(site.app)
    array_ids = {str(info(d)["submit"]["job_id"]) for d in run_dirs}
    assert len(run_dirs) == 4 and len(array_ids) == 1
    site.job_ids += array_ids
    metas = [wait_ended(d, timeout=JOBS_TIMEOUT_S) for d in run_dirs]
    task_ids = set()
    for run_dir, meta in zip(run_dirs, metas):
        assert meta["status"] == "COMPLETE", describe(run_dir)
        assert meta["scheduler"]["name"] == site.name
        assert meta["scheduler"]["array_task_id"] is not None, meta["scheduler"]
        task_ids.add(str(meta["scheduler"]["array_task_id"]))
        assert STARTED in (run_dir / "log.stdout").read_text()
        assert len((run_dir / "metrics/train.json").read_text().splitlines()) == NUM_EPOCH
        assert "#" not in (run_dir / "script.sh").read_text().split("\n", 1)[1].split("cd ")[0]
    assert len(task_ids) == 4
    # the scheduler's own record of each task (OAR: each task has its own job id)
    own_ids = {str(m["scheduler"]["job_id"]) for m in metas}
    if site.name == "slurm":
        (array_id,) = array_ids
        own_ids = {f"{array_id}_{t}" for t in task_ids}
    if site.name == "sge":
        own_ids = set(array_ids)
    ends = site.wait(own_ids)
    assert all(end == ENDED_OK[site.name] for end in ends.values()), ends


WAIT_APP = """
print('SEED', ctx.config.seed, flush=True)
if ctx.config.seed == 13:
    raise RuntimeError('unlucky seed')
return ctx.config.seed * 10
"""


@pytest.mark.parametrize("site", ALL, indirect=True)
def test_wait_mode_returns_results_to_hydra(site: Site) -> None:
    """`hydra.launcher.wait=true`: Hydra's sweeper gets each job's value or error back."""
    from conftest import write_app

    write_app(site.app, WAIT_APP)
    plugin = site.app / "sweeper_plugin"
    shutil.copytree(Path(__file__).resolve().parents[1] / "helpers" / "sweeper_plugin", plugin)
    argv = ["main.py", "seed=1,2,13", "hydra/sweeper=result_sweeper",
            f"hydra/launcher=mlxp_{site.name}", "hydra.launcher.wait=true",
            "hydra.launcher.poll_interval=1", "hydra.launcher.time=00:03:00"]
    if site.name == "oar":
        oarenv.give_to(site.app)
        env = {**oarenv.user_env(), "PYTHONPATH": str(plugin)}
        proc = oarenv.run_as_user([str(oarenv.VENV / "bin" / "python"), *argv], cwd=site.app,
                                  env=env, timeout=600)
    else:
        from realsched.apps import clean_env

        proc = subprocess.run([sys.executable, *argv], cwd=site.app,
                              env=clean_env({"PYTHONPATH": str(plugin)}), capture_output=True,
                              text=True, timeout=600, check=False, stdin=subprocess.DEVNULL)
    site.job_ids += [str(info(d)["submit"]["job_id"]) for d in _run_dirs(site.app)]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "RESULT seed=1 COMPLETED 10" in proc.stdout, proc.stdout
    assert "RESULT seed=2 COMPLETED 20" in proc.stdout, proc.stdout
    assert "RESULT seed=13 FAILED RuntimeError unlucky seed" in proc.stdout, proc.stdout
    site.ended.update(site.job_ids)


@pytest.mark.parametrize("site", [_param("oar")], indirect=True)
def test_oar_cancel_is_recorded_by_a_waiting_head(site: Site) -> None:
    """oardel gives the job no catchable signal; a head in wait mode records INTERRUPTED
    (unless OAR's end notification did first) and returns the interruption."""
    write_long_app(site.app)
    write_batch_script(site.app, site.name, site.python_dir, ["python main.py seed=1"])
    oarenv.give_to(site.app)
    env = oarenv.user_env()
    variables = {**env, "PWD": str(site.app)}
    head = subprocess.Popen(
        schedulers.as_user(oarenv.OAR_USER, [
            "env", "-i", *(f"{k}={v}" for k, v in variables.items()),
            str(oarenv.VENV / "bin" / "mlxpsub"), "--wait", "job.sh"]),
        cwd=site.app, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + JOBS_TIMEOUT_S
        while time.monotonic() < deadline and not _run_dirs(site.app):
            time.sleep(0.2)
        (run_dir,) = _run_dirs(site.app)
        wait_for_text(run_dir / "log.stdout", STARTED, timeout=JOBS_TIMEOUT_S)
        job_id = str(info(run_dir)["submit"]["job_id"])
        site.job_ids.append(job_id)
        cancel("oar", job_id)
        out, err = head.communicate(timeout=120)
    finally:
        if head.poll() is None:
            head.kill()
    assert head.returncode != 0, out + err
    meta = info(run_dir)
    assert meta["status"] == "INTERRUPTED", describe(run_dir)
    assert "job deleted" in meta["signal"]
    site.wait([job_id])


def _oar_array_tasks(array_id: str) -> Dict[int, str]:
    """``{task index: the task's own job id}`` of an OAR array (`oarstat --array ID -J`)."""
    proc = schedulers.command(["oarstat", "--array", array_id, "-J"])
    assert proc.returncode == 0, proc
    return {int(job["array_index"]): job_id for job_id, job in json.loads(proc.stdout).items()}


def _oar_cores() -> int:
    """How many OAR resources (one core each here) are Alive: the tasks that can run at once."""
    proc = schedulers.command(["oarnodes", "-s"])
    assert proc.returncode == 0, proc
    return len(re.findall(r"^\s*\d+ : Alive\s*$", proc.stdout, re.MULTILINE))


@pytest.mark.parametrize("site", [_param("oar")], indirect=True)
def test_oar_deleting_array_tasks_ends_their_runs_interrupted(site: Site) -> None:
    """`oardel` of single tasks of an `mlxpsub --array` submission, no head waiting: OAR runs
    the array script's end notification for each deleted task, with that task's own job id,
    and it records that task's run INTERRUPTED (a running task is known by its own job id, a
    task still waiting by the array id and its index); the other tasks run on."""
    cores = _oar_cores()
    assert cores >= 2, f"this test needs 2 OAR cores, not {cores}"
    count = cores + 1  # one task has to wait
    write_long_app(site.app)
    seeds = ",".join(str(seed) for seed in range(1, count + 1))
    write_batch_script(site.app, site.name, site.python_dir, [f"python main.py seed={seeds}"])
    proc = _mlxpsub_with(site, "--array")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{count} jobs submitted, 0 failed" in proc.stdout, proc.stdout + proc.stderr
    run_dirs = _run_dirs(site.app)
    array_id = str(info(run_dirs[0])["submit"]["job_id"])
    tasks = _oar_array_tasks(array_id)
    site.job_ids += tasks.values()
    assert sorted(tasks) == list(range(1, count + 1)) and tasks[1] == array_id, tasks
    # OAR's task index is the one mlxp recorded, and picks the same run in the run list
    assert [info(d)["submit"]["array_task_index"] for d in run_dirs] == sorted(tasks)
    run_list = run_dirs[0].parent / ".arrays" / f"1-{count}.runs.json"
    assert json.loads(run_list.read_text()) == {"first": 1, "runs": [str(d) for d in run_dirs]}
    script = Path(info(run_dirs[0])["submit"]["array_script"]).read_text()
    assert (f"#OAR --notify [ERROR]exec:{site.python_dir}/python -m mlxp_core.endnotice oar "
            f"{run_list}\n") in script, script
    run_of = dict(zip(sorted(tasks), run_dirs))
    deadline = time.monotonic() + JOBS_TIMEOUT_S
    while sum(STARTED in (d / "log.stdout").read_text(errors="replace")
              for d in run_dirs if (d / "log.stdout").is_file()) < cores:
        if time.monotonic() > deadline:
            raise TimeoutError("".join(describe(d) for d in run_dirs))
        time.sleep(0.2)
    states = {index: look("oar", job_id)[1] for index, job_id in tasks.items()}
    waiting_tasks = [index for index, state in states.items() if state == "Waiting"]
    assert len(waiting_tasks) == 1, states
    (waiting,) = waiting_tasks
    running = max(index for index in tasks if index not in (1, waiting))  # own id != array id

    # a task that never started
    cancel("oar", tasks[waiting])
    meta = wait_ended(run_of[waiting], timeout=60)
    assert meta["status"] == "INTERRUPTED", describe(run_of[waiting])
    assert meta["signal"] == CANCEL_SIGNAL["oar"], meta
    assert "scheduler" not in meta and "duration_s" not in meta, meta
    assert meta["submit"]["job_id"] == array_id, meta
    # a running task, whose own job id is not the array's
    cancel("oar", tasks[running])
    meta = wait_ended(run_of[running], timeout=60)
    assert meta["status"] == "INTERRUPTED", describe(run_of[running])
    assert meta["signal"] == CANCEL_SIGNAL["oar"], meta
    assert meta["scheduler"]["job_id"] == tasks[running], meta
    assert meta["submit"]["job_id"] == array_id and meta["duration_s"] > 0, meta
    ends = site.wait([tasks[waiting], tasks[running]], timeout=60)
    assert all(state == "Error" for state, _ in ends.values()), ends
    # the other tasks run on, their runs untouched
    others = [index for index in tasks if index not in (waiting, running)]
    for index in others:
        assert look("oar", tasks[index])[1] == "Running", index
        assert info(run_of[index])["status"] == "RUNNING", describe(run_of[index])
    # then deleted too (task 1's own job id is the array's)
    for index in others:
        cancel("oar", tasks[index])
    site.wait([tasks[index] for index in others], timeout=60)
    for index in others:
        meta = wait_ended(run_of[index], timeout=30)
        assert meta["status"] == "INTERRUPTED", describe(run_of[index])
        assert meta["scheduler"]["job_id"] == tasks[index], meta


# the first attempt waits after epoch 2 until the scheduler stops it (a requeue that comes
# late on a loaded machine must still find it running); the next attempt runs to the end
RESUMABLE_APP = f"""
try:
    state = ctx.logger.load_checkpoint('last_ckpt')
    print('RESUMED FROM', state['epoch'], flush=True)
except FileNotFoundError:
    state = {{'epoch': -1}}
print('{STARTED}', flush=True)
for epoch in range(state['epoch'] + 1, 8):
    time.sleep(0.5)
    ctx.logger.log_metrics({{'epoch': epoch}}, log_name='train')
    ctx.logger.log_checkpoint({{'epoch': epoch}}, log_name='last_ckpt')
    if epoch == 2 and ctx.info.attempt == 1:
        ctx.logger.flush()
        time.sleep(300)
"""


@pytest.mark.parametrize("site", [_param("slurm")], indirect=True)
def test_slurm_requeue_resumes_in_the_same_run_dir(site: Site) -> None:
    """`scontrol requeue`: SIGTERM (INTERRUPTED), then the same job resumes from its checkpoint."""
    from conftest import write_app

    write_app(site.app, RESUMABLE_APP)
    write_batch_script(site.app, site.name, site.python_dir,
                       ["python main.py seed=1"])
    ((run_dir, job_id),) = _submit(site, expected_jobs=1, commands=1).items()
    metrics = run_dir / "metrics" / "train.json"
    deadline = time.monotonic() + JOBS_TIMEOUT_S
    while time.monotonic() < deadline and (
            not metrics.exists() or len(metrics.read_text().splitlines()) < 2):
        time.sleep(0.2)
    assert schedulers.command(["scontrol", "requeue", job_id]).returncode == 0
    first = wait_ended(run_dir, timeout=60)
    assert first["status"] == "INTERRUPTED" and first["signal"] == "SIGTERM"
    # Slurm holds a requeued job ~2 min before it is eligible again: release it now, but only
    # once the killed attempt is gone (slurmd refuses "Job already killed" and fails the job)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "JobState=PENDING" not in schedulers.command(
            ["scontrol", "show", "job", job_id]).stdout:
        time.sleep(0.5)
    time.sleep(3)
    while time.monotonic() < deadline:
        if schedulers.command(["scontrol", "update", f"JobId={job_id}",
                               "StartTime=now"]).returncode == 0 and info(run_dir).get(
                "attempt", 1) >= 2:
            break
        time.sleep(1)
    ends = site.wait([job_id])
    assert ends[job_id] == ENDED_OK["slurm"], ends
    meta = wait_ended(run_dir, timeout=30)
    assert meta["status"] == "COMPLETE" and meta["attempt"] == 2, describe(run_dir)
    epochs = [json.loads(x)["epoch"] for x in metrics.read_text().splitlines()]
    assert epochs[-1] == 7 and sorted(set(epochs)) == list(range(8)), epochs
    assert "RESUMED FROM" in (run_dir / "log.stdout").read_text()


def _wait_for_epochs(metrics: Path, count: int, timeout: float = JOBS_TIMEOUT_S) -> None:
    """Until the job has logged ``count`` metric lines (TimeoutError, not an assertion)."""
    deadline = time.monotonic() + timeout
    while not metrics.exists() or len(metrics.read_text().splitlines()) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{metrics}: fewer than {count} lines after {timeout:g} s")
        time.sleep(0.2)


def _epochs(metrics: Path) -> List[int]:
    return [json.loads(line)["epoch"] for line in metrics.read_text().splitlines()]


@pytest.mark.parametrize("site", [_param("sge")], indirect=True)
def test_sge_requeue_resumes_in_the_same_run_dir(site: Site) -> None:
    """`qmod -rj` of a rerunnable job (`#$ -r y`): SIGUSR2 (-notify) ends the first attempt
    INTERRUPTED, then Grid Engine reruns the same job id, which resumes from its checkpoint."""
    from conftest import write_app

    write_app(site.app, RESUMABLE_APP)
    write_batch_script(site.app, site.name, site.python_dir, ["python main.py seed=1"],
                       directives=["#$ -r y"])
    ((run_dir, job_id),) = _submit(site, expected_jobs=1, commands=1).items()
    assert "\n#$ -r y\n" in (run_dir / "script.sh").read_text()
    metrics = run_dir / "metrics" / "train.json"
    _wait_for_epochs(metrics, 2)
    proc = schedulers.command(["qmod", "-rj", job_id])
    assert proc.returncode == 0 and "Pushed rescheduling" in proc.stdout, proc
    # Grid Engine starts the rerun a few seconds after the first attempt ended
    first = wait_ended(run_dir, timeout=60)
    assert first["status"] == "INTERRUPTED" and first["signal"] == "SIGUSR2", describe(run_dir)
    assert first["attempt"] == 1, first
    ends = site.wait([job_id])
    assert ends[job_id] == ENDED_OK["sge"], ends
    meta = wait_ended(run_dir, timeout=30)
    assert meta["status"] == "COMPLETE" and meta["attempt"] == 2, describe(run_dir)
    assert meta["scheduler"]["job_id"] == job_id and meta["submit"]["job_id"] == job_id
    assert meta["first_start_time"] == first["start_time"], (first, meta)
    epochs = _epochs(metrics)
    assert epochs[-1] == 7 and sorted(set(epochs)) == list(range(8)), epochs
    stdout = (run_dir / "log.stdout").read_text()
    assert "RESUMED FROM" in stdout and stdout.count(STARTED) == 2, describe(run_dir)
    # Grid Engine's accounting: the killed attempt, then the rerun
    acct = schedulers.command(["qacct", "-j", job_id]).stdout
    assert re.search(r"^failed\s+25\s*:\s*rescheduling", acct, re.MULTILINE), acct


# OAR resubmits an idempotent job that exited 99 only if it ran for more than 60 s
OAR_IDEMPOTENT_MIN_RUN_S = 62
OAR_IDEMPOTENT_APP = f"""
started = time.monotonic()
try:
    state = ctx.logger.load_checkpoint('last_ckpt')
    print('RESUMED FROM', state['epoch'], flush=True)
except FileNotFoundError:
    state = {{'epoch': -1}}
print('{STARTED}', 'ATTEMPT', ctx.info.attempt, flush=True)
for epoch in range(state['epoch'] + 1, 6):
    time.sleep(0.5)
    ctx.logger.log_metrics({{'epoch': epoch}}, log_name='train')
    ctx.logger.log_checkpoint({{'epoch': epoch}}, log_name='last_ckpt')
    if epoch == 2 and ctx.info.attempt == 1:
        time.sleep(max(0.0, {OAR_IDEMPOTENT_MIN_RUN_S} - (time.monotonic() - started)))
        sys.exit(99)
"""


def _oar_job(job_id: str) -> Dict[str, Any]:
    """`oarstat -J -f -j ID` of one job (its state, exit_code, events ...)."""
    proc = schedulers.command(["oarstat", "-J", "-f", "-j", job_id])
    assert proc.returncode == 0, proc
    job: Dict[str, Any] = json.loads(proc.stdout)[job_id]
    return job


@pytest.mark.parametrize("site", [_param("oar")], indirect=True)
def test_oar_idempotent_job_resubmitted_after_exit_99_resumes(site: Site) -> None:
    """`#OAR -t idempotent`: a job that ran > 60 s and exited 99 is resubmitted by OAR under a
    new job id; the new job runs the same script.sh and resumes in the same run directory."""
    from conftest import write_app

    write_app(site.app, OAR_IDEMPOTENT_APP)
    write_batch_script(site.app, site.name, site.python_dir, ["python main.py seed=1"],
                       directives=["#OAR -t idempotent"])
    ((run_dir, job_id),) = _submit(site, expected_jobs=1, commands=1).items()
    assert "\n#OAR -t idempotent\n" in (run_dir / "script.sh").read_text()
    ends = site.wait([job_id], timeout=JOBS_TIMEOUT_S)
    assert ends[job_id] == ("Terminated", str(99 << 8)), (ends, describe(run_dir))
    events = {e["type"]: e["description"] for e in _oar_job(job_id)["events"]}
    resubmitted = re.search(r"=> (\d+)", events.get("RESUBMIT_JOB_AUTOMATICALLY", ""))
    assert resubmitted, (events, describe(run_dir))
    new_id = resubmitted.group(1)
    site.job_ids.append(new_id)
    new_job = _oar_job(new_id)
    assert new_id != job_id and str(new_job["resubmit_job_id"]) == job_id, new_job
    # OAR runs the submitted file itself: the run dir's script.sh, again
    assert new_job["command"] == str(run_dir / "script.sh"), new_job
    assert site.wait([new_id])[new_id] == ENDED_OK["oar"], describe(run_dir)
    meta = wait_ended(run_dir, timeout=30)
    assert meta["status"] == "COMPLETE" and meta["attempt"] == 2, describe(run_dir)
    # the submission keeps the id mlxpsub got; the scheduler record is the latest attempt's
    assert meta["submit"]["job_id"] == job_id, meta
    assert meta["scheduler"]["job_id"] == new_id, meta
    epochs = _epochs(run_dir / "metrics" / "train.json")
    assert epochs == list(range(6)), epochs
    stdout = (run_dir / "log.stdout").read_text()  # OAR appends: both attempts
    assert f"{STARTED} ATTEMPT 1" in stdout and "RESUMED FROM 2" in stdout, describe(run_dir)
    assert f"{STARTED} ATTEMPT 2" in stdout, describe(run_dir)
