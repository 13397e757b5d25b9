"""Hydra's Optuna sweeper (the real `hydra-optuna-sweeper` package) over mlxp's launchers.

Optuna writes `optimization_results.yaml` into `hydra.sweep.dir` after its trials, and relies
on the launcher to have created that directory, as Hydra's own launchers do.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import info, run, run_dirs, write_app
from fakes.helpers import fake_env

TASK = "return float((ctx.config.x - 2) ** 2)"
SWEEP = ["hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2",
         "x=range(-5,5)"]


def _results(app: Path) -> dict:
    found = list((app / "logs" / ".sweeps").glob("*/optimization_results.yaml"))
    assert len(found) == 1, found
    return yaml.safe_load(found[0].read_text())


def test_optuna_over_mlxp_local(app: Path) -> None:
    write_app(app, TASK, config="seed: 0\nx: 0\n")
    proc = run(app, *SWEEP, "hydra/launcher=mlxp_local")
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = _results(app)
    values = [(info(app, i)["status"]) for i in run_dirs(app)]
    assert values == ["COMPLETE", "COMPLETE"]
    xs = [yaml.safe_load((app / f"logs/{i}/metadata/config.yaml").read_text())["x"]
          for i in run_dirs(app)]
    assert results["best_value"] == min(float((x - 2) ** 2) for x in xs)


def test_optuna_over_a_scheduler_launcher_in_wait_mode(app: Path, tmp_path: Path) -> None:
    """Against the fake SLURM, which runs the jobs for real."""
    write_app(app, TASK, config="seed: 0\nx: 0\n")
    proc = run(app, *SWEEP, "hydra/launcher=mlxp_slurm", "hydra.launcher.wait=true",
               "hydra.launcher.poll_interval=0.2", env=fake_env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = _results(app)
    assert [info(app, i)["status"] for i in run_dirs(app)] == ["COMPLETE", "COMPLETE"]
    assert all(info(app, i)["submit"]["job_id"] for i in run_dirs(app))
    xs = [yaml.safe_load((app / f"logs/{i}/metadata/config.yaml").read_text())["x"]
          for i in run_dirs(app)]
    assert results["best_value"] == min(float((x - 2) ** 2) for x in xs)
