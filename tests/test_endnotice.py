"""OAR's end notification: the `--notify` directive of OAR job scripts, and the recorder it runs
(`python -m mlxp_core.endnotice`). No scheduler needed; the real oardel is in
test_real_schedulers.py (test_cancelling_a_running_job_ends_interrupted[oar]).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml

from mlxp_core import endnotice, waiting
from mlxp_core.render import JobSpec, render_local_script, render_script
from mlxp_core.schedulers import get_scheduler

RUN_DIR = "/abs/path/logs/1"
NOTICE = f"#OAR --notify [ERROR]exec:{sys.executable} -m mlxp_core.endnotice oar {RUN_DIR}\n"


def _job(run_dir: str = RUN_DIR, **fields: Any) -> JobSpec:
    job = JobSpec(job_name="logs/1", stdout=f"{run_dir}/log.stdout",
                  stderr=f"{run_dir}/log.stderr", workdir="/abs/path", command=["python", "m.py"],
                  directives=["-t besteffort"], env={"MLXP_RUN_DIR": run_dir})
    for key, value in fields.items():
        setattr(job, key, value)
    return job


def test_an_oar_job_script_asks_oar_to_run_the_recorder_on_an_abnormal_end() -> None:
    if any(c not in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-"
           for c in sys.executable):
        pytest.skip(f"this Python's path has characters oarsub refuses: {sys.executable}")
    text = render_script(get_scheduler("oar"), _job())
    # after mlxp's own directives, before the user's (OAR keeps the last --notify line)
    assert f"#OAR -O {RUN_DIR}/log.stdout\n{NOTICE}#OAR -t besteffort\n" in text


@pytest.mark.parametrize("change", [
    {"directives": ["--notify mail:me@example.org"]},  # the user's own notification wins
    {"env": {}},  # no run directory: nothing to record into
    {"array": (1, 4, None)},  # an array script serves many run directories
])
def test_no_notice(change: Dict[str, Any]) -> None:
    text = render_script(get_scheduler("oar"), _job(**change))
    assert "mlxp_core.endnotice" not in text
    if "directives" in change:
        assert "#OAR --notify mail:me@example.org\n" in text


def test_the_run_dir_variable_is_the_one_jobs_adopt() -> None:
    from mlxp_core import render, rundir

    assert render.RUN_DIR_ENV == rundir.RUN_DIR_ENV


def test_no_notice_for_other_schedulers_or_local_scripts() -> None:
    for name in ("slurm", "sge", "torque", "mwm", "lsf"):
        assert "endnotice" not in render_script(get_scheduler(name), _job(directives=[]))
    assert "endnotice" not in render_local_script(_job())


def test_characters_oarsub_refuses_mean_no_notice_and_one_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    from mlxp_core import render

    render._WARNED_NO_NOTICE.discard("oar")
    with caplog.at_level(logging.WARNING, logger="mlxp"):
        for run_dir in ("/abs/my+logs/1", "/abs/my logs/2", "/abs/a:b/3"):
            job = _job(run_dir)
            job.stdout = job.stderr = "/abs/out"  # OAR refuses spaces in -O/-E values
            assert "endnotice" not in render_script(get_scheduler("oar"), job)
    warnings = [r for r in caplog.records if "end notification" in r.getMessage()]
    assert len(warnings) == 1, caplog.text
    assert "/abs/my+logs/1" in warnings[0].getMessage()


# --------------------------------------------------------------------------------------------
# The recorder
# --------------------------------------------------------------------------------------------


def _run_dir(tmp_path: Path, **info: Any) -> Path:
    run_dir = tmp_path / "logs" / "1"
    (run_dir / "metadata").mkdir(parents=True)
    data = {"status": "RUNNING", "log_id": 1, "start_time": "2026-01-01T00:00:00+00:00",
            "scheduler": {"name": "oar", "job_id": "7"},
            "submit": {"scheduler": "oar", "job_id": "5"}, **info}
    data = {key: value for key, value in data.items() if value is not None}  # None: absent
    (run_dir / "metadata" / "info.yaml").write_text(yaml.safe_dump(data))
    return run_dir


def _info(run_dir: Path) -> Dict[str, Any]:
    data = yaml.safe_load((run_dir / "metadata" / "info.yaml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture
def deleted(monkeypatch: pytest.MonkeyPatch) -> Dict[str, bool]:
    """What `oarstat` says: was the job deleted (FRAG_JOB_REQUEST)?"""
    answer = {"deleted": True}
    monkeypatch.setattr(waiting, "_was_cancelled", lambda sched, job_id: answer["deleted"])
    return answer


def test_a_deleted_running_job_is_recorded_interrupted(tmp_path: Path,
                                                       deleted: Dict[str, bool]) -> None:
    run_dir = _run_dir(tmp_path)
    assert endnotice.record("oar", run_dir, "7") == "INTERRUPTED"
    meta = _info(run_dir)
    assert meta["status"] == "INTERRUPTED"
    assert meta["signal"] == ("SIGKILL (oar: job deleted; recorded by the scheduler's end "
                              "notification)")
    assert meta["end_time"] and meta["duration_s"] > 0
    assert meta["submit"] == {"scheduler": "oar", "job_id": "5"}


def test_another_abnormal_end_is_recorded_failed(tmp_path: Path,
                                                 deleted: Dict[str, bool]) -> None:
    deleted["deleted"] = False
    run_dir = _run_dir(tmp_path)
    assert endnotice.record("oar", run_dir, "7") == "FAILED"
    error = _info(run_dir)["error"]
    assert error["type"] == "JobLost" and "oar ended job 7 in error" in error["message"]


def test_a_job_that_never_started_is_recognised_by_its_submitted_id(
        tmp_path: Path, deleted: Dict[str, bool]) -> None:
    run_dir = _run_dir(tmp_path, status="SUBMITTED", scheduler=None, start_time=None)
    assert endnotice.record("oar", run_dir, "5") == "INTERRUPTED"
    assert "duration_s" not in _info(run_dir)


@pytest.mark.parametrize(("info", "job_id", "tag"), [
    ({"status": "COMPLETE"}, "7", "ERROR"),  # the job recorded its own end
    ({"status": "INTERRUPTED", "signal": "SIGTERM"}, "7", "ERROR"),  # oardel -s SIGTERM first
    ({}, "6", "ERROR"),  # a late notice of an earlier attempt (idempotent resubmission)
    ({}, "7", "INFO"),  # not an ending
])
def test_left_alone(tmp_path: Path, deleted: Dict[str, bool], info: Dict[str, Any],
                    job_id: str, tag: str) -> None:
    run_dir = _run_dir(tmp_path, **info)
    before = _info(run_dir)
    assert endnotice.record("oar", run_dir, job_id, tag) is None
    assert _info(run_dir) == before


def test_the_command_oar_runs(tmp_path: Path) -> None:
    """As OAR's Judas runs it: our arguments, then job id, job name, tag and comment."""
    run_dir = _run_dir(tmp_path)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    oarstat = fake_bin / "oarstat"
    oarstat.write_text('#!/bin/sh\necho \'{"7": {"state": "Error", "events": '
                       '[{"type": "FRAG_JOB_REQUEST"}]}}\'\n')
    oarstat.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-m", "mlxp_core.endnotice", "oar", str(run_dir), "7", "logs/1",
         "ERROR", "Job stopped abnormally or an OAR error occured."],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert _info(run_dir)["status"] == "INTERRUPTED", proc.stderr
    assert "job 7 ended in error" in proc.stderr


def test_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert endnotice.main(["oar"]) == 2
