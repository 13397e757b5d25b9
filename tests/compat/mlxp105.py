# ruff: noqa: E501  (the embedded scripts keep MLXP tutorial-style long lines)
"""MLXP 1.0.5 in its own venv (it has the same top-level package name, ``mlxp``, as ours).

``python()`` is its interpreter: ``$MLXP105_PYTHON`` if set, else the bench's venv
(``bench/.venv-mlxp105``, built from PyPI on first use by ``bench.peers.mlxp_python``).
``run(code, cwd)`` runs a script with it in ``cwd`` and returns the JSON it prints last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

# A torch-free app with the tutorial's shape: 3 x 2 x 3 = 18 runs, train and test metrics,
# a pickle checkpoint per epoch (``log_checkpoint``), MLXP's default settings file.
APP_MAIN = '''
import mlxp

def seeding(seed):
    import random
    random.seed(seed)

@mlxp.launch(config_path="./configs", seeding_function=seeding)
def train(ctx):
    cfg = ctx.config
    for epoch in range(cfg.num_epoch):
        loss = (cfg.optimizer.lr * 0.1 + 1.0 / cfg.model.num_units) / (epoch + 1) + cfg.seed * 1e-3
        ctx.logger.log_metrics({"loss": loss, "epoch": epoch}, log_name="train")
        ctx.logger.log_metrics({"loss": loss ** 2, "epoch": epoch}, log_name="test")
        ctx.logger.log_checkpoint({"epoch": epoch, "lr": cfg.optimizer.lr}, log_name="last_ckpt.pkl")

if __name__ == "__main__":
    train()
'''
APP_CONFIG = "seed: 0\nnum_epoch: 4\nmodel:\n  num_units: 100\ndata:\n  d_int: 10\noptimizer:\n  lr: 10.\n"
SWEEP = ["model.num_units=2,3,4", "optimizer.lr=10.,1.", "seed=1,2,3"]
MLXP_YAML_OFF = "+mlxp.use_version_manager=False +mlxp.interactive_mode=False".split()


def python() -> str:
    override = os.environ.get("MLXP105_PYTHON")
    if override:
        return override
    sys.path.insert(0, str(REPO))
    from bench import peers

    found = peers.mlxp_python(build=True)
    assert found is not None
    return str(found)


def write_app(directory: Path) -> Path:
    (directory / "configs").mkdir(parents=True, exist_ok=True)
    (directory / "configs" / "config.yaml").write_text(APP_CONFIG)
    (directory / "main.py").write_text(APP_MAIN)
    return directory


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLXP", "PYTHON"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run(code: str, cwd: Path, timeout: float = 600) -> Any:
    """Run ``code`` with MLXP 1.0.5's interpreter; the JSON of its last stdout line."""
    proc = subprocess.run([python(), "-c", textwrap.dedent(code)], cwd=cwd, env=clean_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"MLXP 1.0.5 script failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def make_logs(app: Path) -> Path:
    """Run the 18-run sweep with MLXP 1.0.5; its logs directory."""
    proc = subprocess.run([python(), "main.py", *SWEEP, *MLXP_YAML_OFF], cwd=app,
                          env=clean_env(), capture_output=True, text=True, timeout=900,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return app / "logs"


# What MLXP 1.0.5's Reader answers about a logs directory (printed as one JSON line).
READER_ANSWERS = '''
import json, sys
import numpy as np
import mlxp

def mean(x):
    return np.mean(np.array(x), axis=0)

def argmin(x):
    x = np.array(x)
    return x[:, -1] == np.min(x[:, -1])

reader = mlxp.Reader(sys.argv[1] if len(sys.argv) > 1 else "./logs")
out = {"len": len(reader), "fields": sorted(reader.fields.index),
       "searchable": sorted(reader.searchable.index), "queries": {}}
for q in QUERIES:
    res = reader.filter(query_string=q)
    out["queries"][q] = sorted(r["info.logger.log_id"] if "info.logger.log_id" in r else r["info.log_id"] for r in res)
res = reader.filter()
out["diff"] = sorted(res.diff())
grouped = res.groupby(["config.optimizer.lr"])
out["groups"] = sorted([list(k), len(v)] for k, v in grouped.items())
agg = grouped.aggregate((mean, ("train.loss", "train.epoch")))
out["agg"] = {repr(k): [list(map(float, v[0]["fmean.train.loss"])), list(map(float, v[0]["fmean.train.epoch"]))] for k, v in agg.items()}
gr = res.groupby(["config.model.num_units", "config.optimizer.lr"])
best = gr.aggregate((mean, "train.loss")).filter((argmin, "fmean.train.loss"), bygroups=["config.model.num_units"])
out["best"] = sorted(list(k) for k in best.keys())
sel = gr.select(best.keys()).aggregate((mean, "test.loss"))
out["selected"] = {repr(k): list(map(float, v[0]["fmean.test.loss"])) for k, v in sel.items()}
first = reader.filter(query_string="config.seed == 1 & config.model.num_units == 2 & config.optimizer.lr == 1.")
out["first_train_loss"] = first[0]["train.loss"]
out["first_ckpt"] = first[0]["artifact.pickle."]["last_ckpt.pkl"].load()
srt = res.sort(["config.model.num_units", "config.seed"], ascending=False)
out["sorted"] = [[r["config.model.num_units"], r["config.seed"]] for r in srt]
pdf = reader.filter(query_string="config.seed == 2", result_format="pandas")
out["pandas_rows"] = len(pdf)
out["pandas_loss_len"] = sorted(len(x) for x in pdf["train.loss"])
print(json.dumps(out))
'''
QUERIES = [
    "info.status in ['COMPLETE', 'RUNNING'] & config.optimizer.lr > 0.1",
    "config.seed == 1",
    "config.seed != 1",
    "config.optimizer.lr < 10.",
    "config.optimizer.lr >= 1.",
    " ~ config.seed in [1,3] ",
    "(config.seed == 1 | config.optimizer.lr > 1.) & config.model.num_units <= 3",
    "",
]


def reader_answers_script() -> str:
    return f"QUERIES = {QUERIES!r}\n" + READER_ANSWERS
