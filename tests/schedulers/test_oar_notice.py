"""OAR's end notification: the `--notify` directive of OAR job and array scripts, and the
recorder it runs (`python -m mlxp_core.endnotice`: `mlxp_core.schedulers.oar_notice`). No
scheduler needed; the real oardel is in
test_real_schedulers.py (test_cancelling_a_running_job_ends_interrupted[oar],
test_oar_deleting_one_array_task_ends_its_run_interrupted).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml

from mlxp_core.record import layout
from mlxp_core.schedulers import get_scheduler
from mlxp_core.schedulers import oar_notice as endnotice
from mlxp_core.schedulers.render import JobSpec, render_local_script, render_script
from mlxp_core.submit import arrays

RUN_DIR = "/abs/path/logs/1"
NOTICE = f"#OAR --notify [ERROR]exec:{sys.executable} -m mlxp_core.endnotice oar {RUN_DIR}\n"
OARSUB_CHARS = r"[a-zA-Z0-9_./ -]+"  # what oarsub accepts in an exec notification


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
    {"array": (1, 4, None)},  # an array script needs its run list (end_notice_target)
])
def test_no_notice(change: Dict[str, Any]) -> None:
    text = render_script(get_scheduler("oar"), _job(**change))
    assert "mlxp_core.endnotice" not in text
    if "directives" in change:
        assert "#OAR --notify mail:me@example.org\n" in text


def _array_script(tmp_path: Path, scheduler: str = "oar", directives: Optional[List[str]] = None
                  ) -> tuple[str, List[Path]]:
    """Write the array script of 3 run directories as `mlxpsub --array` does; its text."""
    run_dirs = [tmp_path / "logs" / str(i) for i in (1, 2, 3)]
    for run_dir in run_dirs:
        run_dir.mkdir(parents=True)
    template = _job(str(run_dirs[0]))
    if directives is not None:
        template.directives = directives
    path = arrays.write_array_script(get_scheduler(scheduler), template, run_dirs, [1, 2, 3],
                                     None)
    return path.read_text(), run_dirs


def test_an_oar_array_script_asks_oar_to_run_the_recorder_with_its_run_list(
        tmp_path: Path) -> None:
    if not re.fullmatch(OARSUB_CHARS, f"{sys.executable} {tmp_path}"):
        pytest.skip(f"characters oarsub refuses in {sys.executable} or {tmp_path}")
    text, run_dirs = _array_script(tmp_path)
    run_list = tmp_path / "logs" / ".arrays" / "1-3.runs.json"
    notice = (f"#OAR --notify [ERROR]exec:{sys.executable} -m mlxp_core.endnotice oar "
              f"{run_list}\n")
    assert f"{notice}#OAR -t besteffort\n" in text
    assert "#OAR --array 3\n" in text
    # the task index OAR gives (1..3) picks the same run directory in the list as in the script
    assert json.loads(run_list.read_text()) == {"first": 1, "runs": [str(d) for d in run_dirs]}
    assert f"runs=({' '.join(str(d) for d in run_dirs)})" in text
    assert 'run="${runs[$((task - 1))]}"' in text
    for index, run_dir in zip((1, 2, 3), run_dirs):
        assert layout.run_of_task(json.loads(run_list.read_text()), index) == run_dir
    assert layout.run_of_task(json.loads(run_list.read_text()), 4) is None


def test_an_array_keeps_the_users_own_notification(tmp_path: Path) -> None:
    text, _ = _array_script(tmp_path, directives=["--notify mail:me@example.org"])
    assert "endnotice" not in text and "#OAR --notify mail:me@example.org\n" in text


def test_no_run_list_nor_notice_for_other_schedulers_arrays(tmp_path: Path) -> None:
    text, _ = _array_script(tmp_path, scheduler="slurm", directives=[])
    assert "endnotice" not in text
    assert not list((tmp_path / "logs" / ".arrays").glob("*.json"))


def test_no_notice_for_other_schedulers_or_local_scripts() -> None:
    for name in ("slurm", "sge", "torque", "mwm", "lsf"):
        assert "endnotice" not in render_script(get_scheduler(name), _job(directives=[]))
    assert "endnotice" not in render_local_script(_job())


def test_characters_oarsub_refuses_mean_no_notice_and_one_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    from mlxp_core.schedulers import render

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


def oarstat_output(job_id: str, deleted: bool = True, array_id: Optional[str] = None,
                   array_index: int = 1) -> str:
    """`oarstat -J -f -j <job id>` of a job that ended in Error, as OAR 2.5.9 prints it
    (abridged; ids are JSON numbers; a job outside an array is its own array of one)."""
    events = [{"event_id": 117, "type": "FRAG_JOB_REQUEST", "date": 1795674800,
               "description": f"User oartest requested to frag the job {job_id}",
               "to_check": "NO", "job_id": int(job_id)}] if deleted else []
    events.append({"event_id": 119, "type": "SWITCH_INTO_ERROR_STATE", "date": 1795674802,
                   "description": f"[bipbip {job_id}] Ask to change the job state",
                   "to_check": "NO", "job_id": int(job_id)})
    job = {"Job_Id": int(job_id), "state": "Error", "exit_code": None, "name": "logs/1-3",
           "array_id": int(array_id or job_id), "array_index": array_index, "events": events}
    return json.dumps({job_id: job}, indent=3)


@pytest.fixture
def deleted(monkeypatch: pytest.MonkeyPatch) -> Dict[str, Any]:
    """What `oarstat` says: was the job deleted (FRAG_JOB_REQUEST)? Which array task is it?"""
    answer: Dict[str, Any] = {"deleted": True, "array_id": None, "array_index": 1,
                              "asked": []}

    def job_info(sched: Any, job_id: str) -> Optional[str]:
        answer["asked"].append(job_id)
        if answer["array_index"] is None:
            return None  # oarstat failed
        return oarstat_output(job_id, answer["deleted"], answer["array_id"],
                              answer["array_index"])

    monkeypatch.setattr(endnotice, "job_info", job_info)
    return answer


def test_a_deleted_running_job_is_recorded_interrupted(tmp_path: Path,
                                                       deleted: Dict[str, Any]) -> None:
    run_dir = _run_dir(tmp_path)
    assert endnotice.record("oar", run_dir, "7") == "INTERRUPTED"
    assert deleted["asked"] == ["7"]
    meta = _info(run_dir)
    assert meta["status"] == "INTERRUPTED"
    assert meta["signal"] == ("SIGKILL (oar: job deleted; recorded by the scheduler's end "
                              "notification)")
    assert meta["end_time"] and meta["duration_s"] > 0
    assert meta["submit"] == {"scheduler": "oar", "job_id": "5"}


def test_another_abnormal_end_is_recorded_failed(tmp_path: Path,
                                                 deleted: Dict[str, Any]) -> None:
    deleted["deleted"] = False
    run_dir = _run_dir(tmp_path)
    assert endnotice.record("oar", run_dir, "7") == "FAILED"
    error = _info(run_dir)["error"]
    assert error["type"] == "JobLost" and "oar ended job 7 in error" in error["message"]


def test_a_job_that_never_started_is_recognised_by_its_submitted_id(
        tmp_path: Path, deleted: Dict[str, Any]) -> None:
    run_dir = _run_dir(tmp_path, status="SUBMITTED", scheduler=None, start_time=None)
    assert endnotice.record("oar", run_dir, "5") == "INTERRUPTED"
    assert "duration_s" not in _info(run_dir)


@pytest.mark.parametrize(("info", "job_id", "tag"), [
    ({"status": "COMPLETE"}, "7", "ERROR"),  # the job recorded its own end
    ({"status": "INTERRUPTED", "signal": "SIGTERM"}, "7", "ERROR"),  # oardel -s SIGTERM first
    ({}, "6", "ERROR"),  # a late notice of an earlier attempt (idempotent resubmission)
    ({}, "7", "INFO"),  # not an ending
])
def test_left_alone(tmp_path: Path, deleted: Dict[str, Any], info: Dict[str, Any],
                    job_id: str, tag: str) -> None:
    run_dir = _run_dir(tmp_path, **info)
    before = _info(run_dir)
    assert endnotice.record("oar", run_dir, job_id, tag) is None
    assert _info(run_dir) == before


# --------------------------------------------------------------------------------------------
# The recorder, for array tasks
# --------------------------------------------------------------------------------------------

ARRAY_ID = "11"  # tasks 1, 2, 3 are jobs 11, 12, 13


def _array(tmp_path: Path) -> tuple[Path, List[Path]]:
    """An array of 3 runs: tasks 1 and 2 running (jobs 11, 12), task 3 not started yet."""
    run_dirs = []
    for index in (1, 2, 3):
        run_dir = tmp_path / "logs" / str(index)
        (run_dir / "metadata").mkdir(parents=True)
        data: Dict[str, Any] = {
            "status": "SUBMITTED", "log_id": index,
            "submit": {"scheduler": "oar", "job_id": ARRAY_ID, "array_task_index": index}}
        if index < 3:
            data.update(status="RUNNING", start_time="2026-01-01T00:00:00+00:00",
                        scheduler={"name": "oar", "job_id": str(10 + index),
                                   "array_job_id": ARRAY_ID, "array_task_id": str(index)})
        (run_dir / "metadata" / "info.yaml").write_text(yaml.safe_dump(data))
        run_dirs.append(run_dir)
    run_list = tmp_path / "logs" / ".arrays" / "1-3.runs.json"
    run_list.parent.mkdir()
    run_list.write_text(json.dumps({"first": 1, "runs": [str(d) for d in run_dirs]}))
    return run_list, run_dirs


@pytest.mark.parametrize(("job_id", "index"), [("12", 2), ("11", 1)])
def test_a_deleted_running_array_task_is_recorded_interrupted(
        tmp_path: Path, deleted: Dict[str, Any], job_id: str, index: int) -> None:
    run_list, run_dirs = _array(tmp_path)
    before = [_info(d) for d in run_dirs]
    deleted.update(array_id=ARRAY_ID, array_index=index)
    assert endnotice.record("oar", run_list, job_id) == "INTERRUPTED"
    assert deleted["asked"] == [job_id]  # one oarstat call: the task and the deletion
    for k, run_dir in enumerate(run_dirs):
        meta = _info(run_dir)
        if k + 1 != index:
            assert meta == before[k]
            continue
        assert meta["status"] == "INTERRUPTED"
        assert meta["signal"] == ("SIGKILL (oar: job deleted; recorded by the scheduler's end "
                                  "notification)")
        assert meta["duration_s"] > 0 and meta["scheduler"]["job_id"] == job_id


def test_a_deleted_array_task_that_never_started_is_recognised_by_array_and_index(
        tmp_path: Path, deleted: Dict[str, Any]) -> None:
    run_list, run_dirs = _array(tmp_path)
    deleted.update(array_id=ARRAY_ID, array_index=3)
    assert endnotice.record("oar", run_list, "13") == "INTERRUPTED"
    meta = _info(run_dirs[2])
    assert meta["status"] == "INTERRUPTED" and "duration_s" not in meta
    assert [_info(d)["status"] for d in run_dirs[:2]] == ["RUNNING", "RUNNING"]


def test_an_array_task_that_ended_otherwise_is_recorded_failed(
        tmp_path: Path, deleted: Dict[str, Any]) -> None:
    run_list, run_dirs = _array(tmp_path)
    deleted.update(array_id=ARRAY_ID, array_index=2, deleted=False)
    assert endnotice.record("oar", run_list, "12") == "FAILED"
    assert "oar ended job 12 in error" in _info(run_dirs[1])["error"]["message"]


@pytest.mark.parametrize(("job_id", "array_id", "index"), [
    ("12", ARRAY_ID, 1),  # task 1 runs as job 11, not 12
    ("14", ARRAY_ID, 2),  # a late notice: task 2 runs as job 12 now
    ("23", "21", 3),  # task 3 of another array: this list's task 3 was submitted in array 11
    ("13", ARRAY_ID, 4),  # no such task in the list
    ("13", ARRAY_ID, None),  # oarstat could not tell
])
def test_array_notices_left_alone(tmp_path: Path, deleted: Dict[str, Any], job_id: str,
                                  array_id: str, index: Optional[int]) -> None:
    run_list, run_dirs = _array(tmp_path)
    before = [_info(d) for d in run_dirs]
    deleted.update(array_id=array_id, array_index=index)
    assert endnotice.record("oar", run_list, job_id) is None
    assert [_info(d) for d in run_dirs] == before


def _fake_oarstat(tmp_path: Path, outputs: Dict[str, str]) -> Dict[str, str]:
    """An `oarstat` first on PATH printing `outputs[<job id>]` for `oarstat -J -f -j <job id>`."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for job_id, text in outputs.items():
        (fake_bin / f"oarstat.{job_id}.json").write_text(text + "\n")
    oarstat = fake_bin / "oarstat"
    oarstat.write_text(f'#!/bin/sh\n[ "$1 $2 $3" = "-J -f -j" ] || exit 1\n'
                       f'cat "{fake_bin}/oarstat.$4.json" 2>/dev/null\nexit 0\n')
    oarstat.chmod(0o755)
    return {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"}


def test_the_command_oar_runs_for_an_array_task(tmp_path: Path) -> None:
    """As OAR's Judas runs it for task 2 (job 12) of array 11, deleted by oardel."""
    run_list, run_dirs = _array(tmp_path)
    env = _fake_oarstat(tmp_path, {"12": oarstat_output("12", True, ARRAY_ID, 2)})
    proc = subprocess.run(
        [sys.executable, "-m", "mlxp_core.endnotice", "oar", str(run_list), "12", "logs/1-3",
         "ERROR", "Job stopped abnormally or an OAR error occured."],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert [_info(d)["status"] for d in run_dirs] == ["RUNNING", "INTERRUPTED", "SUBMITTED"]
    assert f"job 12 ended in error: run {run_dirs[1]} INTERRUPTED" in proc.stderr


def test_the_command_oar_runs(tmp_path: Path) -> None:
    """As OAR's Judas runs it: our arguments, then job id, job name, tag and comment."""
    run_dir = _run_dir(tmp_path)
    env = _fake_oarstat(tmp_path, {"7": oarstat_output("7")})
    proc = subprocess.run(
        [sys.executable, "-m", "mlxp_core.endnotice", "oar", str(run_dir), "7", "logs/1",
         "ERROR", "Job stopped abnormally or an OAR error occured."],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert _info(run_dir)["status"] == "INTERRUPTED", proc.stderr
    assert "job 7 ended in error" in proc.stderr


def test_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert endnotice.main(["oar"]) == 2
