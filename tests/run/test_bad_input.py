"""Each bad input: one clear message, a non-zero exit, and no run directory left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run, run_dirs, write_app


def _fails_cleanly(app: Path, *args: str, expect: list[str]) -> str:
    proc = run(app, *args)
    assert proc.returncode != 0, proc.stdout
    for text in expect:
        assert text in proc.stderr, proc.stderr
    assert run_dirs(app) == [], "a run directory was created"
    assert "RAN" not in proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


def test_missing_config_directory(app: Path) -> None:
    write_app(app, "print('RAN')", decorator="@mlxp.launch(config_path='./nope')")
    err = _fails_cleanly(app, expect=[str(app / "nope"), "config_path='./nope'",
                                      f"directory of {app / 'main.py'}"])
    assert "Traceback" not in err
    assert not (app / "nope").exists()


def test_missing_config_file(app: Path) -> None:
    write_app(app, "print('RAN')", config=None)
    _fails_cleanly(app, expect=[f"config file not found: {app / 'configs' / 'config.yaml'}"])


def test_malformed_config_yaml_names_file_and_line(app: Path) -> None:
    write_app(app, "print('RAN')", config="seed: 0\nmodel:\n  units: [1, 2\nlr: 3\n")
    err = _fails_cleanly(app, expect=[f"{app / 'configs' / 'config.yaml'}:", "invalid YAML"])
    assert "config.yaml:4:" in err or "config.yaml:3:" in err


def test_malformed_mlxp_yaml_names_file_and_line(app: Path) -> None:
    write_app(app, "print('RAN')", mlxp_yaml="logger:\n  parent_log: [x\n")
    _fails_cleanly(app, expect=[f"{app / 'configs' / 'mlxp.yaml'}:", "invalid YAML"])


def test_unknown_key_in_mlxp_yaml(app: Path) -> None:
    write_app(app, "print('RAN')", mlxp_yaml="logger:\n  parent_lg: ./x\n")
    _fails_cleanly(app, expect=[str(app / "configs" / "mlxp.yaml"),
                                "unknown key 'logger.parent_lg'",
                                "logger.parent_log", "logger.log_id"])


def test_mistyped_value_in_mlxp_yaml(app: Path) -> None:
    write_app(app, "print('RAN')", mlxp_yaml="use_logger: maybe\n")
    _fails_cleanly(app, expect=["mlxp.yaml", "'use_logger' must be true/false", "maybe"])


def test_unknown_mlxp_override(app: Path) -> None:
    write_app(app, "print('RAN')")
    _fails_cleanly(app, "+mlxp.logger.parent=x", expect=["unknown key 'logger.parent'",
                                                        "logger.parent_log"])


def test_override_of_a_key_that_does_not_exist(app: Path) -> None:
    write_app(app, "print('RAN')")
    _fails_cleanly(app, "optimizer.lrr=3", expect=["optimizer.lrr"])


def test_seeding_function_without_seed(app: Path) -> None:
    write_app(app, "print('RAN')", config="lr: 1\n")
    _fails_cleanly(app, expect=["no 'seed' key", "+seed=0"])


def test_seeding_function_without_seed_in_a_sweep(app: Path) -> None:
    write_app(app, "print('RAN')", config="lr: 1\n")
    _fails_cleanly(app, "lr=1,2", expect=["no 'seed' key"])


@pytest.mark.parametrize("parent", ["blocker/logs", "/proc/mlxp-logs"])
def test_parent_log_not_writable(app: Path, parent: str) -> None:
    write_app(app, "print('RAN')", mlxp_yaml=f"logger:\n  parent_log: {parent}\n")
    (app / "blocker").write_text("a file, not a directory")
    _fails_cleanly(app, expect=["cannot create run directories under", "mlxp.logger.parent_log"])


def test_non_serialisable_metric_names_the_key_and_writes_nothing(app: Path) -> None:
    body = """
    ctx.logger.log_metrics({'a': 1}, log_name='train')
    try:
        ctx.logger.log_metrics({'b': 2, 'bad': object()}, log_name='train')
    except TypeError as e:
        print('ERR', e)
    """
    write_app(app, body)
    proc = run(app)
    assert proc.returncode == 0, proc.stderr
    assert "ERR log_metrics('train'): value of key 'bad' cannot be written as JSON" in proc.stdout
    assert (app / "logs/1/metrics/train.json").read_text() == '{"a": 1}\n'


def test_bad_log_names_are_rejected(app: Path) -> None:
    body = """
    for name in ['', 'info', '../x', 'a/b', '.hidden', 'x..y']:
        try:
            ctx.logger.log_metrics({'a': 1}, log_name=name)
            print('ACCEPTED', repr(name))
        except ValueError as e:
            print('REJECTED', repr(name))
    """
    write_app(app, body)
    proc = run(app)
    assert proc.returncode == 0, proc.stderr
    assert "ACCEPTED" not in proc.stdout
    assert proc.stdout.count("REJECTED") == 6
    assert sorted(p.name for p in (app / "logs/1/metrics").iterdir()) == []
    assert not (app / "logs/x.json").exists() and not (app / "logs/1/x.json").exists()


def test_unpicklable_checkpoint_leaves_no_partial_file(app: Path) -> None:
    body = """
    ctx.logger.log_checkpoint({'epoch': 1}, log_name='last_ckpt')
    try:
        ctx.logger.log_checkpoint({'epoch': 2, 'fn': lambda: 0}, log_name='last_ckpt')
    except Exception as e:
        print('ERR', type(e).__name__)
    print('LOADED', ctx.logger.load_checkpoint('last_ckpt'))
    """
    write_app(app, body)
    proc = run(app)
    assert proc.returncode == 0, proc.stderr
    assert "ERR" in proc.stdout and "LOADED {'epoch': 1}" in proc.stdout
    assert [p.name for p in (app / "logs/1/artifacts/pickle").iterdir()] == ["last_ckpt.pkl"]
