"""@mlxp.launch end to end: single runs, sweeps, the Context, settings overrides."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import info, run, run_dirs, write_app

LOG_BODY = """
for epoch in range(ctx.config.num_epoch):
    ctx.logger.log_metrics({'loss': 1.0 / (epoch + 1), 'epoch': epoch}, log_name='train')
print('LR', ctx.config.optimizer.lr, 'SEED', ctx.config.seed)
"""


def test_single_run_layout_and_metadata(app: Path) -> None:
    write_app(app, LOG_BODY + "ctx.logger.log_checkpoint({'e': 1}, log_name='last_ckpt')")
    proc = run(app)
    assert proc.returncode == 0, proc.stderr
    assert "LR 10.0 SEED 0" in proc.stdout
    assert "SEEDED 0" in proc.stdout
    assert run_dirs(app) == [1]
    run_dir = app / "logs" / "1"
    for rel in ["metadata/config.yaml", "metadata/info.yaml", "metadata/mlxp.yaml",
                "metrics/train.json", "metrics/.keys.yaml", "metrics/.keys/train.yaml",
                "artifacts/pickle/last_ckpt.pkl"]:
        assert (run_dir / rel).is_file(), rel
    lines = [json.loads(x) for x in (run_dir / "metrics/train.json").read_text().splitlines()]
    assert lines == [{"loss": 1.0 / (e + 1), "epoch": e} for e in range(3)]
    keys = yaml.safe_load((run_dir / "metrics/.keys.yaml").read_text())
    assert keys == {"train": ["epoch", "loss"]}
    # MLXP's per-name key file (its Reader reads these)
    assert yaml.safe_load((run_dir / "metrics/.keys/train.yaml").read_text()) == {
        "loss": "", "epoch": ""}
    meta = info(app, 1)
    assert meta["status"] == "COMPLETE"
    assert meta["log_id"] == 1 and meta["log_dir"] == str(run_dir)
    assert meta["duration_s"] >= 0 and meta["end_time"] >= meta["start_time"]
    for key in ["hostname", "process_id", "user", "executable", "command", "work_dir"]:
        assert meta[key], key
    assert meta["config_dir"] == str(app / "configs")
    config = yaml.safe_load((run_dir / "metadata/config.yaml").read_text())
    assert config["optimizer"]["lr"] == 10.0 and "mlxp" not in config
    settings = yaml.safe_load((run_dir / "metadata/mlxp.yaml").read_text())
    # MLXP's names only, the parent made absolute (relative to the script's directory)
    assert settings["logger"]["parent_log_dir"] == str(app / "logs")
    assert "parent_log" not in settings["logger"] and settings["as_ConfigDict"] is True
    # no Hydra clutter in the project
    assert not (app / "outputs").exists() and not (app / "multirun.yaml").exists()
    assert not (app / ".hydra").exists() and not list(app.glob("*.log"))


def test_the_users_hydra_settings_beat_mlxps_defaults(app: Path) -> None:
    """mlxp's Hydra settings are defaults: a `hydra:` section or a `hydra.*` override wins."""
    from conftest import CONFIG

    write_app(app, "print('RAN')", config=CONFIG + "hydra:\n  run:\n    dir: out_cfg\n"
              "  output_subdir: .hydra\n")
    proc = run(app)
    assert proc.returncode == 0, proc.stderr
    assert (app / "out_cfg" / ".hydra" / "config.yaml").is_file()
    assert info(app, 1)["status"] == "COMPLETE"
    proc = run(app, "hydra.run.dir=out_cli", "seed=2,3", "hydra.sweep.dir=sweeps_cli")
    assert proc.returncode == 0, proc.stderr
    assert (app / "sweeps_cli" / "multirun.yaml").is_file()
    assert [info(app, i)["status"] for i in (2, 3)] == ["COMPLETE", "COMPLETE"]


def test_comma_sweep_runs_without_dash_m(app: Path) -> None:
    write_app(app, LOG_BODY)
    proc = run(app, "optimizer.lr=0.01,0.1")
    assert proc.returncode == 0, proc.stderr
    assert run_dirs(app) == [1, 2]
    lrs = sorted(yaml.safe_load((app / f"logs/{i}/metadata/config.yaml").read_text())
                 ["optimizer"]["lr"] for i in (1, 2))
    assert lrs == [0.01, 0.1]
    assert [info(app, i)["overrides"] for i in (1, 2)] == [
        ["optimizer.lr=0.01"], ["optimizer.lr=0.1"]]
    assert not (app / "multirun.yaml").exists()


def test_sweep_forms_cross_product_range_choice_and_dash_m(app: Path) -> None:
    write_app(app, LOG_BODY)
    proc = run(app, "optimizer.lr=choice(0.5,1.5)", "seed=range(1,4)")
    assert proc.returncode == 0, proc.stderr
    assert len(run_dirs(app)) == 6
    pairs = {(info(app, i)["overrides"][0], info(app, i)["overrides"][1]) for i in range(1, 7)}
    expected = {(f"optimizer.lr={lr}", f"seed={s}") for lr in ("0.5", "1.5") for s in (1, 2, 3)}
    assert pairs == expected
    proc = run(app, "-m", "seed=7")
    assert proc.returncode == 0, proc.stderr
    assert run_dirs(app)[-1] == 7 and info(app, 7)["overrides"] == ["seed=7"]


def test_context_config_mlxp_info(app: Path) -> None:
    body = """
    cfg = ctx.config
    out = {
        'attr': cfg.optimizer.lr, 'item': cfg['optimizer']['lr'], 'interp': cfg.derived,
        'has_mlxp': 'mlxp' in cfg,
        'parent_log': ctx.mlxp.logger.parent_log_dir, 'use_logger': ctx.mlxp.use_logger,
        'status': ctx.info.status, 'log_id': ctx.info.log_id, 'log_dir': ctx.info.log_dir,
        'job': ctx.info.scheduler and dict(ctx.info.scheduler),
        'overrides': list(ctx.info.overrides),
        'command': ctx.info.command, 'logger_dir': ctx.logger.log_dir,
    }
    print('CTX', json.dumps(out))
    """
    config = "seed: 1\noptimizer:\n  lr: 0.5\nderived: ${optimizer.lr}\n"
    write_app(app, body, config=config)
    proc = run(app, "optimizer.lr=0.25", "+mlxp.logger.parent_log=elsewhere")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.split("CTX ", 1)[1].splitlines()[0])
    assert out["attr"] == out["item"] == out["interp"] == 0.25
    assert out["has_mlxp"] is False
    # the deprecated alias keeps its meaning (relative to the working directory)
    assert out["parent_log"] == str(app / "elsewhere") and out["use_logger"] is True
    assert out["status"] == "RUNNING" and out["log_id"] == 1
    assert out["log_dir"] == out["logger_dir"] == str(app / "elsewhere" / "1")
    assert out["job"] is None
    assert out["overrides"] == ["optimizer.lr=0.25", "+mlxp.logger.parent_log=elsewhere"]
    assert "main.py optimizer.lr=0.25" in out["command"]
    # the form without '+' works too, and the scheduler job id is read from the environment
    proc = run(app, "mlxp.logger.parent_log=third", env={"SLURM_JOB_ID": "4242"})
    assert proc.returncode == 0, proc.stderr
    meta = info(app, 1, parent="third")
    assert meta["scheduler"]["job_id"] == "4242" and meta["scheduler"]["name"] == "slurm"


def test_settings_file_and_logger_off(app: Path) -> None:
    write_app(app, "print('LOGGER', ctx.logger)", mlxp_yaml="use_logger: false\n")
    proc = run(app)
    assert proc.returncode == 0, proc.stderr
    assert "LOGGER None" in proc.stdout
    assert not (app / "logs").exists()


def test_git_commit_and_dirty_flag(app: Path) -> None:
    import subprocess

    write_app(app, "pass")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=app, check=True)
    subprocess.run([*git, "add", "main.py", "configs"], cwd=app, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=app, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=app, text=True,
                          capture_output=True, check=True).stdout.strip()
    assert run(app).returncode == 0
    assert info(app, 1)["git"] == {"commit": head, "branch": info(app, 1)["git"]["branch"],
                                   "dirty": False}
    (app / "main.py").write_text((app / "main.py").read_text() + "\n# edit\n")
    assert run(app).returncode == 0
    assert info(app, 2)["git"]["commit"] == head and info(app, 2)["git"]["dirty"] is True


def test_seed_can_be_a_mapping(app: Path) -> None:
    write_app(app, "pass", config="seed:\n  torch: 1\n  data: 2\n")
    proc = run(app)
    assert proc.returncode == 0, proc.stderr
    assert 'SEEDED {"torch": 1, "data": 2}' in proc.stdout


def test_introspection_flags_start_no_run(app: Path) -> None:
    write_app(app, "print('RAN')")
    proc = run(app, "--cfg", "job", "optimizer.lr=3")
    assert proc.returncode == 0, proc.stderr
    assert "lr: 3" in proc.stdout and "RAN" not in proc.stdout
    assert run_dirs(app) == []
