"""One deadline for a whole submission (`hydra.launcher.submit_timeout`), with fake `sbatch`
commands written into the test's own directory (slow, or never answering)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from conftest import info, run, run_dirs, write_app
from fakes.helpers import BIN_DIR, fake_env


def _wrapped_sbatch(tmp_path: Path, body: str) -> dict[str, str]:
    env = fake_env(tmp_path)
    wrapper = tmp_path / "wrapper"
    wrapper.mkdir()
    (wrapper / "sbatch").write_text(f"#!/bin/bash\n{body}\n")
    (wrapper / "sbatch").chmod(0o755)
    env["PATH"] = f"{wrapper}{os.pathsep}{env['PATH']}"
    return env


def test_the_deadline_is_shared_by_every_submit_command(app: Path, tmp_path: Path) -> None:
    """Each sbatch answers, slowly: the jobs that fit in the deadline are submitted, the
    others SUBMIT_FAILED (not submitted) instead of each getting a timeout of its own."""
    write_app(app, "print('hi')")
    env = _wrapped_sbatch(tmp_path, f'sleep 0.7\nexec {BIN_DIR / "sbatch"} "$@"')
    env["FAKE_SCHED_NORUN"] = "1"
    started = time.monotonic()
    proc = run(app, "seed=1,2,3,4,5,6", "hydra/launcher=mlxp_slurm",
               "hydra.launcher.submit_timeout=2", env=env)
    assert time.monotonic() - started < 15
    statuses = [info(app, i)["status"] for i in run_dirs(app)]
    assert statuses[0] == "SUBMITTED" and statuses[-1] == "SUBMIT_FAILED", statuses
    assert statuses == sorted(statuses, key=lambda s: s != "SUBMITTED")  # a prefix submitted
    assert proc.returncode != 0 or "SUBMIT_FAILED" in proc.stdout + proc.stderr


def test_a_hung_array_submission_is_recorded_for_every_task(app: Path, tmp_path: Path) -> None:
    write_app(app, "print('hi')")
    env = _wrapped_sbatch(tmp_path, "sleep 300")
    started = time.monotonic()
    run(app, "seed=1,2,3", "hydra/launcher=mlxp_slurm", "hydra.launcher.array=true",
        "hydra.launcher.submit_timeout=1", env=env)
    assert time.monotonic() - started < 15
    metas = [info(app, i) for i in run_dirs(app)]
    assert [m["status"] for m in metas] == ["SUBMIT_FAILED"] * 3
    assert all("did not answer within 1.0 s" in m["submit"]["error"] for m in metas)


def test_submit_timeout_must_be_positive(app: Path, tmp_path: Path) -> None:
    write_app(app, "print('hi')")
    proc = run(app, "seed=1,2", "hydra/launcher=mlxp_slurm", "hydra.launcher.submit_timeout=0",
               env=fake_env(tmp_path))
    assert proc.returncode != 0
    assert "hydra.launcher.submit_timeout must be a positive number" in proc.stderr
    assert run_dirs(app) == []
