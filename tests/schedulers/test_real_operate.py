"""`mlxp status / cancel / rerun / logs` on the REAL SLURM, Grid Engine and OAR of this machine.

One sweep per scheduler with points that succeed, raise, and exceed their time limit (and,
on Grid Engine, which enforces `h_vmem` with a limit on the address space, their memory);
`mlxp status` is compared with the scheduler's own record of each job (`scontrol`, `qacct`,
`oarstat`), `mlxp rerun --failed --interrupted` resubmits exactly those points into the
same run directories, where they resume and complete; `mlxp cancel` ends a half-pending
sweep. Then the 5,000-point SLURM array, accepted whole with SLURM's default MaxArraySize
(1001): a few tasks of each chunk run in their run directories, `mlxp cancel` ends the rest.

Memory on SLURM: this single-node SLURM runs without cgroups (`TaskPlugin=task/none`,
`JobAcctGatherType=jobacct_gather/none`), so `--mem` is not enforced here and no job can be
killed OUT_OF_MEMORY: only the time limit is tested on SLURM (OUT_OF_MEMORY is read from
`squeue`/`sacct` like TIMEOUT: see tests/schedulers/test_job_tables.py). OAR has no memory
resource.

Schedulers down: skipped, or failed with MLXP_REQUIRE_SCHEDULERS=1 (CI).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from conftest import write_app
from realsched import oarenv, schedulers
from realsched.apps import clean_env, describe, info, run_dir_paths

log = logging.getLogger(__name__)

CONFIG = "seed: 0\nmode: ok\nnum_epoch: 1\n"
TASK = """
mode = ctx.config.mode
try:
    state = ctx.logger.load_checkpoint('ckpt')
except FileNotFoundError:
    state = None
print('STARTED', mode, 'attempt', ctx.info.attempt, 'resumed', state, flush=True)
ctx.logger.log_checkpoint({'attempt': ctx.info.attempt}, log_name='ckpt')
if state is None:  # the first attempt only
    if mode == 'raise':
        raise RuntimeError('diverged')
    if mode == 'slow':
        time.sleep(400)
    if mode == 'mem':
        hog = bytearray(3 * 1024**3)
if mode == 'long':
    deadline = time.time() + 150
    while time.time() < deadline:
        time.sleep(0.1)
ctx.logger.log_metrics({'done': 1}, log_name='train')
"""
# a walltime the scheduler enforces quickly (SLURM counts whole minutes)
WALLTIME = {"slurm": "#SBATCH --time=0:05", "sge": "#$ -l h_rt=00:00:12",
            "oar": "#OAR -l core=1,walltime=0:0:12"}
RAISED = {"slurm": "00:05:00", "sge": "00:05:00", "oar": None}  # OAR: one -l line (its own)
TIMEOUT_S = 240.0
ENDED = ("COMPLETE", "FAILED", "INTERRUPTED")


class Site:
    """A scheduler as a user meets it: a project directory, its Python, mlxp/mlxpsub."""

    def __init__(self, name: str, app: Path, python_dir: str) -> None:
        self.name, self.app, self.python_dir = name, app, python_dir

    def command(self, program: str, *args: str, timeout: float = 600
                ) -> subprocess.CompletedProcess[str]:
        if self.name == "oar":
            oarenv.give_to(self.app)
            return oarenv.run_as_user([str(oarenv.VENV / "bin" / program), *args],
                                      cwd=self.app, env=oarenv.user_env(), timeout=timeout)
        argv = [sys.executable, "-m", "mlxp_core.cli.main" if program == "mlxp"
                else "mlxp_core.cli.mlxpsub", *args]
        return subprocess.run(argv, cwd=self.app, env=clean_env(), capture_output=True,
                              text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)

    def mlxp(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = self.command("mlxp", *args)
        log.info("mlxp %s on %s: exit %s\n%s\n%s", " ".join(args), self.name, proc.returncode,
                 proc.stdout, proc.stderr)
        if ok:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def status(self, *args: str) -> Dict[str, Any]:
        return json.loads(self.mlxp("status", *args, "--json").stdout)

    def submit(self, lines: List[str], commands: List[str]) -> str:
        """`mlxpsub job.sh`; the sweep id."""
        text = "\n".join(["#!/bin/bash", *lines, f"export PATH={self.python_dir}:$PATH",
                          *commands]) + "\n"
        (self.app / "job.sh").write_text(text)
        proc = self.command("mlxpsub", "job.sh")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout.rsplit("sweep ", 1)[1].split()[0]

    def runs(self, sweep: str) -> Dict[str, Path]:
        """{mode: run dir} of a sweep."""
        out = {}
        for run_dir in run_dir_paths(self.app):
            meta = info(run_dir)
            if meta.get("sweep", {}).get("id") == sweep:
                mode = next(o.split("=")[1] for o in meta["overrides"] if o.startswith("mode="))
                seed = next((o for o in meta["overrides"] if o.startswith("seed=")), "")
                out[f"{mode}{seed[5:]}"] = run_dir
        return out

    def wait(self, sweep: str, until: Any, timeout: float = TIMEOUT_S) -> Dict[str, Any]:
        """`mlxp status SWEEP --json` every 2 s until `until(data)`."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.status(sweep)
            if until(data):
                return data
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: sweep {sweep} still {data}")
            time.sleep(2)


def _all_ended(data: Dict[str, Any]) -> bool:
    return all(r["status"] in ENDED for s in data["sweeps"] for r in s["runs"])


def _by_mode(data: Dict[str, Any], runs: Dict[str, Path]) -> Dict[str, Dict[str, Any]]:
    ids = {int(p.name): mode for mode, p in runs.items()}
    return {ids[r["log_id"]]: r for s in data["sweeps"] for r in s["runs"]}


@pytest.fixture(scope="module")
def oar_venv() -> oarenv.VenvReport:
    return oarenv.ensure_venv()


@pytest.fixture
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    name: str = request.param
    schedulers.require(name)
    if name == "oar":
        request.getfixturevalue("oar_venv")
        app = oarenv.user_dir()
        current = Site(name, app, str(oarenv.VENV / "bin"))
    else:
        app = tmp_path / "project"
        current = Site(name, app, os.path.dirname(sys.executable))
    write_app(app, TASK, config=CONFIG)
    try:
        yield current
    finally:
        if (app / "logs").is_dir():  # a failed test must not leave jobs on the schedulers
            current.command("mlxp", "cancel", "info.status == 'SUBMITTED' | "
                                              "info.status == 'RUNNING'")
        if name == "oar":
            shutil.rmtree(app, ignore_errors=True)


def _param(name: str) -> Any:
    return pytest.param(name, marks=[pytest.mark.scheduler(name)], id=name)


def _scheduler_says(name: str, job: str) -> str:
    """The scheduler's own word on an ended job (not mlxp's parsing of it)."""
    if name == "slurm":
        out = schedulers.command(["scontrol", "show", "job", "-o", job]).stdout
        return out.split("JobState=", 1)[1].split()[0]
    if name == "sge":
        # qmaster writes a job's accounting record some seconds after the job left the
        # queue (reporting_params accounting_flush_time): ask until it is there
        deadline = time.monotonic() + 90
        while True:
            out = schedulers.command(["qacct", "-j", job]).stdout
            said = " ".join(line.split(None, 1)[1].strip() for line in out.splitlines()
                            if line.startswith(("failed", "exit_status")))
            if said or time.monotonic() > deadline:
                return said
            time.sleep(1)
    proc = schedulers.command(["oarstat", "-J", "-f", "-j", job])
    record = json.loads(proc.stdout)[job]
    return " ".join([record["state"], *(e["type"] for e in record["events"])])


@pytest.mark.parametrize("site", [_param("slurm"), _param("sge"), _param("oar")],
                         indirect=True)
def test_status_cancel_and_rerun_a_sweep(site: Site) -> None:
    name = site.name
    lines = [WALLTIME[name]]
    if name == "slurm":
        lines.append("#SBATCH --cpus-per-task=1")
    if name == "sge":
        lines.append("#$ -l h_vmem=1G")
    modes = "ok,raise,slow,mem" if name == "sge" else "ok,raise,slow"
    sweep = site.submit(lines, [f"python main.py mode={modes}"])
    runs = site.runs(sweep)
    assert sorted(runs) == sorted(modes.split(","))
    # while the slow point holds one core: a second sweep, one running and two pending
    site.wait(sweep, lambda d: sum(r["status"] in ENDED for s in d["sweeps"]
                                   for r in s["runs"]) >= len(runs) - 1)
    long_sweep = site.submit([WALLTIME[name].replace("0:05", "05:00").replace(
        "00:00:12", "00:05:00").replace("0:0:12", "0:5:0")],
        ["python main.py mode=long seed=1,2,3"])
    long_runs = site.runs(long_sweep)
    data = site.wait(long_sweep, lambda d: d["sweeps"][0]["counts"].get("RUNNING", 0) >= 1)
    states = {r["scheduler"]["phase"] for r in data["sweeps"][0]["runs"] if "scheduler" in r}
    assert "PENDING" in states, data  # a half-pending sweep
    proc = site.mlxp("cancel", long_sweep)
    assert "not started (recorded INTERRUPTED)" in proc.stdout
    data = site.wait(long_sweep, _all_ended, timeout=120)
    assert data["sweeps"][0]["counts"] == {"INTERRUPTED": 3}, data
    for run_dir in long_runs.values():
        job = info(run_dir)["submit"]["job_id"]
        assert info(run_dir)["status"] == "INTERRUPTED", describe(run_dir)
        if name == "slurm":  # a killed job shows COMPLETING while its processes go
            deadline = time.monotonic() + 60
            while _scheduler_says(name, str(job)) == "COMPLETING" and \
                    time.monotonic() < deadline:
                time.sleep(0.5)
            assert _scheduler_says(name, str(job)) == "CANCELLED"
    # the first sweep: every point ended, as the scheduler says
    data = site.wait(sweep, _all_ended)
    by_mode = _by_mode(data, runs)
    assert by_mode["ok"]["status"] == "COMPLETE", describe(runs["ok"])
    assert by_mode["raise"]["status"] == "FAILED"
    assert by_mode["raise"]["error"] == "RuntimeError: diverged"
    slow = info(runs["slow"])
    assert slow["status"] in ("FAILED", "INTERRUPTED"), describe(runs["slow"])
    job = str(slow["submit"]["job_id"])
    said = _scheduler_says(name, job)
    assert {"slurm": "TIMEOUT" in said, "sge": said.startswith("37"),
            "oar": "WALLTIME" in said}[name], said
    # mlxp's record agrees with the scheduler: the reason, its accounting
    site.status()  # one more refresh gives ended runs their accounting
    slow = info(runs["slow"])
    reason = (slow.get("error") or {}).get("reason") or slow["accounting"]["reason"]
    assert reason == "TIMEOUT", slow
    assert slow["accounting"]["reason"] == "TIMEOUT", slow
    assert slow["accounting"]["elapsed_s"] >= 10, slow
    if name == "sge":
        mem = info(runs["mem"])
        assert mem["status"] == "FAILED" and mem["error"]["type"] == "MemoryError", mem
        assert mem["accounting"]["req_mem_mb"] == 1024.0, mem
    ok_acct = info(runs["ok"])["accounting"]
    assert ok_acct["reason"] == "COMPLETED" and ok_acct["node"], ok_acct
    # rerun only the failed and interrupted ones, in the same run directories
    before = {mode: info(d) for mode, d in runs.items()}
    raised = ["--time", RAISED[name]] if RAISED[name] else []
    proc = site.mlxp("rerun", "--failed", "--interrupted", *raised, sweep)
    again = [m for m in runs if m != "ok"]
    assert f"resubmitted {len(again)} runs" in proc.stdout and "1 array job" in proc.stdout
    data = site.wait(sweep, _all_ended)
    assert data["sweeps"][0]["counts"] == {"COMPLETE": len(runs)}, data
    for mode in again:
        meta = info(runs[mode])
        assert meta["attempt"] == 2, describe(runs[mode])
        assert meta["first_start_time"] == before[mode]["start_time"]
        assert "resumed {'attempt': 1}" in (runs[mode] / "log.stdout").read_text()
    assert info(runs["ok"])["attempt"] == 1
    assert len(run_dir_paths(site.app)) == len(runs) + 3  # no new run directory
    logs = site.mlxp("logs", runs["raise"].name, "--stderr")
    assert logs.stdout == (runs["raise"] / "log.stderr").read_text()


ARRAY_APP = "print('TASK', ctx.config.seed, flush=True)"


@pytest.mark.parametrize("site", [_param("slurm")], indirect=True)
def test_slurm_5000_point_array_is_accepted_whole(site: Site) -> None:
    """MaxArraySize=1001 caps the index: 5 chunks of indexes 0-1000 (the last 0-995). The
    chunks are held; each is released until two of its tasks ran, then held again; then
    `mlxp cancel` ends every run still pending."""
    config = schedulers.command(["scontrol", "show", "config"]).stdout
    assert "MaxArraySize            = 1001" in config, "this test needs the default limit"
    write_app(site.app, ARRAY_APP, config=CONFIG)
    argv = [sys.executable, "main.py", "seed=range(0,5000)", "hydra/launcher=mlxp_slurm",
            "hydra.launcher.array=true", "hydra.launcher.time=00:05:00",
            "hydra.launcher.directives=[\"--hold\"]"]
    proc = subprocess.run(argv, cwd=site.app, env=clean_env(), capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "5000 of 5000 jobs submitted" in proc.stdout
    run_dirs = sorted(run_dir_paths(site.app), key=lambda p: int(p.name))
    chunks: Dict[str, List[Path]] = {}
    for run_dir in run_dirs:
        chunks.setdefault(str(info(run_dir)["submit"]["job_id"]), []).append(run_dir)
    assert [len(c) for c in chunks.values()] == [1001, 1001, 1001, 1001, 996]
    queued = schedulers.command(["squeue", "-h", "-r", "-o", "%i"]).stdout.split()
    for array_id, members in chunks.items():
        tasks = {q for q in queued if q.startswith(f"{array_id}_")}
        assert len(tasks) == len(members), (array_id, len(tasks))  # the queue holds them all
    for array_id, members in chunks.items():
        schedulers.command(["scontrol", "release", array_id])
        deadline = time.monotonic() + 120
        while sum(info(d)["status"] == "COMPLETE" for d in members[:6]) < 2:
            assert time.monotonic() < deadline, describe(members[0])
            time.sleep(0.5)
        schedulers.command(["scontrol", "hold", array_id])
    ran = [d for d in run_dirs if info(d)["status"] in ("RUNNING", "COMPLETE")]
    for run_dir in ran:
        meta = info(run_dir)
        index = meta["submit"]["array_task_index"]
        assert meta["scheduler"]["array_task_id"] == str(index)
        seed = int(next(o for o in meta["overrides"] if o.startswith("seed="))[5:])
        assert seed == run_dirs.index(run_dir)  # the task found its own run directory
    assert len({info(d)["submit"]["job_id"] for d in ran}) == 5
    proc = site.mlxp("cancel", "last")
    assert all(f" {array_id}" in proc.stdout for array_id in chunks), proc.stdout
    data = site.wait("last", _all_ended, timeout=120)
    counts = data["sweeps"][0]["counts"]
    assert counts.get("INTERRUPTED", 0) >= 5000 - len(ran) - 2 and sum(counts.values()) == 5000
