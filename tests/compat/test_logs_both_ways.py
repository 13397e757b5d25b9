"""Logs both ways: MLXP 1.0.5's Reader (its own venv) reads logs written by this package, alone
and mixed with MLXP 1.0.5's runs in one directory; our Reader reads the same mixed directory.

The logs are real: a sweep of ``@mlxp.launch`` with this package, and one with MLXP 1.0.5.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import mlxp105
import pytest

from mlxp_core.reader import Reader

OUR_SWEEP = ["model.num_units=2,3", "optimizer.lr=10.,1.", "seed=1"]

# What MLXP 1.0.5's Reader must be able to do with a logs directory (as its tutorial does).
MLXP_READS = '''
import json, sys
import mlxp
reader = mlxp.Reader(sys.argv[1])
res = reader.filter(query_string="info.status == 'COMPLETE'")
rows = []
for row in res:
    rows.append({"lr": row["config.optimizer.lr"], "units": row["config.model.num_units"],
                 "losses": len(row["train.loss"]), "epochs": row["train.epoch"],
                 "ckpt": row["artifact.pickle."]["last_ckpt.pkl"].load()["epoch"]})
frame = reader.filter(result_format="pandas")
print(json.dumps({"len": len(reader), "rows": rows, "pandas": len(frame),
                  "fields": sorted(reader.fields.index)}))
'''


def _our_logs(app: Path) -> Path:
    proc = subprocess.run([sys.executable, "main.py", *OUR_SWEEP], cwd=app,
                          env=mlxp105.clean_env(), capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return app / "logs"


@pytest.fixture(scope="module")
def our_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    app = mlxp105.write_app(tmp_path_factory.mktemp("ours") / "app")
    _our_logs(app)
    return app


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, our_app: Path) -> Path:
    """runs 1-18 by MLXP 1.0.5, then our 4 runs as 101-104."""
    app = mlxp105.write_app(tmp_path_factory.mktemp("mlxp105") / "app")
    logs = mlxp105.make_logs(app)
    for run in sorted((our_app / "logs").iterdir()):
        if run.name.isdigit():
            shutil.copytree(run, logs / str(100 + int(run.name)))
    return logs


def _mlxp_reads(logs: Path) -> dict:
    return mlxp105.run(f"import sys; sys.argv[1:] = [{str(logs)!r}]\n" + MLXP_READS,
                       logs.parent)


def _check(answer: dict, n: int) -> None:
    assert answer["len"] == n and answer["pandas"] == n
    assert len(answer["rows"]) == n
    for row in answer["rows"]:
        assert row["losses"] == 4 and row["epochs"] == [0, 1, 2, 3] and row["ckpt"] == 3


def test_mlxp_105_reads_our_logs(our_app: Path) -> None:
    _check(_mlxp_reads(our_app / "logs"), 4)


def test_mlxp_105_reads_a_mixed_directory(mixed: Path) -> None:
    _check(_mlxp_reads(mixed), 22)


def test_our_reader_reads_the_mixed_directory(mixed: Path) -> None:
    reader = Reader(mixed, cache=False)
    res = reader.filter("info.status == 'COMPLETE'")
    assert [r["log_id"] for r in res] == [*range(1, 19), 101, 102, 103, 104]
    for row in res:
        assert row["train.epoch"] == [0, 1, 2, 3]
        assert row["artifact.pickle."]["last_ckpt.pkl"].load()["epoch"] == 3
    assert len(reader.metrics(res, "test")) == 22 * 4
