"""The report benchmark cannot rot: `python -m bench --quick --only report` runs it once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_report_benchmark_quick(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "report",
                           "--json", str(out)], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:] + proc.stdout[-4000:]
    bench = json.loads(out.read_text())["benchmarks"]
    assert [b["name"] for b in bench] == ["report"]
    rows = {r["contender"]: r for r in bench[0]["rows"] if r["metric"] == "wall, whole process"}
    assert set(rows) == {"ours (mlxp report, index cached)", "floor: pandas read_json + concat"}
    assert all(r["stats"] and r["stats"]["median"] > 0 for r in rows.values())
    assert bench[0]["checks"][0]["passed"] is True
    assert "ours/pandas floor" in " ".join(bench[0]["notes"])
