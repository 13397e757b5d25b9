"""Synthetic run directories for the Reader's tests and benchmark.

Everything written here follows ``docs/run_directory.md``:

    <parent>/.mlxp/last_id
    <parent>/<log_id>/metadata/{config,info,mlxp}.yaml
    <parent>/<log_id>/metrics/<log_name>.json          (JSON lines, line number = step)
    <parent>/<log_id>/metrics/.keys/metrics.yaml       ({log_name: [sorted keys]})
    <parent>/<log_id>/artifacts/<type>/<name><ext>

YAML files are written through a temporary file and ``os.replace``, like the launcher does.

``make_tutorial_logs`` builds the tutorial grid (lr x num_units x seed, 10 epochs) with
deterministic losses, so the answer of the "best learning rate" recipe is known
(``tutorial_expected``), plus the awkward runs the Reader must survive (``SPECIAL_RUNS``).
``make_bench_logs`` writes N plain runs (config + info + one metrics file of 100 lines).
"""

from __future__ import annotations

import json
import os
import pickle
import time
from collections.abc import Iterable, Mapping
from typing import Any, Optional

import yaml

try:  # the C emitter makes generating 10,000 runs quick; the output is the same YAML
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover
    _Dumper = yaml.SafeDumper

LRS = (0.01, 0.1, 1.0)
NUM_UNITS = (100, 200)
SEEDS = (1, 2, 3)
EPOCHS = 10
# The best lr (lowest mean final train loss over seeds) for each num_units
BEST_LR = {100: 0.1, 200: 0.01}

# log_id -> what is special about it (ids after the 18 grid runs)
SPECIAL_RUNS = {
    19: "FAILED after 3 epochs",
    20: "SUBMITTED: no config.yaml, no metrics",
    21: "RUNNING, killed: last metrics line truncated",
    22: "corrupt info.yaml",
    23: "INTERRUPTED, a corrupt line in the middle of train.json",
    24: "SUBMIT_FAILED",
}


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, default_flow_style=False, sort_keys=False)


def _write(path: str, text: str, atomic: bool = True) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if atomic:
        tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def make_info(parent: str, log_id: int, status: str = "COMPLETE", **extra: Any) -> dict:
    """An info.yaml as the launcher writes it (all the fields of docs/run_directory.md)."""
    log_dir = os.path.join(os.path.abspath(parent), str(log_id))
    info: dict[str, Any] = {
        "status": status,
        "log_id": log_id,
        "log_dir": log_dir,
        "attempt": 1,
        "hostname": "node-1",
        "process_id": 4000 + log_id,
        "user": "alice",
        "executable": "/usr/bin/python3",
        "python_version": "3.11.7",
        "command": "python main.py",
        "overrides": [],
        "work_dir": "/home/alice/project",
        "config_dir": "/home/alice/project/configs",
        "scheduler": None,
        "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False,
                "branch": "main"},
        "versions": {"mlxp_core": "0.1.0", "hydra": "1.3.2", "python": "3.11.7"},
    }
    if status != "SUBMITTED" and status != "SUBMIT_FAILED":
        info["start_time"] = f"2026-11-26T03:{log_id % 60:02d}:10.123456+00:00"
    if status in ("COMPLETE", "FAILED", "INTERRUPTED"):
        info["end_time"] = f"2026-11-26T04:{log_id % 60:02d}:10.123456+00:00"
        info["duration_s"] = 3600.0
    info.update(extra)
    return info


def write_run(
    parent: str,
    log_id: int,
    *,
    config: Optional[Mapping[str, Any]] = None,
    info: Optional[Mapping[str, Any]] = None,
    status: str = "COMPLETE",
    metrics: Optional[Mapping[str, Iterable[Mapping[str, Any]]]] = None,
    artifacts: Optional[Mapping[str, Mapping[str, Any]]] = None,
    mlxp: Optional[Mapping[str, Any]] = None,
    update_last_id: bool = True,
) -> str:
    """Write one run directory; returns its path.

    ``config=None`` leaves ``config.yaml`` out (a submitted job that has not started).
    ``metrics`` maps a log name to its lines; ``artifacts`` maps a type to {file name: object}
    (pickled for ``pickle``, ``numpy.save``d for ``numpy``).
    """
    run = os.path.join(parent, str(log_id))
    meta = os.path.join(run, "metadata")
    os.makedirs(meta, exist_ok=True)
    if info is None:
        info = make_info(parent, log_id, status)
    if config is not None:
        _write(os.path.join(meta, "config.yaml"), dump_yaml(dict(config)))
        _write(os.path.join(meta, "mlxp.yaml"),
               dump_yaml(dict(mlxp) if mlxp is not None else {"logger": {"parent_log": parent}}))
    _write(os.path.join(meta, "info.yaml"), dump_yaml(dict(info)), atomic=True)
    if metrics:
        keys: dict[str, list[str]] = {}
        for name, lines in metrics.items():
            seen: set[str] = set()
            out = []
            for line in lines:
                seen.update(line)
                out.append(json.dumps(dict(line)) + "\n")
            _write(os.path.join(run, "metrics", f"{name}.json"), "".join(out), atomic=False)
            keys[name] = sorted(seen)
        _write(os.path.join(run, "metrics", ".keys", "metrics.yaml"), dump_yaml(keys), atomic=True)
    for atype, objs in (artifacts or {}).items():
        adir = os.path.join(run, "artifacts", atype)
        os.makedirs(adir, exist_ok=True)
        for fname, obj in objs.items():
            path = os.path.join(adir, fname)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if atype == "numpy":
                import numpy as np

                np.save(path, obj)
            else:
                with open(path, "wb") as f:
                    pickle.dump(obj, f)
    if update_last_id:
        set_last_id(parent, log_id)
    return run


def set_last_id(parent: str, log_id: int) -> None:
    path = os.path.join(parent, ".mlxp", "last_id")
    try:
        with open(path, encoding="utf-8") as f:
            last = int(f.read().strip() or 0)
    except (OSError, ValueError):
        last = 0
    if log_id > last:
        _write(path, f"{log_id}\n", atomic=True)


def set_status(parent: str, log_id: int, status: str, **extra: Any) -> None:
    """Rewrite a run's info.yaml with a new status, atomically (like the launcher)."""
    path = os.path.join(parent, str(log_id), "metadata", "info.yaml")
    with open(path, encoding="utf-8") as f:
        info = yaml.safe_load(f)
    info["status"] = status
    info.update(extra)
    _write(path, dump_yaml(info), atomic=True)


# ---------------------------------------------------------------------------------------------
# The tutorial grid


def tutorial_train_loss(lr: float, num_units: int, seed: int, epoch: int) -> float:
    """Deterministic train loss; the final one is lowest for BEST_LR[num_units]."""
    final = {(100, 0.01): 0.30, (100, 0.1): 0.10, (100, 1.0): 0.50,
             (200, 0.01): 0.05, (200, 0.1): 0.20, (200, 1.0): 0.40}[(num_units, lr)]
    return final + 0.01 * seed + 0.1 * (EPOCHS - 1 - epoch)


def tutorial_test_loss(lr: float, num_units: int, seed: int) -> float:
    """Deterministic test loss, logged once at the end of the run."""
    return round(tutorial_train_loss(lr, num_units, seed, EPOCHS - 1) + 0.05 + 0.001 * num_units, 6)


def tutorial_expected() -> dict[int, tuple[float, float]]:
    """num_units -> (best lr, mean test loss over seeds of the best lr)."""
    out = {}
    for units in NUM_UNITS:
        lr = BEST_LR[units]
        test = sum(tutorial_test_loss(lr, units, s) for s in SEEDS) / len(SEEDS)
        out[units] = (lr, test)
    return out


def tutorial_config(lr: float, num_units: int, seed: int) -> dict:
    return {
        "seed": seed,
        "num_epoch": EPOCHS,
        "model": {"num_units": num_units, "bias": True, "dropout": None},
        "optimizer": {"lr": lr, "name": "sgd"},
        "data": {"name": "mnist", "train-frac": 0.9},
    }


def make_tutorial_logs(parent: str) -> dict[int, dict]:
    """The 18 grid runs (ids 1..18, all COMPLETE) and SPECIAL_RUNS (19..24).

    Returns {log_id: config} of the grid runs.
    """
    os.makedirs(parent, exist_ok=True)
    grid: dict[int, dict] = {}
    log_id = 0
    for lr in LRS:
        for units in NUM_UNITS:
            for seed in SEEDS:
                log_id += 1
                cfg = tutorial_config(lr, units, seed)
                train = [{"epoch": e, "loss": tutorial_train_loss(lr, units, seed, e)}
                         for e in range(EPOCHS)]
                test = [{"loss": tutorial_test_loss(lr, units, seed), "accuracy": 0.9}]
                overrides = [f"optimizer.lr={lr}", f"model.num_units={units}", f"seed={seed}"]
                info = make_info(parent, log_id, "COMPLETE", overrides=overrides,
                                 command="python main.py " + " ".join(overrides))
                write_run(parent, log_id, config=cfg, info=info,
                          metrics={"train": train, "test": test},
                          artifacts={"pickle": {"last_ckpt.pkl": {"epoch": EPOCHS - 1,
                                                                  "lr": lr}}})
                grid[log_id] = cfg
    _make_special_runs(parent)
    return grid


def _make_special_runs(parent: str) -> None:
    cfg = tutorial_config(0.1, 100, 4)
    train3 = [{"epoch": e, "loss": 1.0 - 0.1 * e} for e in range(3)]
    # 19: failed
    write_run(parent, 19, config=cfg, metrics={"train": train3},
              info=make_info(parent, 19, "FAILED", error={
                  "type": "RuntimeError", "message": "CUDA out of memory",
                  "traceback": "Traceback (most recent call last):\n  ...\n"}))
    # 20: submitted, not started: info.yaml only
    write_run(parent, 20, config=None, info=make_info(
        parent, 20, "SUBMITTED", scheduler=None,
        submit={"scheduler": "slurm", "job_id": "777", "submit_time": "2026-11-26T03:00:00+00:00",
                "script": os.path.join(os.path.abspath(parent), "20", "script.sh"),
                "array_task_index": None}))
    # 21: running, killed with SIGKILL mid-write: the last line is partial
    run = write_run(parent, 21, config=cfg, status="RUNNING",
                    metrics={"train": [{"epoch": e, "loss": 1.0 - 0.1 * e} for e in range(5)]})
    with open(os.path.join(run, "metrics", "train.json"), "a", encoding="utf-8") as f:
        f.write('{"epoch": 5, "lo')
    # 22: corrupt (truncated) info.yaml
    run = write_run(parent, 22, config=cfg, metrics={"train": train3})
    _write(os.path.join(run, "metadata", "info.yaml"),
           "status: COMPLETE\nlog_id: 22\ngit: {commit: [ab")
    # 23: interrupted, a corrupt line in the middle of the metrics file
    run = write_run(parent, 23, config=cfg, info=make_info(parent, 23, "INTERRUPTED",
                                                           signal="SIGTERM"),
                    metrics={"train": train3})
    path = os.path.join(run, "metrics", "train.json")
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    lines.insert(1, '{"epoch": 0.5, "loss": }\n')
    _write(path, "".join(lines), atomic=False)
    # 24: the submission itself failed
    write_run(parent, 24, config=None, info=make_info(
        parent, 24, "SUBMIT_FAILED",
        submit={"scheduler": "slurm", "job_id": None, "error": "sbatch: error: invalid partition"}))
    # Things that are not runs: ignored by the Reader
    os.makedirs(os.path.join(parent, ".sweeps"), exist_ok=True)
    os.makedirs(os.path.join(parent, "notes"), exist_ok=True)
    _write(os.path.join(parent, "README"), "not a run\n")


# ---------------------------------------------------------------------------------------------
# Benchmark logs


def make_bench_logs(parent: str, n_runs: int, lines: int = 100, start: int = 1) -> None:
    """``n_runs`` COMPLETE runs: config + info + one metrics file of ``lines`` lines each."""
    os.makedirs(parent, exist_ok=True)
    for log_id in range(start, start + n_runs):
        lr = LRS[log_id % 3]
        units = NUM_UNITS[(log_id // 3) % 2]
        seed = 1 + log_id % 5
        cfg = tutorial_config(lr, units, seed)
        info = make_info(parent, log_id, "COMPLETE",
                         overrides=[f"optimizer.lr={lr}", f"model.num_units={units}",
                                    f"seed={seed}"])
        train = [{"epoch": e, "loss": 1.0 / (e + 1), "accuracy": e / lines} for e in range(lines)]
        write_run(parent, log_id, config=cfg, info=info, metrics={"train": train},
                  update_last_id=False)
    set_last_id(parent, start + n_runs - 1)


def age(path: str, seconds: float = 3600.0) -> None:
    """Set the times of ``path`` and everything under it ``seconds`` in the past.

    Makes freshly written runs look like runs written long ago, as real logs are when they
    are read (the Reader re-reads a run changed within the last 2 s on the next refresh).
    """
    when = time.time() - seconds
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            os.utime(os.path.join(dirpath, name), (when, when))
        os.utime(dirpath, (when, when))


def save_text(obj: Any, path: str) -> None:
    """A user artifact type (recorded by import path in artifacts/.keys/types.yaml)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(str(obj))


def load_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()
