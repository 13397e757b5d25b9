"""The report and Reader.plot on a real sweep: every number checked against values computed
here from the metrics files with json and statistics only."""

from __future__ import annotations

import math
import shlex
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
from report_helpers import (
    mlxp_report,
    parse_page,
    read_runs,
    real_sweep,
    svg_ids,
)

from mlxp_core.reader import Reader

TPF = pytest.TempPathFactory

Curve = Dict[int, Tuple[float, float, int]]  # step -> (mean, stdev or nan, n)


def expected_curves(parent: Path, log_name: str, key: str) -> Dict[float, Curve]:
    """Per lr, per line number: mean, sample stdev and number of runs, from the files."""
    values: Dict[float, Dict[int, List[float]]] = defaultdict(lambda: defaultdict(list))
    for run in read_runs(parent):
        for step, line in enumerate(run["metrics"].get(log_name, [])):
            values[run["config"]["optimizer"]["lr"]][step].append(line[key])
    return {lr: {s: (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else math.nan,
                     len(v)) for s, v in steps.items()} for lr, steps in values.items()}


def expected_finals(parent: Path, log_name: str, key: str) -> Dict[float, float]:
    finals: Dict[float, List[float]] = defaultdict(list)
    for run in read_runs(parent):
        lines = run["metrics"].get(log_name, [])
        if lines:
            finals[run["config"]["optimizer"]["lr"]].append(lines[-1][key])
    return {lr: statistics.fmean(v) for lr, v in finals.items()}


def test_reader_plot_draws_the_mean_and_std_band_of_each_group(tmp_path_factory: TPF) -> None:
    sweep_dir = real_sweep(tmp_path_factory)
    logs = sweep_dir / "logs"
    expected = expected_curves(logs, "train", "loss")
    assert sorted(expected) == [0.01, 0.1, 0.5, 1.0]
    fig = Reader(logs).plot("train.loss")
    ax = fig.axes[0]
    lines = {line.get_gid(): line for line in ax.lines}
    bands = {c.get_gid(): c for c in ax.collections}
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["lr=0.01", "lr=0.1", "lr=0.5", "lr=1.0"]  # swept key, seed left out
    for i, lr in enumerate(sorted(expected)):
        curve = expected[lr]
        xy = lines[f"curve-{i}"].get_xydata()
        assert xy[:, 0].tolist() == sorted(curve)
        np.testing.assert_allclose(xy[:, 1], [curve[s][0] for s in sorted(curve)], rtol=1e-12)
        if lr == 1.0:  # one run: no band
            assert f"band-{i}" not in bands
            continue
        assert {n for _, _, n in curve.values()} == {3}
        verts = bands[f"band-{i}"].get_paths()[0].vertices
        for step, (mean, sd, _) in curve.items():
            at = verts[np.isclose(verts[:, 0], step)][:, 1]
            assert np.isclose(at, mean - sd, rtol=1e-9).any(), (lr, step)
            assert np.isclose(at, mean + sd, rtol=1e-9).any(), (lr, step)
        assert sd > 0
    means = [m for curve in expected.values() for m, _, _ in curve.values()]
    assert max(means) / min(means) > 100  # spans more than two decades: log scale
    assert ax.get_yscale() == "log"
    acc = Reader(logs).plot("test.acc").axes[0]
    assert acc.get_yscale() == "linear"  # accuracies between 0.4 and 1
    assert len(bands) == 3


def test_reader_plot_group_by_and_query_and_errors(tmp_path_factory: TPF) -> None:
    sweep_dir = real_sweep(tmp_path_factory)
    reader = Reader(sweep_dir / "logs")
    fig = reader.plot("test.acc", group_by="seed", query="info.status == 'COMPLETE'",
                      band="minmax")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["seed=1", "seed=2", "seed=3"]
    acc: Dict[int, List[List[float]]] = defaultdict(list)
    for run in read_runs(sweep_dir / "logs"):
        if run["info"]["status"] == "COMPLETE":
            acc[run["config"]["seed"]].append([line["acc"] for line in run["metrics"]["test"]])
    for i, seed in enumerate(sorted(acc)):
        xy = next(line for line in ax.lines if line.get_gid() == f"curve-{i}").get_xydata()
        np.testing.assert_allclose(xy[:, 1], np.mean(acc[seed], axis=0), rtol=1e-12)
        if len(acc[seed]) > 1:  # min-max band
            verts = next(c for c in ax.collections
                         if c.get_gid() == f"band-{i}").get_paths()[0].vertices
            assert np.isclose(verts[:, 1], np.min(acc[seed], axis=0)[0]).any()
            assert np.isclose(verts[:, 1], np.max(acc[seed], axis=0)[0]).any()
    from mlxp_core.report import ReportError

    with pytest.raises(ReportError, match=r"train\.loss"):
        reader.plot("train.los")
    with pytest.raises(ReportError, match=r"closest: config\.optimizer\.lr"):
        reader.plot("train.loss", group_by="optimizer.learning_rate")
    with pytest.raises(ReportError, match=r"keys: .*epoch"):
        reader.plot("train.loss", x="epok")


def test_report_page_matches_the_metrics_files(tmp_path_factory: TPF, tmp_path: Path) -> None:
    sweep_dir = real_sweep(tmp_path_factory)
    logs = sweep_dir / "logs"
    out = tmp_path / "sweep.html"
    proc = mlxp_report(str(logs), "--best-by", "train.loss", "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"{out}: 10 run(s), 4 group(s), 2 metric(s), 3 failed/interrupted" in proc.stdout
    assert "reading metrics" not in proc.stderr  # no progress bar without a terminal
    text = out.read_text()
    page = parse_page(text)
    assert page.heads == ["lr", "runs", "complete", "final test.acc", "best test.acc",
                          "final train.loss", "best train.loss"]
    finals = expected_finals(logs, "train", "loss")
    curves = expected_curves(logs, "train", "loss")
    acc_curves = expected_curves(logs, "test", "acc")
    rows = {float(r["cells"][0]["v"]): r for r in page.rows}
    assert sorted(rows) == [0.01, 0.1, 0.5, 1.0]
    for lr, row in rows.items():
        cells = row["cells"]
        n = 1 if lr == 1.0 else 3
        assert (cells[1]["v"], cells[2]["v"]) == (str(n), "0" if lr == 0.5 else str(n))
        assert float(cells[5]["v"]) == pytest.approx(finals[lr], rel=1e-12)
        assert float(cells[6]["v"]) == pytest.approx(min(m for m, _, _ in curves[lr].values()),
                                                     rel=1e-12)
        assert float(cells[4]["v"]) == pytest.approx(  # accuracy: the best is the highest
            max(m for m, _, _ in acc_curves[lr].values()), rel=1e-12)
    best_lr = min(finals, key=lambda lr: finals[lr])
    assert [lr for lr, r in rows.items() if "best" in r["class"]] == [best_lr]
    assert "hi" in rows[best_lr]["cells"][5]["class"]
    # the figures: one SVG per metric, one line per group, no band for the one-run group
    assert sorted(page.images) == ["test.acc", "train.loss"]
    ids = svg_ids(page.images["train.loss"])
    assert [f"curve-{i}" in ids for i in range(4)] == [True] * 4
    assert [f"band-{i}" in ids for i in range(4)] == [True, True, True, False]
    # summary, failures, provenance
    assert "COMPLETE: 7" in text and "FAILED: 3" in text
    assert text.count('class="fail FAILED"') == 3
    assert text.count("<pre>RuntimeError: diverged at epoch 2 (lr too large)</pre>") == 3
    assert str(logs) in text and "mlxp-core</dt><dd>0.1.0" in text


def test_rerun_command_on_the_page_reruns_the_failed_point(tmp_path: Path) -> None:
    """The command shown for a failed run of a sweep, run for real, runs that point again."""
    import html as html_mod
    import re

    from report_helpers import APP, CONFIG, run_cmd

    app = tmp_path / "app"
    (app / "configs").mkdir(parents=True)
    (app / "configs" / "config.yaml").write_text(CONFIG)
    (app / "main.py").write_text(APP)
    sweep = run_cmd([sys.executable, "main.py", "optimizer.lr=0.5,0.01", "seed=2,3"], app)
    assert sweep.returncode != 0
    out = tmp_path / "r.html"
    assert mlxp_report(str(app / "logs"), "-o", str(out), cwd=tmp_path).returncode == 0
    text = out.read_text()
    assert text.count('class="fail FAILED"') == 2
    block = text[text.index('id="run-'):]
    first_failed = int(re.search(r'id="run-(\d+)"', block).group(1))
    cmd = html_mod.unescape(re.search(r"rerun as a new run:</div><pre>(.*?)</pre>",
                                      block).group(1))
    assert shlex.split(cmd)[:2] == ["cd", str(app)]
    assert "0.5,0.01" not in cmd and "optimizer.lr=0.5" in cmd
    before = {p.name for p in (app / "logs").iterdir()}
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode != 0  # it fails again, the same way
    new = {p.name for p in (app / "logs").iterdir()} - before
    assert len(new) == 1
    runs = {r["log_id"]: r for r in read_runs(app / "logs")}
    again, old = runs[int(next(iter(new)))], runs[first_failed]
    assert again["config"] == old["config"]
    assert again["info"]["overrides"] == old["info"]["overrides"]
    assert again["info"]["status"] == "FAILED"
    assert "diverged at epoch 2" in again["info"]["error"]["message"]
