"""Edge cases, on run directories written in the documented format: each gives a page that
says what it shows, or one clear error."""

from __future__ import annotations

import json
import math
import re
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
from report_helpers import (
    mlxp_report,
    parse_page,
    svg_ids,
)
from report_helpers import write_run as make_run

from mlxp_core.reader import Reader
from mlxp_core.report import ReportError


def report(parent: Path, out: Path, *args: str) -> str:
    proc = mlxp_report(str(parent), *args, "-o", str(out), cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    return out.read_text()


def test_empty_directory_and_no_match(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    text = report(tmp_path / "logs", tmp_path / "r.html")
    assert "Nothing to show:</b> no run directories in" in text
    make_run(tmp_path / "logs", 1, {"seed": 1}, {"train": [{"loss": 1.0}]})
    text = report(tmp_path / "logs", tmp_path / "r.html", "config.seed == 2")
    assert "no run matches the query &#x27;config.seed == 2&#x27; (1 run(s) in" in text


def test_runs_without_metrics(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    make_run(logs, 1, {"lr": 0.1}, status="RUNNING")
    make_run(logs, 2, {"lr": 0.2}, status="SUBMITTED")
    text = report(logs, tmp_path / "r.html")
    assert "No curves:</b> none of the 2 selected runs has numeric metrics" in text
    assert "RUNNING: 1" in text and "SUBMITTED: 1" in text
    assert "None of the selected runs failed" in text


def test_a_metric_only_some_runs_have(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for i, (lr, seed) in enumerate([(0.1, 1), (0.1, 2), (0.2, 1), (0.2, 2)], start=1):
        metrics: Dict[str, List[Dict[str, Any]]] = {
            "train": [{"loss": lr * seed * (10 - s)} for s in range(5)]}
        if lr == 0.2 and seed == 2:
            metrics["val"] = [{"acc": 0.5 + 0.1 * s} for s in range(3)]
        make_run(logs, i, {"lr": lr, "seed": seed}, metrics)
    text = report(logs, tmp_path / "r.html")
    assert "from the 1 of 4 selected runs that have val.acc" in text
    page = parse_page(text)
    assert page.heads == ["lr", "runs", "complete", "final train.loss", "best train.loss",
                          "final val.acc", "best val.acc"]
    cells = {r["cells"][0]["v"]: r["cells"] for r in page.rows}
    assert cells["0.1"][5]["v"] == ""  # lr=0.1 has no val.acc
    assert float(cells["0.2"][5]["v"]) == pytest.approx(0.7)
    assert "1 of 2 runs" in cells["0.2"][5]["text"]
    # asked for explicitly while no selected run has it: one clear error, no file
    proc = mlxp_report(str(logs), "config.lr == 0.1", "--metric", "val.acc", "-o",
                       str(tmp_path / "x.html"), cwd=tmp_path)
    assert proc.returncode == 1
    assert "none of the 2 selected runs has the metric 'val.acc'" in proc.stderr
    assert not (tmp_path / "x.html").exists()


def test_nan_and_inf_values(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    series = [[1.0, math.nan, 0.5, 0.25], [2.0, math.inf, 0.75, 0.5], [3.0, 1.5, 1.0, math.nan]]
    for i, values in enumerate(series, start=1):
        make_run(logs, i, {"lr": 0.1, "seed": i}, {"train": [{"loss": v} for v in values]})
    raw = (logs / "1" / "metrics" / "train.json").read_text()
    assert "NaN" in raw  # written as Python's json writes it
    fig = Reader(logs).plot("train.loss")
    xy = next(line for line in fig.axes[0].lines if line.get_gid() == "curve-0").get_xydata()
    finite = [[v for v in col if math.isfinite(v)] for col in zip(*series)]
    assert xy[:, 0].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(xy[:, 1], [statistics.fmean(c) for c in finite])
    text = report(logs, tmp_path / "r.html")
    assert "NaN and ±inf values are left out of the curves (1 ±inf point(s))" in text
    assert "1 run(s) ended with NaN/inf" in text
    cells = parse_page(text).rows[0]["cells"]
    final = cells[3]  # final train.loss: mean of the finite last values (0.25, 0.5)
    assert float(final["v"]) == pytest.approx(0.375) and "1 ended NaN/inf" in final["text"]
    # only NaN everywhere: one clear error from plot, a page that says so from the report
    logs2 = tmp_path / "logs2"
    make_run(logs2, 1, {"lr": 0.1}, {"train": [{"loss": math.nan}, {"loss": math.inf}]})
    with pytest.raises(ReportError, match="no finite numeric value"):
        Reader(logs2).plot("train.loss")
    text = report(logs2, tmp_path / "r2.html")
    assert "no finite value to draw: every value is NaN or ±inf" in text
    assert "1 run(s) ended with NaN/inf" in text


def test_one_run_group_has_no_band(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    make_run(logs, 1, {"lr": 0.1, "seed": 1}, {"train": [{"loss": 1.0}, {"loss": 0.5}]})
    make_run(logs, 2, {"lr": 0.1, "seed": 2}, {"train": [{"loss": 2.0}, {"loss": 1.0}]})
    make_run(logs, 3, {"lr": 0.2, "seed": 1}, {"train": [{"loss": 4.0}, {"loss": 3.0}]})
    text = report(logs, tmp_path / "r.html")
    ids = svg_ids(parse_page(text).images["train.loss"])
    assert "band-0" in ids and "band-1" not in ids and "curve-1" in ids
    assert "1 group(s) of one run: no band" in text


def test_non_numeric_config_values(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    configs = [
        {"model": {"layers": [64, 64], "act": "relu"}, "opt": "adam", "flag": True},
        {"model": {"layers": [128], "act": "relu"}, "opt": "sgd", "flag": False},
        {"model": {"layers": [128], "act": None}, "opt": "sgd", "flag": False},
        {"model": {"layers": [128], "act": "relu"}, "flag": False},  # no 'opt' at all
    ]
    for i, config in enumerate(configs, start=1):
        make_run(logs, i, config, {"train": [{"loss": float(i)}, {"loss": i / 2}]})
    text = report(logs, tmp_path / "r.html")
    page = parse_page(text)
    assert page.heads[:4] == ["layers", "act", "opt", "flag"]
    shown = sorted(tuple(c["text"] for c in r["cells"][:4]) for r in page.rows)
    assert shown == sorted([("[64, 64]", "relu", "adam", "true"),
                            ("[128]", "relu", "sgd", "false"),
                            ("[128]", "(none)", "sgd", "false"),
                            ("[128]", "relu", "(none)", "false")])
    labels = [t.get_text() for t in Reader(logs).plot("train.loss").axes[0].get_legend()
              .get_texts()]
    assert "layers=[64, 64], act=relu, opt=adam, flag=true" in labels


def test_x_axis_with_several_lines_per_epoch(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    make_run(logs, 1, {"seed": 1}, {"train": [{"loss": v, "epoch": e} for v, e in
                                              [(1, 0), (3, 0), (5, 1), (7, 1)]]})
    make_run(logs, 2, {"seed": 2}, {"train": [{"loss": v, "epoch": e} for v, e in
                                              [(3, 0), (5, 0), (7, 1), (9, 1), (11, 2)]]})
    ax = Reader(logs).plot("train.loss", x="epoch").axes[0]
    xy = ax.lines[0].get_xydata()  # per run, the mean of its lines at each epoch; then runs
    assert xy.tolist() == [[0, 3.0], [1, 7.0], [2, 11.0]]
    assert ax.get_xlabel() == "train.epoch"
    text = report(logs, tmp_path / "r.html", "--x", "epoch")
    assert "train.epoch" not in parse_page(text).heads  # the x axis is not also a metric


def test_twenty_groups_and_more(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for i in range(25):
        make_run(logs, i + 1, {"width": 10 * (i + 1)},
                 {"train": [{"loss": (i + 1) * (3 - s)} for s in range(3)]})
    fig = Reader(logs).plot("train.loss", max_groups=20)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == [f"width={10 * (i + 1)}" for i in range(20)]  # the 20 lowest final losses
    styles = {(line.get_color() if isinstance(line.get_color(), str) else
               tuple(line.get_color()), line.get_linestyle()) for line in ax.lines}
    assert len(styles) == 20  # every group distinguishable
    fig.canvas.draw()
    legend_box = ax.get_legend().get_window_extent()
    fig_box = fig.bbox
    assert legend_box.y0 >= fig_box.y0 - 1 and legend_box.y1 <= fig_box.y1 + 1  # fits
    text = report(logs, tmp_path / "r.html")
    assert "showing 20 of 25 groups: the best by final train.loss" in text
    assert len(parse_page(text).rows) == 25  # the table keeps every group


def test_failed_and_interrupted_runs(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    make_run(logs, 1, {"lr": 0.1}, {"train": [{"loss": 1.0}]})
    stderr = "".join(f"line {i}\n" for i in range(50)) + "CUDA out of memory\n"
    make_run(logs, 2, {"lr": 1.0}, {"train": [{"loss": 1.0}]}, status="FAILED", info={
        "command": "/usr/bin/python3 main.py 'lr=0.1,1.0' hydra/launcher=mlxp_slurm",
        "overrides": ["lr=1.0"], "work_dir": "/home/me/proj",
        "error": {"type": "MemoryError", "message": "CUDA out of memory",
                  "traceback": "Traceback (most recent call last):\n  ...\nMemoryError"}},
        stderr=stderr)
    make_run(logs, 3, {"lr": 2.0}, None, status="INTERRUPTED",
             info={"signal": "SIGTERM", "command": "python main.py lr=2.0 hydra.mode=RUN",
                   "overrides": ["lr=2.0"], "work_dir": "/home/me/proj"})
    text = report(logs, tmp_path / "r.html", "--stderr-lines", "5")
    assert "1 FAILED, 1 INTERRUPTED" in text
    assert "<pre>MemoryError: CUDA out of memory</pre>" in text
    assert "interrupted by SIGTERM" in text
    tail = re.search(r"log.stderr</code>:</div><pre>(.*?)</pre>", text, re.S).group(1)
    assert tail.splitlines() == ["line 46", "line 47", "line 48", "line 49",
                                 "CUDA out of memory"]
    assert ("cd /home/me/proj &amp;&amp; /usr/bin/python3 main.py hydra/launcher=mlxp_slurm "
            "lr=1.0</pre>") in text
    assert "cd /home/me/proj &amp;&amp; python main.py lr=2.0</pre>" in text
    assert "python main.py lr=2.0 +mlxp.logger.forced_log_id=3</pre>" in text


def write_fast(parent: Path, log_id: int, lr: float, units: int, seed: int,
               status: str, losses: List[float]) -> None:
    """A run directory in the documented format, written without yaml.dump (10,000 of them)."""
    d = parent / str(log_id)
    (d / "metadata").mkdir(parents=True)
    (d / "metrics" / ".keys").mkdir(parents=True)
    (d / "metadata" / "config.yaml").write_text(
        f"seed: {seed}\nmodel:\n  num_units: {units}\noptimizer:\n  lr: {lr}\n")
    (d / "metadata" / "info.yaml").write_text(
        f"status: {status}\nlog_id: {log_id}\nlog_dir: {d}\nduration_s: 1.5\n"
        "command: python main.py\nprocess_id: 7\nhostname: node\n"
        + ("error:\n  type: ValueError\n  message: bad\n" if status == "FAILED" else ""))
    (d / "metrics" / "train.json").write_text(
        "".join(json.dumps({"loss": v}) + "\n" for v in losses))
    (d / "metrics" / ".keys" / "metrics.yaml").write_text("train:\n- loss\n")


def test_ten_thousand_runs(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    rng = np.random.default_rng(0)
    lrs = [0.001 * 2 ** k for k in range(10)]
    units = [16 * (k + 1) for k in range(10)]
    log_id = 0
    for seed in range(100):
        for lr in lrs:
            for u in units:
                log_id += 1
                base = rng.uniform(0.5, 1.5)
                write_fast(logs, log_id, lr, u, seed, "FAILED" if log_id == 77 else "COMPLETE",
                           [base * math.exp(-lr * s) for s in range(20)])
    started = time.perf_counter()
    out = tmp_path / "r.html"
    proc = mlxp_report(str(logs), "-o", str(out), cwd=tmp_path, timeout=120)
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr
    assert "10000 run(s), 100 group(s), 1 metric(s), 1 failed/interrupted" in proc.stdout
    assert seconds < 60, seconds
    page = parse_page(out.read_text())
    assert len(page.rows) == 100
    # two groups checked against the files, read with json here
    for lr, u in [(lrs[0], units[0]), (lrs[-1], units[3])]:
        finals = []
        for i in range(1, log_id + 1):
            cfg = (logs / str(i) / "metadata" / "config.yaml").read_text()
            if f"num_units: {u}\n" in cfg and f"lr: {lr}\n" in cfg:
                lines = (logs / str(i) / "metrics" / "train.json").read_text().splitlines()
                finals.append(json.loads(lines[-1])["loss"])
        assert len(finals) == 100
        row = next(r for r in page.rows if r["cells"][0]["text"] == str(u)
                   and r["cells"][1]["text"] == str(lr))
        assert float(row["cells"][4]["v"]) == pytest.approx(statistics.fmean(finals), rel=1e-9)
