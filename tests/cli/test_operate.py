"""`mlxp status / cancel / rerun / logs` with the fake scheduler commands (calls counted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import yaml
from conftest import info, run, run_dirs, write_app
from fakes.helpers import (
    add_job,
    calls,
    fake_env,
    records,
    set_final_state,
    wait_for_jobs,
)

from mlxp_core.record.yamlio import dump

PY_DIR = os.path.dirname(sys.executable)
TASK = """
try:
    state = ctx.logger.load_checkpoint('ckpt')
    print('RESUMED', state['step'], flush=True)
except FileNotFoundError:
    state = None
print('SEED', ctx.config.seed, flush=True)
if ctx.config.seed == 13 and state is None:
    ctx.logger.log_checkpoint({'step': 1}, log_name='ckpt')
    raise RuntimeError('unlucky')
ctx.logger.log_metrics({'seed': ctx.config.seed}, log_name='train')
"""


def mlxp(cwd: Path, *args: str, env: Optional[Dict[str, str]] = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlxp_core.cli.main", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _status_json(app: Path, env: Dict[str, str], *args: str) -> Dict:
    proc = mlxp(app, "status", *args, "--json", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def _submit(app: Path, env: Dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = run(app, *args, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _job_ids(app: Path) -> List[str]:
    return sorted({str(info(app, i)["submit"]["job_id"]) for i in run_dirs(app)})


# -- sweep ids --------------------------------------------------------------------------------


def test_every_submission_records_its_sweep(app: Path, tmp_path: Path) -> None:
    """Launcher heads, mlxpsub scripts (all commands: one sweep) and local sweeps."""
    write_app(app, TASK)
    env = fake_env(tmp_path)
    proc = _submit(app, env, "seed=1,2", "hydra/launcher=mlxp_slurm")
    first = {info(app, i)["sweep"]["id"] for i in run_dirs(app)}
    assert len(first) == 1 and f"(sweep {next(iter(first))})" in proc.stdout
    sweep = info(app, 1)["sweep"]
    assert "main.py seed=1,2 hydra/launcher=mlxp_slurm" in sweep["command"]
    assert f"export MLXP_SWEEP={sweep['id']}" in (app / "logs/1/script.sh").read_text()
    wait_for_jobs(env["FAKE_SCHED_DIR"], _job_ids(app), timeout=60)
    assert info(app, 1)["sweep"] == sweep  # the job kept the head's
    # mlxpsub: two commands, one sweep, its command is what the user typed
    (app / "job.sh").write_text(f"#!/bin/bash\n#SBATCH --time=00:05:00\nexport PATH={PY_DIR}:"
                                "$PATH\npython main.py seed=3,4\npython main.py seed=5\n")
    proc = subprocess.run([sys.executable, "-m", "mlxp_core.cli.mlxpsub", "job.sh"], cwd=app,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    second = {info(app, i)["sweep"]["id"] for i in (3, 4, 5)}
    assert len(second) == 1 and second != first
    assert info(app, 3)["sweep"]["command"] == "mlxpsub job.sh"
    assert f"sweep {next(iter(second))}" in proc.stdout
    # a local sweep of @mlxp.launch: its points (one process) share one id
    local = tmp_path / "local"
    write_app(local, TASK)
    assert run(local, "seed=1,2,3").returncode == 0
    ids = {info(local, i)["sweep"]["id"] for i in run_dirs(local)}
    assert len(ids) == 1
    assert "main.py seed=1,2,3" in info(local, 1)["sweep"]["command"]
    assert run(local, "seed=4").returncode == 0
    assert info(local, 4)["sweep"]["id"] not in ids


# -- status -----------------------------------------------------------------------------------


def test_status_shows_scheduler_states_and_records_lost_jobs(app: Path, tmp_path: Path) -> None:
    """Pending jobs with their reason; a job the scheduler ended (TIMEOUT) without the run
    recording it is recorded FAILED with that reason and its accounting, asked once."""
    write_app(app, TASK)
    env = fake_env(tmp_path, norun="1")
    _submit(app, env, "seed=1,2,3", "hydra/launcher=mlxp_slurm")
    fake = env["FAKE_SCHED_DIR"]
    data = _status_json(app, env)
    (sweep,) = data["sweeps"]
    assert sweep["counts"] == {"SUBMITTED": 3}
    assert all(r["scheduler"]["state"] == "PENDING" and r["scheduler"]["reason"] == "Resources"
               for r in sweep["runs"])
    assert data["calls"] == {"list": 1}
    # the scheduler ends job 2 for its time limit; the job could not record it
    job = str(info(app, 2)["submit"]["job_id"])
    record = json.loads((Path(fake) / "jobs" / f"{job}.json").read_text())
    record.update(state="FAILED", start_time=record["submit_time"], end_time=record[
        "submit_time"] + 61, exit_code=0)
    (Path(fake) / "jobs" / f"{job}.json").write_text(json.dumps(record))
    set_final_state(fake, job, "TIMEOUT")
    before = len(calls(fake))
    data = _status_json(app, env)
    assert data["recorded"] == {"2": "FAILED"}
    meta = info(app, 2)
    assert meta["status"] == "FAILED" and meta["error"]["type"] == "JobLost"
    assert meta["error"]["reason"] == "TIMEOUT"
    assert meta["accounting"]["state"] == "TIMEOUT" and meta["accounting"]["elapsed_s"] == 61
    made = [c["prog"] for c in calls(fake)[before:]]
    assert made == ["squeue"]  # squeue -t all still lists the ended job: no sacct needed
    # the text output says it, aligned, without colour when not on a terminal
    proc = mlxp(app, "status", env=env)
    assert "FAILED" in proc.stdout and "TIMEOUT" in proc.stdout and "\033[" not in proc.stdout
    assert "\033[" in mlxp(app, "status", "--color", "always", env=env).stdout


def test_accounting_of_ended_jobs_is_asked_once(app: Path, tmp_path: Path) -> None:
    """Ended runs get `accounting` (one sacct call for all); never asked again."""
    write_app(app, TASK)
    env = fake_env(tmp_path, min_job_age="0")  # squeue forgets ended jobs at once
    _submit(app, env, "seed=1,2,13", "hydra/launcher=mlxp_slurm")
    fake = env["FAKE_SCHED_DIR"]
    wait_for_jobs(fake, _job_ids(app), timeout=60)
    before = len(calls(fake))
    data = _status_json(app, env)
    assert data["sweeps"][0]["counts"] == {"COMPLETE": 2, "FAILED": 1}
    made = [(c["prog"], c["argv"]) for c in calls(fake)[before:]]
    assert [p for p, _ in made] == ["squeue", "sacct"]
    assert "-j" in made[1][1] and made[1][1][made[1][1].index("-j") + 1] == ",".join(
        _job_ids(app))
    for log_id in run_dirs(app):
        acct = info(app, log_id)["accounting"]
        assert acct["max_rss_mb"] == 20.0 and acct["cpu_s"] == 0.12 and acct["node"]
    failed = info(app, 3)["accounting"]
    assert failed["state"] == "FAILED" and failed["exit_code"] == "1:0"
    before = len(calls(fake))
    _status_json(app, env)
    assert calls(fake)[before:] == []  # nothing live, everything accounted: no call at all


def _write_run(parent: Path, log_id: int, meta: Dict) -> None:
    run_dir = parent / str(log_id)
    (run_dir / "metadata").mkdir(parents=True)
    (run_dir / "metadata" / "info.yaml").write_text(dump(meta))


def test_one_refresh_over_10000_runs_makes_one_listing_and_one_accounting_call(
        tmp_path: Path) -> None:
    """10,000 runs, 2,000 of them queued (one array): 1 squeue call, at most 1 sacct call."""
    env = fake_env(tmp_path)
    fake = env["FAKE_SCHED_DIR"]
    parent = tmp_path / "logs"
    sweep = {"id": "20261207-100000-abcd", "command": "mlxpsub job.sh"}
    keys = [f"5000_{k}" for k in range(2000)]
    add_job(fake, keys[0], "slurm", "PENDING", submit_id="5000", array_keys=keys)
    for log_id in range(1, 10001):
        live = log_id > 8000
        meta = {"status": "SUBMITTED" if live else "COMPLETE", "log_id": log_id,
                "sweep": sweep,
                "submit": {"scheduler": "slurm", "job_id": "5000" if live else "4000",
                           "array_task_index": (log_id - 8001) if live else log_id - 1,
                           "submit_time": "2026-01-07T10:00:00+00:00"},
                "end_time": None if live else "2026-01-07T10:05:00+00:00"}
        if not live and log_id % 2:
            meta["accounting"] = {"state": "COMPLETED", "reason": "COMPLETED"}
        _write_run(parent, log_id, meta)
    data = _status_json(tmp_path, env, str(parent))
    made = [c["prog"] for c in calls(fake)]
    assert made.count("squeue") == 1 and made.count("sacct") <= 1, made
    assert len(made) <= 2
    assert data["live"] == 2000 and data["runs"] == 10000
    assert data["sweeps"][0]["counts"] == {"SUBMITTED": 2000, "COMPLETE": 8000}
    # next refresh: the old job (unknown to sacct, ended long ago) is not asked about again
    data = _status_json(tmp_path, env, str(parent))
    made = [c["prog"] for c in calls(fake)]
    assert made.count("sacct") <= 1 and made.count("squeue") == 2, made


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_a_half_pending_sweep_in_one_command(app: Path, tmp_path: Path) -> None:
    """A whole array by its id; its pending runs end INTERRUPTED at once."""
    write_app(app, TASK)
    env = fake_env(tmp_path, norun="1")
    _submit(app, env, "seed=1,2,3,4", "hydra/launcher=mlxp_slurm", "hydra.launcher.array=true")
    _submit(app, env, "seed=5,6", "hydra/launcher=mlxp_slurm")
    fake = env["FAKE_SCHED_DIR"]
    (array,) = {str(info(app, i)["submit"]["job_id"]) for i in (1, 2, 3, 4)}
    sweep = info(app, 1)["sweep"]["id"]
    proc = mlxp(app, "cancel", sweep, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"mlxp cancel: scancel {array}\n" in proc.stdout
    assert [c["argv"] for c in calls(fake, "scancel")] == [[array]]
    for log_id in (1, 2, 3, 4):
        meta = info(app, log_id)
        assert meta["status"] == "INTERRUPTED", meta
        assert "cancelled before start; recorded by mlxp cancel" in meta["signal"]
    assert info(app, 5)["status"] == "SUBMITTED"  # another sweep
    # only some tasks of an array: each by its own id; run ids select them
    _submit(app, env, "seed=7,8,9", "hydra/launcher=mlxp_slurm", "hydra.launcher.array=true")
    array = str(info(app, 7)["submit"]["job_id"])
    proc = mlxp(app, "cancel", "7-8", env=env)
    assert proc.returncode == 0, proc.stderr
    assert calls(fake, "scancel")[-1]["argv"] == [f"{array}_0", f"{array}_1"]
    assert [info(app, i)["status"] for i in (7, 8, 9)] == ["INTERRUPTED", "INTERRUPTED",
                                                           "SUBMITTED"]


def test_cancel_running_jobs_lets_them_record_their_end(app: Path, tmp_path: Path) -> None:
    write_app(app, "print('STARTED', flush=True)\ntime.sleep(60)")
    env = fake_env(tmp_path)
    _submit(app, env, "seed=1,2", "hydra/launcher=mlxp_sge", "hydra.launcher.array=true")
    fake = env["FAKE_SCHED_DIR"]
    for log_id in (1, 2):
        from fakes.helpers import wait_for_text

        wait_for_text(app / f"logs/{log_id}/log.stdout", "STARTED", timeout=60)
    proc = mlxp(app, "cancel", "last", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (array,) = _job_ids(app)
    assert [c["argv"] for c in calls(fake, "qdel")] == [[array]]
    assert "2 running" in proc.stdout
    wait_for_jobs(fake, [array], timeout=30)
    assert {info(app, i)["status"] for i in (1, 2)} == {"INTERRUPTED"}


# -- rerun ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["slurm", "sge", "oar", "lsf"])
def test_rerun_failed_only_those_in_the_same_dirs_as_one_array(app: Path, tmp_path: Path,
                                                               name: str) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path)
    _submit(app, env, "seed=1,13,2,13", f"hydra/launcher=mlxp_{name}", "hydra.launcher.mem=1G"
            if name != "oar" else "hydra.launcher.time=00:10:00")
    fake = env["FAKE_SCHED_DIR"]
    wait_for_jobs(fake, _job_ids(app), timeout=60)
    assert [info(app, i)["status"] for i in (1, 2, 3, 4)] == ["COMPLETE", "FAILED",
                                                              "COMPLETE", "FAILED"]
    first = {i: info(app, i) for i in (2, 4)}
    proc = mlxp(app, "rerun", "--failed", "--dry-run", "last", env=env)
    assert proc.returncode == 0 and "would resubmit 2 runs" in proc.stdout, proc.stdout
    assert info(app, 2)["status"] == "FAILED" and len(records(fake)) == 4
    proc = mlxp(app, "rerun", "--failed", "last", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resubmitted 2 runs (failed) as 1 array job(s)" in proc.stdout
    new = {str(info(app, i)["submit"]["job_id"]) for i in (2, 4)}
    assert len(new) == 1  # one array
    wait_for_jobs(fake, new, timeout=60)
    assert run_dirs(app) == [1, 2, 3, 4]
    for log_id in (2, 4):
        meta = info(app, log_id)
        assert meta["status"] == "COMPLETE", meta
        assert meta["attempt"] == 2 and meta["first_start_time"] == first[log_id]["start_time"]
        assert meta["submit"]["previous_job_ids"] == [str(first[log_id]["submit"]["job_id"])]
        assert meta["attempts"][0]["status"] == "FAILED"
        assert "RESUMED 1" in (app / f"logs/{log_id}/log.stdout").read_text()
        assert "unlucky" in (app / f"logs/{log_id}/log.stderr.1").read_text()
    for log_id in (1, 3):
        assert info(app, log_id)["attempt"] == 1  # never resubmitted
    script = Path(info(app, 2)["submit"]["array_script"]).read_text()
    assert "rerun-" in script and (("1G" in script) if name != "oar" else "0:10:00" in script)


def test_rerun_raises_resources_and_never_resubmits_live_runs(app: Path, tmp_path: Path
                                                                ) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path)
    _submit(app, env, "seed=13,14", "hydra/launcher=mlxp_slurm", "hydra.launcher.mem=1G",
            "hydra.launcher.time=00:01:00")
    fake = env["FAKE_SCHED_DIR"]
    wait_for_jobs(fake, _job_ids(app), timeout=60)
    # run 2 is pending again (requeued by the scheduler) though it recorded FAILED
    meta = info(app, 2)
    add_job(fake, "7777", "slurm", "PENDING")
    meta.update(status="FAILED")
    meta["submit"]["job_id"] = "7777"
    (app / "logs/2/metadata/info.yaml").write_text(yaml.safe_dump(meta))
    proc = mlxp(app, "rerun", "--mem", "4G", "--time", "02:00:00", "1,2", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "run 2 not resubmitted: slurm still lists its job" in proc.stdout
    script = Path(info(app, 1)["submit"]["array_script"]).read_text()
    assert "#SBATCH --mem=4G" in script and "#SBATCH --time=02:00:00" in script
    assert info(app, 1)["submit"]["launcher"]["resources"] == {"mem": "4G", "time": "02:00:00"}
    assert mlxp(app, "rerun", "--mem", "lots", "1", env=env).returncode == 2


def test_submit_limit_rejects_part_and_rerun_missing_submits_them(app: Path,
                                                                  tmp_path: Path) -> None:
    """MaxSubmitJobs: the points over the limit are SUBMIT_FAILED with the scheduler's
    message (reported once, counted); `mlxp rerun --missing` submits them later."""
    write_app(app, TASK)
    env = fake_env(tmp_path, norun="1", max_submit="3")
    proc = run(app, "seed=1,2,3,4,5", "hydra/launcher=mlxp_slurm", env=env)
    assert proc.returncode != 0
    statuses = [info(app, i)["status"] for i in run_dirs(app)]
    assert statuses == ["SUBMITTED"] * 3 + ["SUBMIT_FAILED"] * 2
    assert "QOSMaxSubmitJobPerUserLimit" in info(app, 4)["submit"]["error"]
    assert proc.stderr.count("Job violates accounting/QOS policy") == 1
    assert "2 x " in proc.stderr
    fake = env["FAKE_SCHED_DIR"]
    for record in records(fake):  # the first three ran and left the queue
        record.update(state="COMPLETED", end_time=record["submit_time"])
        (Path(fake) / "jobs" / f"{record['key']}.json").write_text(json.dumps(record))
    proc = mlxp(app, "rerun", "--missing", "last", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resubmitted 2 runs (missing)" in proc.stdout
    assert [info(app, i)["status"] for i in (4, 5)] == ["SUBMITTED", "SUBMITTED"]


# -- limits of clusters -----------------------------------------------------------------------


def test_array_above_max_array_size_is_split_in_chunks_from_zero(app: Path,
                                                                 tmp_path: Path) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path, norun="1", max_array_size="4")
    _submit(app, env, "seed=range(0,10)", "hydra/launcher=mlxp_slurm",
            "hydra.launcher.array=true")
    scripts = sorted((app / "logs/.arrays").glob("*.sh"), key=lambda p: int(p.stem.split("-")[0]))
    assert [p.name for p in scripts] == ["1-4.sh", "5-8.sh", "9-10.sh"]
    assert ["--array=0-3" in p.read_text() for p in scripts] == [True, True, False]
    assert "--array=0-1" in scripts[2].read_text()
    ids = [str(info(app, i)["submit"]["job_id"]) for i in run_dirs(app)]
    assert len(set(ids)) == 3
    assert [info(app, i)["submit"]["array_task_index"] for i in run_dirs(app)] == [
        0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert len(calls(env["FAKE_SCHED_DIR"], "scontrol")) == 1
    # the dispatch: task k of chunk c runs run dir c * 4 + k + 1
    assert 'runs=(' in scripts[1].read_text() and f"{app}/logs/5 " in scripts[1].read_text()


def test_sge_max_aj_tasks_splits_too(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path, norun="1", max_aj_tasks="3")
    _submit(app, env, "seed=range(0,7)", "hydra/launcher=mlxp_sge", "hydra.launcher.array=true")
    texts = [p.read_text() for p in (app / "logs/.arrays").glob("*.sh")]
    assert sorted(t.count("#$ -t 1-3") for t in texts) == [0, 1, 1]
    assert sum("#$ -t 1-1" in t for t in texts) == 1


def test_identical_submit_failures_are_reported_once(app: Path, tmp_path: Path) -> None:
    """1,500 points refused as one array: one line with the count, no 200 KB line."""
    write_app(app, TASK)
    env = fake_env(tmp_path, norun="1", reject="runs=(")
    proc = run(app, "seed=range(0,1500)", "hydra/launcher=mlxp_slurm",
               "hydra.launcher.array=true", env=env, timeout=300)
    assert proc.returncode != 0
    assert max(len(line) for line in (proc.stdout + proc.stderr).splitlines()) < 3000
    assert "Invalid partition name specified" in proc.stderr
    assert proc.stderr.count("Invalid partition name specified") == 1
    assert "1500 x " in proc.stderr
    meta = info(app, 1500)
    assert meta["status"] == "SUBMIT_FAILED" and len(meta["submit"]["error"]) < 3000


def test_long_messages_are_cut_in_the_record(tmp_path: Path) -> None:
    from mlxp_core.record import info as run_info

    run_dir = tmp_path / "1"
    (run_dir / "metadata").mkdir(parents=True)
    record = run_info.submission_record(1, run_dir, [], "slurm", run_dir / "script.sh")
    run_info.record_submission(run_dir, record, run_info.SUBMIT_FAILED, error="x" * 200_000)
    error = run_info.read_info(run_dir)["submit"]["error"]
    assert len(error) < 2100 and error.endswith("(198000 more characters)")


# -- logs -------------------------------------------------------------------------------------


def test_logs_prints_the_job_output(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path)
    _submit(app, env, "seed=1,13", "hydra/launcher=mlxp_slurm")
    wait_for_jobs(env["FAKE_SCHED_DIR"], _job_ids(app), timeout=60)
    proc = mlxp(app, "logs", "1", env=env)
    assert proc.returncode == 0 and "SEED 1" in proc.stdout
    proc = mlxp(app, "logs", "logs", "2", "--stderr", "--follow", env=env)
    assert proc.returncode == 0 and "RuntimeError: unlucky" in proc.stdout
    assert mlxp(app, "logs", "9", env=env).returncode == 2
    local = tmp_path / "local"
    write_app(local, TASK)
    assert run(local, "seed=1").returncode == 0
    proc = mlxp(local, "logs", "1")
    assert proc.returncode == 2 and "ran in the foreground" in proc.stderr


def test_bad_targets_are_one_clear_error(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    assert run(app, "seed=1").returncode == 0
    proc = mlxp(app, "status", "20991231-000000")
    assert proc.returncode == 2 and "no sweep '20991231-000000'" in proc.stderr
    proc = mlxp(app, "status", "info.statuz == 'FAILED'")
    assert proc.returncode == 2 and "info.status" in proc.stderr
    proc = mlxp(app, "cancel")
    assert proc.returncode == 2 and "name what to cancel" in proc.stderr
    proc = mlxp(tmp_path, "status", "nowhere", "last")
    assert proc.returncode == 2 and "no such logs directory" in proc.stderr


def test_rerun_refuses_what_the_scheduler_cannot_express_and_touches_nothing(
        app: Path, tmp_path: Path) -> None:
    """OAR wants its resources on one -l line: `--time` next to the script's own `-l`
    directive is refused before anything is written or submitted."""
    write_app(app, TASK)
    env = fake_env(tmp_path)
    (app / "job.sh").write_text(f"#!/bin/bash\n#OAR -l core=1,walltime=0:10:0\nexport PATH="
                                f"{PY_DIR}:$PATH\npython main.py seed=13,14\n")
    proc = subprocess.run([sys.executable, "-m", "mlxp_core.cli.mlxpsub", "job.sh"], cwd=app,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    wait_for_jobs(env["FAKE_SCHED_DIR"], _job_ids(app), timeout=60)
    before = (app / "logs/1/metadata/info.yaml").read_text()
    proc = mlxp(app, "rerun", "--time", "01:00:00", "last", env=env)
    assert proc.returncode == 1 and "one '-l' line" in proc.stdout, proc.stdout
    assert (app / "logs/1/metadata/info.yaml").read_text() == before
    assert (app / "logs/1/log.stderr").is_file()  # the logs were not moved either
    proc = mlxp(app, "rerun", "last", env=env)  # without --time: the recorded walltime
    assert proc.returncode == 0 and "resubmitted 1 runs" in proc.stdout, proc.stdout


LISTERS = {"slurm": "squeue", "sge": "qstat", "oar": "oarstat", "torque": "qstat",
           "mwm": "showq", "lsf": "bjobs"}


@pytest.mark.parametrize("name", sorted(LISTERS))
def test_status_reads_every_schedulers_listing(app: Path, tmp_path: Path, name: str) -> None:
    """Queued jobs of each scheduler, singles and an array, read from ONE listing call."""
    write_app(app, TASK)
    env = fake_env(tmp_path, norun="1")
    _submit(app, env, "seed=1,2", f"hydra/launcher=mlxp_{name}")
    _submit(app, env, "seed=3,4,5", f"hydra/launcher=mlxp_{name}", "hydra.launcher.array=true")
    fake = env["FAKE_SCHED_DIR"]
    before = len(calls(fake))
    data = _status_json(app, env)
    assert [c["prog"] for c in calls(fake)[before:]] == [LISTERS[name]]
    runs = [r for s in data["sweeps"] for r in s["runs"]]
    assert len(runs) == 5 and data["live"] == 5, data
    assert {r["scheduler"]["phase"] for r in runs} == {"PENDING"}, runs
    proc = mlxp(app, "cancel", "1-5", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {info(app, i)["status"] for i in range(1, 6)} == {"INTERRUPTED"}


def test_a_job_gone_and_unknown_to_the_accounting_is_recorded_lost_later(
        app: Path, tmp_path: Path) -> None:
    """Grid Engine's qacct lags: a job gone from qstat and not in qacct yet is left alone,
    asked again at the next refresh, and recorded lost (no reason) once it stayed unknown."""
    write_app(app, TASK)
    env = fake_env(tmp_path, norun="1")
    _submit(app, env, "seed=1,2", "hydra/launcher=mlxp_sge")
    fake = Path(env["FAKE_SCHED_DIR"])
    job = str(info(app, 1)["submit"]["job_id"])
    (fake / "jobs" / f"{job}.json").unlink()  # gone, and never reached the accounting
    data = _status_json(app, env)
    assert data["recorded"] == {} and info(app, 1)["status"] == "SUBMITTED"
    assert [c["prog"] for c in calls(fake)][-2:] == ["qstat", "qacct"]
    cache = app / "logs" / ".mlxp" / "scheduler_cache.json"
    content = json.loads(cache.read_text())
    for entry in content["jobs"].values():
        entry["cached"] -= 3600
    cache.write_text(json.dumps(content))
    data = _status_json(app, env)
    assert data["recorded"] == {"1": "FAILED"}
    meta = info(app, 1)
    assert meta["error"]["type"] == "JobLost" and "reason" not in meta["error"]
    assert info(app, 2)["status"] == "SUBMITTED"
