"""Test data for the report: a real sweep of a small mlxp app, and run directories written in
the documented format (docs/run_directory.md) for cases a real app cannot make quickly.

Not a conftest.py: the other test folders import helpers with `from conftest import ...`
(tests/conftest.py), and pytest registers every conftest.py under the one module name
`conftest`. The test modules here import these helpers by name (no fixtures: a fixture imported
into a module reads as a redefinition to linters).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

# A deterministic task: the loss of a run depends on lr and seed only, so the test can compute
# the expected means from the files without trusting any of the code under test. lr == 0.5
# fails at epoch 2 (a FAILED run with an error message); lr=1.0 is swept with one seed only.
APP = '''\
import math
import mlxp


def seeding_function(seed):
    pass


@mlxp.launch(config_path="./configs", seeding_function=seeding_function)
def train(ctx):
    cfg = ctx.config
    for epoch in range(cfg.num_epoch):
        if cfg.optimizer.lr == 0.5 and epoch == 2:
            raise RuntimeError("diverged at epoch 2 (lr too large)")
        loss = math.exp(-cfg.optimizer.lr * (epoch + 1)) * (1 + 0.1 * cfg.seed)
        acc = 1 - loss / 2
        ctx.logger.log_metrics({"loss": loss, "epoch": epoch}, log_name="train")
        ctx.logger.log_metrics({"acc": acc, "epoch": epoch}, log_name="test")


if __name__ == "__main__":
    train()
'''

CONFIG = """\
seed: 0
num_epoch: 6
model:
  name: mlp
optimizer:
  lr: 0.1
"""


def run_cmd(args: List[str], cwd: Path, timeout: float = 300,
            env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    full.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(args, cwd=cwd, env=full, text=True, capture_output=True,
                          timeout=timeout, check=False)


def mlxp_report(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real `mlxp report` command, in a subprocess."""
    return run_cmd([sys.executable, "-m", "mlxp_core.cli.main", "report", *args], cwd,
                   timeout=timeout)


_SWEEPS: Dict[str, Path] = {}  # one real sweep per test session, shared by the test modules


def real_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app directory of a real sweep, made once per test session: lr in {0.01, 0.1,
    0.5 (fails)} x seed in {1, 2, 3}, then lr=1.0 with seed 1 alone."""
    if "sweep" in _SWEEPS:
        return _SWEEPS["sweep"]
    app = tmp_path_factory.mktemp("report-app")
    (app / "configs").mkdir()
    (app / "configs" / "config.yaml").write_text(CONFIG)
    (app / "main.py").write_text(APP)
    first = run_cmd([sys.executable, "main.py", "optimizer.lr=0.01,0.1,0.5", "seed=1,2,3"], app)
    assert first.returncode != 0, "the lr=0.5 runs must fail"  # and the sweep goes on
    second = run_cmd([sys.executable, "main.py", "optimizer.lr=1.0", "seed=1"], app)
    assert second.returncode == 0, second.stderr[-3000:]
    runs = sorted(int(p.name) for p in (app / "logs").iterdir() if p.name.isdigit())
    assert len(runs) == 10, (runs, first.stdout[-2000:], first.stderr[-3000:])
    _SWEEPS["sweep"] = app
    return app


def read_runs(parent: Path) -> List[Dict[str, Any]]:
    """Every run of ``parent`` read with yaml and json only: config, info, metric lines."""
    out = []
    for d in sorted((p for p in parent.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
        metrics: Dict[str, List[Dict[str, Any]]] = {}
        for f in sorted((d / "metrics").glob("*.json")) if (d / "metrics").is_dir() else []:
            metrics[f.stem] = [json.loads(line) for line in f.read_text().splitlines()]
        info_path = d / "metadata" / "info.yaml"
        out.append({
            "log_id": int(d.name),
            "config": yaml.safe_load((d / "metadata" / "config.yaml").read_text()),
            "info": yaml.safe_load(info_path.read_text()) if info_path.exists() else {},
            "metrics": metrics,
        })
    return out


def write_run(parent: Path, log_id: int, config: Optional[Dict[str, Any]],
              metrics: Optional[Dict[str, List[Dict[str, Any]]]] = None,
              status: str = "COMPLETE", info: Optional[Dict[str, Any]] = None,
              stderr: Optional[str] = None) -> Path:
    """One run directory in the format of docs/run_directory.md."""
    d = parent / str(log_id)
    (d / "metadata").mkdir(parents=True)
    record = {"status": status, "log_id": log_id, "log_dir": str(d),
              "start_time": "2026-12-01T10:00:00+00:00", **(info or {})}
    if status not in ("RUNNING", "SUBMITTED"):
        record.setdefault("end_time", "2026-12-01T10:01:00+00:00")
        record.setdefault("duration_s", 60.0)
    (d / "metadata" / "info.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
    if config is not None:
        (d / "metadata" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    if metrics is not None:
        (d / "metrics" / ".keys").mkdir(parents=True)
        keys = {}
        for name, lines in metrics.items():
            text = "".join(json.dumps(line) + "\n" for line in lines)
            (d / "metrics" / f"{name}.json").write_text(text)
            keys[name] = sorted({k for line in lines for k in line})
        (d / "metrics" / ".keys" / "metrics.yaml").write_text(yaml.safe_dump(keys))
    if stderr is not None:
        (d / "log.stderr").write_text(stderr)
    return d


class _Page(HTMLParser):
    """Collects the group table (header texts, rows of (data-v, text)) and the figures."""

    def __init__(self) -> None:
        super().__init__()
        self.heads: List[str] = []
        self.rows: List[Dict[str, Any]] = []
        self.images: Dict[str, bytes] = {}
        self._in_table = False
        self._cell: Optional[Dict[str, Any]] = None
        self._figure: Optional[str] = None
        self._th: Optional[List[str]] = None

    def handle_starttag(self, tag: str, attrs: List[Any]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id") == "group-table":
            self._in_table = True
        elif self._in_table and tag == "th":
            self._th = []
        elif self._in_table and tag == "tr" and "data-group" in a:
            self.rows.append({"class": a.get("class") or "", "cells": []})
        elif self._in_table and tag == "td":
            self._cell = {"v": a.get("data-v"), "text": "", "class": a.get("class") or ""}
        elif tag == "figure":
            self._figure = a.get("data-metric")
        elif tag == "img" and self._figure is not None:
            src = a["src"]
            self.images[self._figure] = base64.b64decode(src.split(",", 1)[1])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        elif tag == "th" and self._th is not None:
            self.heads.append("".join(self._th).strip())
            self._th = None
        elif tag == "td" and self._cell is not None:
            self.rows[-1]["cells"].append(self._cell)
            self._cell = None
        elif tag == "figure":
            self._figure = None

    def handle_data(self, data: str) -> None:
        if self._th is not None:
            self._th.append(data)
        if self._cell is not None:
            self._cell["text"] += data


def parse_page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def svg_ids(svg: bytes) -> List[str]:
    """The ids of the <g> elements of an SVG (matplotlib writes an artist's gid there)."""
    root = ET.fromstring(svg)
    return [el.get("id", "") for el in root.iter("{http://www.w3.org/2000/svg}g")]
