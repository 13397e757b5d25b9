"""MLXP 1.0.5's settings keys, as an MLXP user sets them (mlxp.yaml or +mlxp.* overrides)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import info, run, write_app

MLXP_YAML = (Path(__file__).resolve().parents[1] / "mlxp_upstream" / "tutorial" / "configs"
             / "mlxp.yaml").read_text()
CONFIG = "seed: 1\nnum_epoch: 2\noptimizer:\n  lr: 0.5\nderived: ${optimizer.lr}\n"


def test_log_streams_to_file_copies_and_restores(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", "print('HELLO', ctx.config.seed, flush=True)",
                    config=CONFIG, mlxp_yaml=MLXP_YAML)
    proc = run(app, "seed=1,2", "+mlxp.logger.log_streams_to_file=true")
    assert proc.returncode == 0, proc.stderr
    assert "HELLO 1" in proc.stdout and "HELLO 2" in proc.stdout  # still on the terminal
    first = (app / "logs/1/log.stdout").read_text()
    second = (app / "logs/2/log.stdout").read_text()
    assert "HELLO 1" in first and "HELLO 2" not in first  # restored after run 1
    assert "HELLO 2" in second and "mlxp: run 2" not in second


def test_config_dict_resolve_positional_seeder_and_logger_class(tmp_path: Path) -> None:
    body = """
    import mlxp
    cfg = ctx.config
    print('CTX', json.dumps({'type': type(cfg).__name__, 'derived': cfg.derived,
          'dict': type(cfg.to_dict()).__name__ if hasattr(cfg, 'to_dict') else None,
          'logger': type(ctx.logger).__name__,
          'parent': ctx.mlxp.logger.parent_log_dir}))
    """
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "mylogger.py").write_text(
        "import mlxp\nclass Mine(mlxp.Logger):\n    pass\n")
    app = write_app(tmp_path / "app", body, config=CONFIG,
                    mlxp_yaml=MLXP_YAML.replace("mlxp.DefaultLogger", "mylogger.Mine"),
                    decorator="@mlxp.launch('configs', seeding_function)")
    proc = run(app, "optimizer.lr=0.25")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.split("CTX ", 1)[1].splitlines()[0])
    assert out == {"type": "ConfigDict", "derived": 0.25, "dict": "dict", "logger": "Mine",
                   "parent": str(app / "logs")}
    assert "SEEDED 1" in proc.stdout  # the positional seeding function ran
    proc = run(app, "optimizer.lr=0.25", "+mlxp.as_ConfigDict=false", "+mlxp.resolve=false")
    assert proc.returncode == 0, proc.stderr
    assert '"type": "DictConfig"' in proc.stdout
    # MLXP's resume: the same run id, the same config
    proc = run(app, "optimizer.lr=0.25", "+mlxp.logger.forced_log_id=1")
    assert proc.returncode == 0, proc.stderr
    assert info(app, 1)["attempt"] == 2
    saved = yaml.safe_load((app / "logs/1/metadata/mlxp.yaml").read_text())
    assert saved["logger"]["name"] == "mylogger.Mine" and saved["logger"]["forced_log_id"] == 1


def test_bad_logger_class_and_use_scheduler_are_one_clear_error(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", "print('RAN')", config=CONFIG, mlxp_yaml=MLXP_YAML)
    proc = run(app, "+mlxp.logger.name=json.JSONDecoder")
    assert proc.returncode != 0 and "RAN" not in proc.stdout
    assert "mlxp.logger.name: 'json.JSONDecoder' is not a subclass of mlxp.Logger" in proc.stderr
    proc = run(app, "+mlxp.use_scheduler=true")
    assert proc.returncode != 0 and "mlxpsub" in proc.stderr and "RAN" not in proc.stdout
