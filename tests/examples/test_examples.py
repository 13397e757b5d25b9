"""The shipped examples run unchanged: the torch tutorial and the dependency-free quickstart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import REPO, info, run, run_dirs


def _copy(example: str, tmp_path: Path) -> Path:
    dest = tmp_path / example
    shutil.copytree(REPO / "examples" / example, dest,
                    ignore=shutil.ignore_patterns("logs", "__pycache__"))
    return dest


def _epochs(app: Path, log_id: int, name: str) -> list[int]:
    text = (app / "logs" / str(log_id) / "metrics" / f"{name}.json").read_text()
    return [json.loads(x)["epoch"] for x in text.splitlines()]


def test_tutorial_runs_as_written(tmp_path: Path) -> None:
    app = _copy("tutorial", tmp_path)
    proc = run(app)
    assert proc.returncode == 0, proc.stderr
    assert "Completed training with learning rate: 10.0" in proc.stdout
    assert _epochs(app, 1, "train") == list(range(10)) == _epochs(app, 1, "test")
    assert (app / "logs/1/artifacts/pickle/last_ckpt.pkl").is_file()
    proc = run(app, "optimizer.lr=0.01,0.1", "num_epoch=2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Completed training with learning rate:") == 2
    assert run_dirs(app) == [1, 2, 3]
    # resuming a finished run continues from its last checkpoint: nothing is repeated
    proc = run(app, "optimizer.lr=0.01", "num_epoch=2", "+mlxp.logger.log_id=2")
    assert proc.returncode == 0, proc.stderr
    assert _epochs(app, 2, "train") == [0, 1] and info(app, 2)["attempt"] == 2


def test_quickstart_sweep(tmp_path: Path) -> None:
    app = _copy("quickstart", tmp_path)
    proc = run(app, "optimizer.lr=0.01,0.1")
    assert proc.returncode == 0, proc.stderr
    assert "Completed training with learning rate: 0.01" in proc.stdout
    assert "Completed training with learning rate: 0.1" in proc.stdout
    assert [info(app, i)["status"] for i in run_dirs(app)] == ["COMPLETE", "COMPLETE"]
    assert _epochs(app, 2, "test") == list(range(10))
