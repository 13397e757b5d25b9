"""Benchmark: ``mlxp report`` of 2,000 runs x 100 steps, next to pandas loading the metrics.

Synthetic logs in the documented run-directory format (docs/run_directory.md): 20 groups
(``optimizer.lr`` x ``model.num_units``) x 100 seeds, one ``train`` metrics file of 100 lines
(``loss``, ``acc``, ``epoch``) per run, 1 % of the runs FAILED. Contenders, each a fresh
process, interleaved:

* ours: ``mlxp report <logs> -o report.html`` (the whole command: Reader index from its cache,
  metrics parsed, grouped, two figures drawn, the page written);
* floor: pandas alone loading the same metrics, ``pd.read_json(path, lines=True)`` per run
  and one ``pd.concat`` (what a hand-written ``analyze.py`` does before it plots anything).

The report needs matplotlib (the ``report`` extra), which ``bench/.venv-ours`` does not have:
both contenders run with the interpreter running the benchmark.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path

from bench.harness import (
    FLOOR,
    OURS,
    BenchError,
    BenchResult,
    Check,
    Contender,
    Row,
    Sample,
    Setup,
    base_env,
    interleave,
    ratio,
    run_process,
)

NAME = "report"
TARGET_S = 10.0

FLOOR_SCRIPT = """\
import json, os, sys, time
t0 = time.perf_counter()
import pandas as pd
root = sys.argv[1]
frames = []
for name in os.listdir(root):
    if name.isdigit():
        path = os.path.join(root, name, "metrics", "train.json")
        if os.path.exists(path):
            frame = pd.read_json(path, lines=True)
            frame["log_id"] = int(name)
            frames.append(frame)
data = pd.concat(frames, ignore_index=True)
print("BENCH " + json.dumps({"rows": len(data), "load_s": time.perf_counter() - t0}))
"""


def make_logs(root: Path, runs: int, steps: int) -> None:
    """``runs`` run directories of ``steps`` metric lines each (fixed seed: same data)."""
    rng = random.Random(0)
    lrs = [0.001, 0.003, 0.01, 0.03, 0.1]
    units = [32, 64, 128, 256]
    root.mkdir(parents=True)
    for log_id in range(1, runs + 1):
        lr, width = lrs[log_id % 5], units[(log_id // 5) % 4]
        seed = log_id // 20
        status = "FAILED" if log_id % 100 == 0 else "COMPLETE"
        d = root / str(log_id)
        (d / "metadata").mkdir(parents=True)
        (d / "metrics" / ".keys").mkdir(parents=True)
        (d / "metadata" / "config.yaml").write_text(
            f"seed: {seed}\nnum_epoch: {steps}\nmodel:\n  num_units: {width}\n"
            f"optimizer:\n  lr: {lr}\n")
        error = ("error:\n  type: RuntimeError\n  message: loss is NaN\n"
                 if status == "FAILED" else "")
        (d / "metadata" / "info.yaml").write_text(
            f"status: {status}\nlog_id: {log_id}\nlog_dir: {d}\n"
            "start_time: \"2026-12-01T10:00:00+00:00\"\nhostname: node1\nprocess_id: 4242\n"
            f"command: python main.py seed=range(0,100) optimizer.lr=0.001,0.003,0.01,0.03,0.1 "
            f"model.num_units=32,64,128,256\noverrides:\n- seed={seed}\n- optimizer.lr={lr}\n"
            f"- model.num_units={width}\nduration_s: 12.5\n{error}")
        base = rng.uniform(0.8, 1.2)
        lines = []
        for step in range(steps):
            loss = base * math.exp(-lr * 20 * step) + 0.01 * rng.random()
            lines.append(json.dumps({"loss": loss, "acc": 1 - loss / 2, "epoch": step}))
        (d / "metrics" / "train.json").write_text("\n".join(lines) + "\n")
        (d / "metrics" / ".keys" / "metrics.yaml").write_text("train:\n- acc\n- epoch\n- loss\n")


def run(setup: Setup) -> BenchResult:
    runs, steps = (50, 10) if setup.quick else (2000, 100)
    res = BenchResult(NAME, f"mlxp report of {runs} runs x {steps} steps")
    logs = setup.scratch / "report-logs"
    started = time.perf_counter()
    make_logs(logs, runs, steps)
    res.notes.append(f"{runs} synthetic runs written in {time.perf_counter() - started:.1f} s "
                     "(not timed)")
    python = sys.executable
    env = base_env()
    floor_script = setup.scratch / "floor_report.py"
    floor_script.write_text(FLOOR_SCRIPT)
    out = setup.scratch / "report.html"

    def ours(_round: int) -> Sample:
        sample = run_process([python, "-m", "mlxp_core.cli.main", "report", str(logs), "-o",
                              str(out)], setup.scratch, env, timeout=600)
        if f"{runs} run(s), 20 group(s)" not in sample.stdout or not out.is_file():
            raise BenchError(f"unexpected report output: {sample.stdout[-2000:]}")
        return sample

    def floor(_round: int) -> Sample:
        sample = run_process([python, str(floor_script), str(logs)], setup.scratch, env,
                             timeout=600)
        if sample.values.get("rows") != runs * steps:
            raise BenchError(f"pandas floor: expected {runs * steps} rows, got "
                             f"{sample.values.get('rows')}")
        return sample

    # the first report builds the Reader's index cache; a report is usually re-made on logs
    # that are indexed already, so the measured rounds run with the cache in place
    cold = ours(-1)
    res.notes.append(f"first report, Reader index built: {cold.wall_s:.2f} s wall (not in the "
                     "rows)")
    cont = [Contender("ours", "ours (mlxp report, index cached)", OURS, ours),
            Contender("floor", "floor: pandas read_json + concat", FLOOR, floor)]
    t0 = time.perf_counter()
    samples = interleave(cont, setup.repeats, setup.warmup)
    res.seconds = time.perf_counter() - t0
    res.keep_samples(samples)
    for c in cont:
        items = samples[c.key]
        res.rows.append(Row(c.label, c.role, "wall, whole process", "s",
                            [s.wall_s for s in items], [s.rss_kb for s in items],
                            ratio_group="wall"))
    for c in cont:
        res.rows.append(Row(c.label, c.role, "cpu, whole process", "s",
                            [s.cpu_s for s in samples[c.key]], ratio_group="cpu"))
    ours_row = res.row("ours (mlxp report, index cached)", "wall, whole process")
    floor_row = res.row("floor: pandas read_json + concat", "wall, whole process")
    value = None if ours_row is None or not ours_row.values else ours_row.stats.median
    res.checks.append(Check(f"report of {runs} runs x {steps} steps (wall)", value, TARGET_S,
                            unit="s"))
    rel = ratio(ours_row, floor_row)
    if rel is not None:
        res.notes.append(f"ours/pandas floor (wall) = {rel:.2f}: the report loads the same "
                         "metrics, then groups, draws and writes the page")
    res.notes.append(f"page size {out.stat().st_size / 1e6:.2f} MB" if out.is_file() else
                     "no page written")
    return res
