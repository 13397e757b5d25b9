"""The walltime warning on the REAL Grid Engine and OAR of this machine: checkpoint, rerun,
resume in the same run directory (SLURM's: test_real_distributed.py).

* Grid Engine: `-l h_rt=00:01:20 -l s_rt=00:00:50` (time minus signal_before_walltime_s): the
  soft limit sends SIGUSR1, the run checkpoints and exits 99, Grid Engine reruns the job (same
  job id) and the rerun resumes.
* OAR: `--checkpoint 30 -t idempotent` with a 1:40 walltime: OAR sends SIGUSR2 30 s before the
  walltime, the run exits 99 after more than 60 s of run time, and OAR resubmits the job under
  a new id, which runs the same script.sh. Submitted as the unprivileged user (realsched.oarenv).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict

import pytest
from conftest import write_app
from realsched import oarenv
from realsched.apps import CHECKPOINT_ON_WARNING_APP, clean_env, describe, info, run_dir_paths
from realsched.schedulers import require, wait_done


def _wait_complete(run_dir: Path, timeout: float) -> Dict[str, Any]:
    deadline = time.monotonic() + timeout
    while info(run_dir).get("status") != "COMPLETE" or info(run_dir).get("attempt") != 2:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{run_dir}: no completed second attempt{describe(run_dir)}")
        time.sleep(0.5)
    return info(run_dir)


def _check(run_dir: Path, signal_name: str) -> Dict[str, Any]:
    meta = info(run_dir)
    (first,) = meta["attempts"]
    assert first["status"] == "INTERRUPTED" and first["signal"] == signal_name, first
    got = first["interruption"]
    assert got["reason"] == "timeout" and got["checkpoint"] == "saved", got
    assert got["requeued"] is True and got["requeue"] == "exit 99", got
    assert meta["requeues"] == {"timeout": 1}
    epochs = [json.loads(x)["epoch"] for x in
              (run_dir / "metrics" / "train.json").read_text().splitlines()]
    assert epochs == list(range(len(epochs))), epochs
    assert f"RESUMED FROM {epochs[-4]}" in (run_dir / "log.stdout").read_text()
    return meta


@pytest.mark.scheduler("sge")
def test_sge_soft_limit_checkpoints_and_reruns(tmp_path: Path) -> None:
    require("sge")
    app = write_app(tmp_path / "project", CHECKPOINT_ON_WARNING_APP)
    proc = subprocess.run(
        [sys.executable, "main.py", "-m", "seed=1", "hydra/launcher=mlxp_sge",
         "hydra.launcher.time=00:01:20", "hydra.launcher.signal_before_walltime_s=30"],
        cwd=app, env=clean_env(), capture_output=True, text=True, timeout=300, check=False,
        stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = run_dir_paths(app)
    job_id = str(info(run_dir)["submit"]["job_id"])
    assert "#$ -l s_rt=00:00:50\n" in (run_dir / "script.sh").read_text()
    try:
        meta = _wait_complete(run_dir, timeout=240)
    finally:
        wait_done("sge", [job_id], timeout=120)
    _check(run_dir, "SIGUSR1")
    assert meta["scheduler"]["job_id"] == job_id  # Grid Engine reruns the same job


@pytest.mark.scheduler("oar")
def test_oar_checkpoint_signal_resubmits_and_resumes() -> None:
    require("oar")
    oarenv.ensure_venv()
    app = oarenv.user_dir()
    try:
        write_app(app, CHECKPOINT_ON_WARNING_APP)
        oarenv.give_to(app)
        proc = oarenv.run_as_user(
            [str(oarenv.VENV / "bin" / "python"), "main.py", "-m", "seed=1",
             "hydra/launcher=mlxp_oar", "hydra.launcher.time=00:01:40",
             "hydra.launcher.signal_before_walltime_s=30"],
            cwd=app, env=oarenv.user_env())
        assert proc.returncode == 0, proc.stdout + proc.stderr
        (run_dir,) = run_dir_paths(app)
        job_id = str(info(run_dir)["submit"]["job_id"])
        script = (run_dir / "script.sh").read_text()
        assert "#OAR --checkpoint 30\n#OAR -t idempotent\n" in script, script
        meta = _wait_complete(run_dir, timeout=300)
        _check(run_dir, "SIGUSR2")
        assert meta["submit"]["job_id"] == job_id
        assert meta["scheduler"]["job_id"] != job_id  # OAR's resubmission: a new job id
        wait_done("oar", [job_id, str(meta["scheduler"]["job_id"])], timeout=120)
    finally:
        shutil.rmtree(app, ignore_errors=True)
