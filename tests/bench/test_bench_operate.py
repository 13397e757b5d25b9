"""`python -m bench --quick --only operate` runs: status, rerun and array rows with floors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_operate_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "operate",
                           "--json", str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:] + proc.stdout[-4000:]
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert bench["name"] == "operate"
    metrics = {(row["role"], row["metric"]) for row in bench["rows"]}
    for what in ("status", "rerun", "array"):
        assert ("ours", f"wall, {what}") in metrics and ("floor", f"wall, {what}") in metrics
    assert len(bench["checks"]) == 3
