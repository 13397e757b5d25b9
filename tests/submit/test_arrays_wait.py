"""Job arrays and wait mode of the scheduler launchers, with the fake schedulers."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import info, run, run_dirs, write_app
from fakes.helpers import fake_env, records, wait_for_jobs

HERE = Path(__file__).resolve().parents[1]
TASK = """
print('SEED', ctx.config.seed)
ctx.logger.log_metrics({'seed': ctx.config.seed}, log_name='train')
if ctx.config.seed == 13:
    raise RuntimeError('unlucky')
return ctx.config.seed * 10
"""
ARRAY_SCHEDULERS = ["slurm", "oar", "torque", "sge", "mwm", "lsf"]


@pytest.mark.parametrize("name", ARRAY_SCHEDULERS)
def test_array_is_one_submission_with_a_run_dir_per_point(app: Path, tmp_path: Path,
                                                          name: str) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path)
    proc = run(app, "seed=1,2,3", f"hydra/launcher=mlxp_{name}", "hydra.launcher.array=true",
               env=env)
    assert proc.returncode == 0, proc.stderr
    ids = {str(info(app, i)["submit"]["job_id"]) for i in run_dirs(app)}
    assert len(ids) == 1  # one submission
    array_id = ids.pop()
    submits = {tuple(r["submit_argv"]) for r in records(env["FAKE_SCHED_DIR"])}
    assert len(submits) == 1
    wait_for_jobs(env["FAKE_SCHED_DIR"], [array_id], timeout=60)
    indexes = set()
    for log_id, seed in zip(run_dirs(app), (1, 2, 3)):
        run_dir = app / "logs" / str(log_id)
        script = (run_dir / "script.sh").read_text()
        assert "#" not in script.split("\n", 1)[1].split("cd ", 1)[0]  # no directives
        assert f"SEED {seed}" in (run_dir / "log.stdout").read_text()
        meta = info(app, log_id)
        assert meta["status"] == "COMPLETE"
        assert meta["scheduler"]["array_task_id"] is not None
        indexes.add(meta["submit"]["array_task_index"])
        assert Path(meta["submit"]["array_script"]).is_file()
    assert len(indexes) == 3


def test_array_parallelism(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path, norun="1")
    proc = run(app, "seed=1,2,3,4", "hydra/launcher=mlxp_slurm", "hydra.launcher.array=true",
               "hydra.launcher.array_parallelism=2", env=env)
    assert proc.returncode == 0, proc.stderr
    script = next((app / "logs/.arrays").glob("*.sh")).read_text()
    assert "#SBATCH --array=0-3%2" in script
    proc = run(app, "seed=1,2", "hydra/launcher=mlxp_oar", "hydra.launcher.array=true",
               "hydra.launcher.array_parallelism=2", env=env)
    assert proc.returncode != 0 and "cannot limit" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(run_dirs(app)) == 4  # nothing created by the refused submission


def test_rejected_array_marks_every_run_submit_failed(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    proc = run(app, "seed=1,2", "hydra/launcher=mlxp_slurm", "hydra.launcher.array=true",
               env=fake_env(tmp_path, reject="array"))
    assert proc.returncode != 0
    assert [info(app, i)["status"] for i in (1, 2)] == ["SUBMIT_FAILED"] * 2


@pytest.mark.parametrize("array", ["false", "true"])
def test_wait_returns_results_and_errors_to_the_sweeper(app: Path, tmp_path: Path,
                                                        array: str) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path)
    env["PYTHONPATH"] = str(HERE / "helpers" / "sweeper_plugin")
    proc = run(app, "seed=1,2,13", "hydra/sweeper=result_sweeper", "hydra/launcher=mlxp_sge",
               "hydra.launcher.wait=true", "hydra.launcher.poll_interval=0.2",
               f"hydra.launcher.array={array}", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "RESULT seed=1 COMPLETED 10" in proc.stdout
    assert "RESULT seed=2 COMPLETED 20" in proc.stdout
    assert "RESULT seed=13 FAILED RuntimeError unlucky" in proc.stdout
    assert [info(app, i)["status"] for i in (1, 2, 3)] == ["COMPLETE", "COMPLETE", "FAILED"]


def test_wait_with_the_basic_sweeper_exits_non_zero_on_a_failed_job(app: Path,
                                                                    tmp_path: Path) -> None:
    write_app(app, TASK)
    proc = run(app, "seed=1,13", "hydra/launcher=mlxp_slurm", "hydra.launcher.wait=true",
               "hydra.launcher.poll_interval=0.2", env=fake_env(tmp_path))
    assert proc.returncode != 0
    assert "unlucky" in proc.stderr


def test_wait_detects_a_job_killed_without_notice(app: Path, tmp_path: Path) -> None:
    write_app(app, "time.sleep(60)")
    env = fake_env(tmp_path)
    import subprocess
    import sys
    import time

    head = subprocess.Popen(
        [sys.executable, "main.py", "seed=1", "-m", "hydra/launcher=mlxp_slurm",
         "hydra.launcher.wait=true", "hydra.launcher.poll_interval=0.2"],
        cwd=app, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    def status() -> object:
        try:  # the head writes info.yaml only once the job is submitted
            return info(app, 1)["status"]
        except FileNotFoundError:
            return None

    deadline = time.time() + 30
    while time.time() < deadline and status() != "RUNNING":
        time.sleep(0.1)
    import os
    import signal

    os.kill(info(app, 1)["process_id"], signal.SIGKILL)  # what the OOM killer does
    _, err = head.communicate(timeout=60)
    assert head.returncode != 0
    meta = info(app, 1)
    assert meta["status"] == "FAILED" and meta["error"]["type"] == "JobLost"
    assert "no longer lists job" in err
