"""The benchmark harness cannot rot: `python -m bench --quick` runs every benchmark once.

Quick mode runs ours, plain Hydra and the floors at tiny sizes with the interpreters that are
already there (it builds no venv); MLXP 1.0.5 takes part only if `bench/.venv-mlxp105` exists.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.harness import (  # noqa: E402
    OURS,
    PEER,
    BenchResult,
    Check,
    Contender,
    Row,
    Sample,
    interleave,
    render_table,
)


def test_quick_mode_runs_every_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:] + proc.stdout[-4000:]
    data = json.loads(out.read_text())
    assert data["format"] == "mlxp-core-bench/1"
    benches = {b["name"]: b for b in data["benchmarks"]}
    assert list(benches) == ["startup", "sweep", "logging", "submit"]
    for name, bench in benches.items():
        assert not any(n.startswith("FAILED") for n in bench["notes"]), (name, bench["notes"])
        contenders = {r["contender"] for r in bench["rows"] if r["stats"]}
        assert any(c.startswith("ours") for c in contenders), (name, contenders)
        assert any(c.startswith("floor") or "Hydra" in c for c in contenders), (name, contenders)
        assert bench["checks"], name
    assert "plain Hydra" in proc.stdout and "targets:" in proc.stdout
    # every row with numbers also has its samples in the JSON, for comparison over time
    assert all(benches["startup"]["samples"].values())


def test_interleave_rotates_and_skips_extra_rounds_of_a_slow_peer() -> None:
    calls: list[tuple[str, int]] = []

    def contender(key: str, repeats: int | None = None) -> Contender:
        def run(round_: int) -> Sample:
            calls.append((key, round_))
            return Sample(wall_s=1.0, cpu_s=1.0, rss_kb=1024)

        return Contender(key, key, OURS if key == "a" else PEER, run, repeats)

    samples = interleave([contender("a"), contender("b"), contender("c", repeats=1)], 3, 1)
    assert calls[:3] == [("a", -1), ("b", -1), ("c", -1)]
    assert [k for k, r in calls[3:]] == ["a", "b", "c", "b", "a", "a", "b"]
    assert [len(samples[k]) for k in "abc"] == [3, 3, 1]


def test_table_shows_ratios_targets_and_not_available_rows() -> None:
    res = BenchResult("demo", "demo")
    res.rows = [Row("ours", OURS, "wall", "s", [1.0, 2.0, 3.0], [2048], ratio_group="g"),
                Row("peer", PEER, "wall", "s", [4.0, 4.0], [4096], ratio_group="g"),
                Row("ours array", OURS, "wall", "s", [], note="n/a (array not implemented yet)")]
    res.checks = [Check("ours/peer", 0.5, 1.0), Check("array: n/a", None, 2.0, unit="s")]
    table = render_table([res])
    assert "0.500" in table  # ours/peer = 2 / 4
    assert "n/a (array not implemented yet)" in table
    assert "PASS demo" in table and "n/a  demo" in table
