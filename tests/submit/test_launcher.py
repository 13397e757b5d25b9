"""The mlxp_<scheduler> launchers end to end, with faithful fake submit commands on PATH."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import info, run, run_dirs, write_app
from fakes.helpers import fake_env, records, wait_for_jobs

NASTY = "a b $HOME `x` ; * \"q\" 'single'"
TASK = """
print('MSG', json.dumps(ctx.config.get('msg')), 'SEED', ctx.config.seed, 'PID', os.getpid())
ctx.logger.log_metrics({'seed': ctx.config.seed}, log_name='train')
if ctx.config.seed == 13:
    raise RuntimeError('unlucky')
"""


def _hydra_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _submitted_ids(app: Path) -> list[str]:
    return [str(info(app, i)["submit"]["job_id"]) for i in run_dirs(app)]


SCHEDULERS = ["slurm", "oar", "torque", "pbs", "sge", "mwm", "lsf"]


@pytest.mark.parametrize("name", SCHEDULERS)
def test_each_scheduler_runs_every_point_in_its_own_run_dir(app: Path, tmp_path: Path,
                                                             name: str) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path)
    proc = run(app, "seed=1,2", f"+msg={_hydra_quote(NASTY)}", f"hydra/launcher=mlxp_{name}",
               "hydra.launcher.time=10", "hydra.launcher.cpus=1",
               "hydra.launcher.setup=[\"echo SETUP-LINE\"]", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"2 of 2 jobs submitted to {'torque' if name == 'pbs' else name}" in proc.stdout
    ids = _submitted_ids(app)
    assert len(ids) == 2 and all(ids)
    codes = wait_for_jobs(env["FAKE_SCHED_DIR"], ids, timeout=60)
    assert all(c == 0 for c in codes.values()), codes
    for log_id, job_id in zip(run_dirs(app), ids):
        run_dir = app / "logs" / str(log_id)
        out = (run_dir / "log.stdout").read_text()
        assert f"MSG {json.dumps(NASTY)}" in out and "SETUP-LINE" in out
        assert (run_dir / "log.stderr").is_file()
        assert (run_dir / "script.sh").read_text().startswith("#!/bin/bash\n")
        meta = info(app, log_id)
        assert meta["status"] == "COMPLETE"
        assert meta["scheduler"]["job_id"] == job_id
        assert meta["submit"]["job_id"] == job_id
        assert meta["submit"]["script"] == str(run_dir / "script.sh")
        assert (run_dir / "metrics/train.json").is_file()
    # nothing of the task ran in the head process
    assert "MSG" not in proc.stdout


def test_failing_job_is_failed_for_mlxp_and_for_the_scheduler(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path)
    proc = run(app, "seed=1,13", "hydra/launcher=mlxp_slurm", env=env)
    assert proc.returncode == 0, proc.stderr
    codes = wait_for_jobs(env["FAKE_SCHED_DIR"], _submitted_ids(app), timeout=60)
    assert sorted(codes.values()) == [0, 1]
    assert [info(app, i)["status"] for i in (1, 2)] == ["COMPLETE", "FAILED"]
    assert info(app, 2)["error"]["message"] == "unlucky"


def test_a_rejected_job_is_submit_failed_and_the_others_still_go(app: Path,
                                                                tmp_path: Path) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path, reject="seed=2")
    proc = run(app, "seed=1,2,3", "hydra/launcher=mlxp_slurm", env=env)
    assert proc.returncode != 0
    assert "Invalid partition name specified" in proc.stderr
    assert "1 of 3 submissions failed" in proc.stderr
    statuses = {i: info(app, i)["status"] for i in run_dirs(app)}
    assert sorted(statuses.values()) == ["SUBMITTED", "SUBMITTED", "SUBMIT_FAILED"] or \
        sorted(statuses.values()).count("SUBMIT_FAILED") == 1
    failed = next(i for i, s in statuses.items() if s == "SUBMIT_FAILED")
    assert "Invalid partition" in info(app, failed)["submit"]["error"]
    assert len(records(env["FAKE_SCHED_DIR"])) == 2


def test_unparsable_submit_output(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    proc = run(app, "seed=1", "-m", "hydra/launcher=mlxp_sge",
               env=fake_env(tmp_path, bad_output="1"))
    assert proc.returncode != 0
    assert "no job id found" in proc.stderr
    assert info(app, 1)["status"] == "SUBMIT_FAILED"


def test_missing_submit_command_fails_before_any_directory(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin"}
    proc = run(app, "seed=1,2", "hydra/launcher=mlxp_lsf", env=env)
    assert proc.returncode != 0
    assert "'bsub' not found on PATH" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert run_dirs(app) == []


def test_unknown_launcher_field_and_bad_resource(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    proc = run(app, "seed=1,2", "hydra/launcher=mlxp_slurm", "hydra.launcher.partion=gpu",
               env=fake_env(tmp_path))
    assert proc.returncode != 0 and "partion" in proc.stderr
    proc = run(app, "seed=1,2", "hydra/launcher=mlxp_oar", "hydra.launcher.mem=4G",
               env=fake_env(tmp_path))
    assert proc.returncode != 0 and "mem" in proc.stderr and "Traceback" not in proc.stderr
    assert run_dirs(app) == []


def test_dry_run_renders_and_submits_nothing(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path)
    proc = run(app, "seed=1,2", "hydra/launcher=mlxp_oar", "hydra.launcher.dry_run=true",
               "hydra.launcher.directives=[\"-t besteffort\"]", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "dry run" in proc.stdout and str(app / "logs/1/script.sh") in proc.stdout
    assert "#OAR -t besteffort" in (app / "logs/1/script.sh").read_text()
    assert [info(app, i)["status"] for i in (1, 2)] == ["DRY_RUN", "DRY_RUN"]
    assert records(env["FAKE_SCHED_DIR"]) == []


def test_user_launcher_config_and_forwarded_flags(app: Path, tmp_path: Path) -> None:
    write_app(app, "print('NAME', ctx.config.name, 'FOO', os.environ.get('FOO'))")
    (app / "configs/other.yaml").write_text("seed: 0\nname: other\n")
    (app / "configs/hydra/launcher").mkdir(parents=True)
    (app / "configs/hydra/launcher/my_cluster.yaml").write_text(
        "defaults:\n  - mlxp_slurm\npartition: gpu\ndirectives: ['--qos=high']\n")
    env = fake_env(tmp_path)
    proc = run(app, "--config-name", "other", "seed=1,2", "hydra/launcher=my_cluster",
               "+hydra.job.env_set.FOO=bar", env=env)
    assert proc.returncode == 0, proc.stderr
    script = (app / "logs/1/script.sh").read_text()
    assert "#SBATCH --partition=gpu" in script and "#SBATCH --qos=high" in script
    assert "--config-name other" in script and "+hydra.job.env_set.FOO=bar" in script
    assert "hydra/launcher" not in script
    wait_for_jobs(env["FAKE_SCHED_DIR"], _submitted_ids(app), timeout=60)
    assert "NAME other FOO bar" in (app / "logs/1/log.stdout").read_text()


def test_plain_hydra_app_with_a_scheduler_launcher(app: Path, tmp_path: Path) -> None:
    (app / "conf").mkdir(parents=True)
    (app / "conf/config.yaml").write_text("x: 1\n")
    (app / "app.py").write_text(
        "import hydra, mlxp\n"
        "@hydra.main(config_path='conf', config_name='config', version_base='1.3')\n"
        "def main(cfg):\n"
        "    mlxp.current_run().logger.log_metrics({'x': cfg.x}, 'train')\n"
        "if __name__ == '__main__':\n    main()\n")
    env = fake_env(tmp_path)
    proc = run(app, "-m", "x=1,2", "hydra/launcher=mlxp_slurm", script="app.py", env=env)
    assert proc.returncode == 0, proc.stderr
    wait_for_jobs(env["FAKE_SCHED_DIR"], _submitted_ids(app), timeout=60)
    assert [info(app, i)["status"] for i in (1, 2)] == ["COMPLETE", "COMPLETE"]
    assert (app / "logs/2/metrics/train.json").read_text() == '{"x": 2}\n'


def test_requeued_job_resumes_in_the_same_directory(app: Path, tmp_path: Path) -> None:
    write_app(app, TASK)
    env = fake_env(tmp_path)
    assert run(app, "seed=1", "-m", "hydra/launcher=mlxp_slurm", env=env).returncode == 0
    wait_for_jobs(env["FAKE_SCHED_DIR"], _submitted_ids(app), timeout=60)
    # the scheduler runs the same script again (requeue after preemption)
    again = subprocess.run(["bash", str(app / "logs/1/script.sh")], env={**env,
                           "SLURM_JOB_ID": "77"}, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    meta = info(app, 1)
    assert meta["attempt"] == 2 and meta["status"] == "COMPLETE"
    assert meta["scheduler"]["job_id"] == "77"
    assert (app / "logs/1/metrics/train.json").read_text() == '{"seed": 1}\n{"seed": 1}\n'
    assert run_dirs(app) == [1]


LOCAL_TASK = """
start = time.time()
time.sleep(0.6)
with open(os.path.join(os.environ['SPANS'], str(os.getpid())), 'w') as f:
    f.write(f"{start} {time.time()}")
print('SEED', ctx.config.seed)
if ctx.config.seed == 13:
    raise RuntimeError('unlucky')
"""


def test_mlxp_local_bounded_parallel_runs(app: Path, tmp_path: Path) -> None:
    write_app(app, LOCAL_TASK)
    spans = tmp_path / "spans"
    spans.mkdir()
    proc = run(app, "seed=1,2,3,4", "hydra/launcher=mlxp_local", "hydra.launcher.max_workers=2",
               env={"SPANS": str(spans)})
    assert proc.returncode == 0, proc.stderr
    assert [info(app, i)["status"] for i in run_dirs(app)] == ["COMPLETE"] * 4
    for i, seed in zip(run_dirs(app), (1, 2, 3, 4)):
        assert f"SEED {seed}" in (app / f"logs/{i}/log.stdout").read_text()
        assert (app / f"logs/{i}/script.sh").is_file()
    intervals = [tuple(map(float, p.read_text().split())) for p in spans.iterdir()]
    assert len(intervals) == 4
    for t, _ in intervals:  # at most two tasks run at any moment
        assert sum(1 for s, e in intervals if s <= t < e) <= 2
    assert max(sum(1 for s, e in intervals if s <= t < e) for t, _ in intervals) == 2


def test_mlxp_local_failure_is_reported_and_non_zero(app: Path, tmp_path: Path) -> None:
    write_app(app, LOCAL_TASK)
    spans = tmp_path / "spans"
    spans.mkdir()
    proc = run(app, "seed=1,13", "hydra/launcher=mlxp_local", env={"SPANS": str(spans)})
    assert proc.returncode != 0
    assert "unlucky" in proc.stderr
    assert [info(app, i)["status"] for i in (1, 2)] == ["COMPLETE", "FAILED"]
    assert "RuntimeError: unlucky" in (app / "logs/2/log.stderr").read_text()


@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_mlxp_local_interrupt_stops_children(app: Path, tmp_path: Path, inherited: str) -> None:
    """Ctrl-C of the head: running jobs end INTERRUPTED, queued ones are recorded cancelled
    before start, the head exits 130 without a traceback; also when the head inherited
    SIGINT as ignored (started with `&` from a script, as `bash scripts/test.sh &` does)."""
    write_app(app, "open(os.path.join(os.environ['SPANS'], str(os.getpid())), 'w').close()\n"
                   "time.sleep(60)")
    spans = tmp_path / "spans"
    spans.mkdir()
    disposition = signal.SIG_IGN if inherited == "ignored" else signal.SIG_DFL
    proc = subprocess.Popen([sys.executable, "main.py", "seed=1,2,3,4", "hydra/launcher=mlxp_local",
                             "hydra.launcher.max_workers=2"],
                            cwd=app, env={**os.environ, "SPANS": str(spans)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, disposition))
    deadline = time.time() + 30
    while len(list(spans.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err
    assert "interrupted by SIGINT: 2 INTERRUPTED, 2 cancelled before start" in out
    metas = [info(app, i) for i in (1, 2, 3, 4)]
    assert [m["status"] for m in metas] == ["INTERRUPTED"] * 4
    assert [m["signal"] for m in metas[:2]] == ["SIGTERM", "SIGTERM"]  # they ran: their own end
    assert all("cancelled before start" in m["signal"] for m in metas[2:])
    assert all("start_time" not in m for m in metas[2:])
    for pid in (int(p.name) for p in spans.iterdir()):  # no job process left behind
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
