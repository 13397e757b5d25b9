"""The head's one write of `info.yaml` versus the job's own writes, in both orders.

The head records the submission after `sbatch` returns; an array task may have started (or
even finished) by then. Whichever writes first, the job's status and the head's `submit`
record both survive. The job side is a real process adopting the directory (`MLXP_RUN_DIR`).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from conftest import run, write_app

from mlxp_core import rundir, runinfo
from mlxp_core.submission import Job, record

TASK = "ctx.logger.log_metrics({'seed': ctx.config.seed}, log_name='train')\n"


def _head_job(run_dir: Path, log_id: int) -> Job:
    """A job as the head has it after `prepare` (metadata/ exists, info not yet written)."""
    (run_dir / "metadata").mkdir()
    job = Job(idx=0, overrides=["seed=3"], log_id=log_id, run_dir=run_dir)
    job.info = {"status": None, "log_id": log_id, "log_dir": str(run_dir),
                "overrides": ["seed=3"],
                "submit": {"scheduler": "slurm", "job_id": None, "submit_time": None,
                           "script": str(run_dir / "script.sh")}}
    return job


def _info(run_dir: Path) -> dict:
    data = yaml.safe_load((run_dir / "metadata" / "info.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _run_job(app: Path, run_dir: Path) -> None:
    proc = run(app, "seed=3", env={"MLXP_RUN_DIR": str(run_dir)})
    assert proc.returncode == 0, proc.stderr


def test_head_first_then_the_job_keeps_the_submit_record(app: Path) -> None:
    write_app(app, TASK)
    log_id, run_dir = rundir.allocate(app / "logs")
    job = _head_job(run_dir, log_id)
    record(job, runinfo.SUBMITTED, job_id="41")
    assert _info(run_dir)["status"] == "SUBMITTED"
    _run_job(app, run_dir)
    meta = _info(run_dir)
    assert meta["status"] == "COMPLETE" and meta["attempt"] == 1
    assert meta["submit"]["job_id"] == "41" and meta["submit"]["submit_time"]


def test_job_first_then_the_head_adds_its_record_without_touching_the_status(
        app: Path) -> None:
    write_app(app, TASK)
    log_id, run_dir = rundir.allocate(app / "logs")
    job = _head_job(run_dir, log_id)
    _run_job(app, run_dir)  # the task ran (and ended) before the head got sbatch's answer
    assert _info(run_dir)["status"] == "COMPLETE"
    record(job, runinfo.SUBMITTED, job_id="42", array_task_index=0)
    meta = _info(run_dir)
    assert meta["status"] == "COMPLETE" and meta["end_time"]
    assert meta["submit"]["job_id"] == "42" and meta["submit"]["array_task_index"] == 0
    assert job.recorded
    assert not [p for p in os.listdir(run_dir / "metadata") if p.endswith(".tmp")]


def test_create_atomic_never_replaces(tmp_path: Path) -> None:
    path = tmp_path / "info.yaml"
    assert rundir.create_atomic(path, b"status: RUNNING\n")
    assert not rundir.create_atomic(path, b"status: SUBMITTED\n")
    assert path.read_bytes() == b"status: RUNNING\n"
    assert os.listdir(tmp_path) == ["info.yaml"]  # no temporary file left
