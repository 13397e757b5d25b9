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

from mlxp_core.record import info as run_info
from mlxp_core.record import layout
from mlxp_core.record.atomic import create_atomic

TASK = "ctx.logger.log_metrics({'seed': ctx.config.seed}, log_name='train')\n"


def _head_record(run_dir: Path, log_id: int) -> dict:
    """The head's record after `prepare` (metadata/ exists, info not yet written)."""
    (run_dir / "metadata").mkdir()
    return run_info.submission_record(log_id, run_dir, ["seed=3"], "slurm",
                                      run_dir / "script.sh")


def _info(run_dir: Path) -> dict:
    data = yaml.safe_load((run_dir / "metadata" / "info.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _run_job(app: Path, run_dir: Path) -> None:
    proc = run(app, "seed=3", env={"MLXP_RUN_DIR": str(run_dir)})
    assert proc.returncode == 0, proc.stderr


def test_head_first_then_the_job_keeps_the_submit_record(app: Path) -> None:
    write_app(app, TASK)
    log_id, run_dir = layout.allocate(app / "logs")
    head = _head_record(run_dir, log_id)
    run_info.record_submission(run_dir, head, run_info.SUBMITTED, job_id="41")
    assert _info(run_dir)["status"] == "SUBMITTED"
    _run_job(app, run_dir)
    meta = _info(run_dir)
    assert meta["status"] == "COMPLETE" and meta["attempt"] == 1
    assert meta["submit"]["job_id"] == "41" and meta["submit"]["submit_time"]


def test_job_first_then_the_head_adds_its_record_without_touching_the_status(
        app: Path) -> None:
    write_app(app, TASK)
    log_id, run_dir = layout.allocate(app / "logs")
    head = _head_record(run_dir, log_id)
    _run_job(app, run_dir)  # the task ran (and ended) before the head got sbatch's answer
    assert _info(run_dir)["status"] == "COMPLETE"
    kept = run_info.record_submission(run_dir, head, run_info.SUBMITTED, job_id="42",
                                      array_task_index=0)
    meta = _info(run_dir)
    assert meta["status"] == "COMPLETE" and meta["end_time"]
    assert meta["submit"]["job_id"] == "42" and meta["submit"]["array_task_index"] == 0
    assert kept == meta  # the head now holds what is recorded
    assert not [p for p in os.listdir(run_dir / "metadata") if p.endswith(".tmp")]


def test_create_atomic_never_replaces(tmp_path: Path) -> None:
    path = tmp_path / "info.yaml"
    assert create_atomic(path, b"status: RUNNING\n")
    assert not create_atomic(path, b"status: SUBMITTED\n")
    assert path.read_bytes() == b"status: RUNNING\n"
    assert os.listdir(tmp_path) == ["info.yaml"]  # no temporary file left


def _job_side(run_dir: str, rounds: int) -> None:
    """A job writing its record again and again (start, then end), as `run.active` does."""
    path = Path(run_dir)
    info = run_info.start_record(1, path, {}, {"hostname": "node"})
    for k in range(rounds):
        run_info.write_job_record(path, info)
        info["step"] = k
    run_info.end_record(info, run_info.COMPLETE, 1.0)
    run_info.write_job_record(path, info)


def test_head_and_job_racing_keep_both_records(tmp_path: Path) -> None:
    """The merge race, many times over: a head recording its submission while a real other
    process writes the job's record. Whoever wins each round, the file ends with the job's
    COMPLETE and the head's job id, and never holds a partial document."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    for trial in range(20):
        run_dir = tmp_path / str(trial)
        (run_dir / "metadata").mkdir(parents=True)
        head = run_info.submission_record(trial, run_dir, [], "slurm", run_dir / "script.sh")
        job = ctx.Process(target=_job_side, args=(str(run_dir), 5))
        job.start()
        run_info.record_submission(run_dir, head, run_info.SUBMITTED, job_id=f"9{trial}")
        job.join(30)
        assert job.exitcode == 0
        meta = _info(run_dir)
        assert meta["status"] == "COMPLETE", (trial, meta)
        assert meta["submit"]["job_id"] == f"9{trial}", (trial, meta)
        assert meta["submit"]["scheduler"] == "slurm"


def test_a_lost_job_is_recorded_once_and_never_over_an_end(tmp_path: Path) -> None:
    run_dir = tmp_path / "1"
    (run_dir / "metadata").mkdir(parents=True)
    head = run_info.submission_record(1, run_dir, [], "slurm", run_dir / "script.sh")
    run_info.record_submission(run_dir, head, run_info.SUBMITTED, job_id="5")
    assert run_info.record_lost(run_dir, "slurm", False, "the head", "no longer lists job 5") \
        == run_info.FAILED
    assert _info(run_dir)["error"]["type"] == "JobLost"
    # an end is never recorded twice, nor over the job's own
    assert run_info.record_lost(run_dir, "slurm", True, "the head", "again") is None
    assert _info(run_dir)["status"] == run_info.FAILED
