"""A plain @hydra.main app that adds the mlxp callbacks gets the same run directories."""

from __future__ import annotations

from pathlib import Path

from conftest import info, run, run_dirs

APP = """\
import hydra, mlxp, json

@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg):
    run = mlxp.current_run()
    run.logger.log_metrics({"x": cfg.x}, "train")
    print("RUN", run.log_id, json.dumps(run.info["status"]))
    if cfg.x == 2:
        raise ValueError("two")

if __name__ == "__main__":
    main()
"""

SEEDER = """\
def seed_everything(seed):
    print("SEEDED", seed)
"""


def _write(app: Path, header: str) -> None:
    (app / "conf").mkdir(parents=True)
    (app / "conf/config.yaml").write_text(header + "seed: 5\nx: 1\n")
    (app / "app.py").write_text(APP)
    (app / "myseed.py").write_text(SEEDER)


def test_callbacks_with_the_one_line_config_group(app: Path) -> None:
    _write(app, "defaults:\n  - /hydra/callbacks: [mlxp]\n  - _self_\n")
    proc = run(app, "hydra.callbacks.mlxp.seeding_function=myseed:seed_everything",
               script="app.py", env={"PYTHONPATH": str(app)})
    assert proc.returncode == 0, proc.stderr
    assert "SEEDED 5" in proc.stdout and 'RUN 1 "RUNNING"' in proc.stdout
    meta = info(app, 1)
    assert meta["status"] == "COMPLETE" and meta["config_dir"] == str(app / "conf")
    assert (app / "logs/1/metrics/train.json").read_text() == '{"x": 1}\n'
    assert (app / "logs/1/metadata/config.yaml").read_text() == "seed: 5\nx: 1\n"


def test_callbacks_with_the_explicit_yaml_and_a_failing_sweep(app: Path) -> None:
    header = (
        "hydra:\n  callbacks:\n    mlxp:\n      _target_: mlxp_core.callbacks.MLXPCallback\n"
        "      seeding_function: myseed.seed_everything\n"
    )
    _write(app, header)
    proc = run(app, "-m", "x=1,2,3", script="app.py", env={"PYTHONPATH": str(app)})
    assert proc.returncode != 0
    assert run_dirs(app) == [1, 2, 3]
    assert [info(app, i)["status"] for i in (1, 2, 3)] == ["COMPLETE", "FAILED", "COMPLETE"]
    assert info(app, 2)["error"]["message"] == "two"
    assert proc.stdout.count("SEEDED 5") == 3


def test_plain_app_preflight_errors(app: Path) -> None:
    _write(app, "defaults:\n  - /hydra/callbacks: [mlxp]\n  - _self_\n")
    proc = run(app, "hydra.callbacks.mlxp.seeding_function=myseed:nope", script="app.py",
               env={"PYTHONPATH": str(app)})
    assert proc.returncode != 0 and "cannot import 'myseed:nope'" in proc.stderr
    assert run_dirs(app) == []
