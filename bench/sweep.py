"""Benchmark 2: a local sweep of a no-op task, ``x=range(0,N)``, one process.

Contenders: ours (``python main.py x='range(0,N)'``, no ``-m`` needed), MLXP 1.0.5 (same
command), plain Hydra (``python main.py -m x='range(0,N)'``, Hydra's defaults). Each is run at
two sizes, 1 point and N points, both as sweeps (the same code path), all six interleaved.

Per-point overhead = (wall(N points) - wall(1 point)) / (N - 1), computed for each round from
that round's two samples (paired, so a load spike shifts both), then median/min/max over the
rounds.
"""

from __future__ import annotations

import time
from typing import Dict, List

from bench import apps
from bench.harness import OURS, PEER, BenchResult, Check, Contender, Row, Setup, interleave
from bench.startup import app_contender, expect_hydra_outputs, expect_runs

NAME = "sweep"
TARGET_VS_HYDRA = 0.5


def run(setup: Setup, points: int) -> BenchResult:
    res = BenchResult(NAME, f"local sweep of {points} no-op points")
    tools = [("ours", "ours (@mlxp.launch)", OURS, setup.ours_python, apps.MLXP_NOOP, [],
              expect_runs),
             ("hydra", "plain Hydra (-m)", PEER, setup.ours_python, apps.HYDRA_NOOP, ["-m"],
              expect_hydra_outputs)]
    if setup.mlxp_python is not None:
        tools.insert(1, ("mlxp", "MLXP 1.0.5 (@mlxp.launch)", PEER, setup.mlxp_python,
                         apps.MLXP_NOOP, [], expect_runs))
    cont: List[Contender] = []
    for key, label, role, python, source, flags, check in tools:
        for n in (1, points):
            cont.append(app_contender(setup, f"{key}@{n}", f"{label} {n} pt", role, python,
                                      source, [*flags, f"x=range(0,{n})"], check=check(n),
                                      warmup_args=[*flags, "x=range(0,2)"]))
    t0 = time.perf_counter()
    samples = interleave(cont, setup.repeats, setup.warmup)
    res.seconds = time.perf_counter() - t0
    res.keep_samples(samples)
    per_point: Dict[str, Row] = {}
    for key, label, role, *_ in tools:
        one, many = samples[f"{key}@1"], samples[f"{key}@{points}"]
        for n, items in ((1, one), (points, many)):
            res.rows.append(Row(label, role, f"wall, {n}-point sweep", "s",
                                [s.wall_s for s in items], [s.rss_kb for s in items],
                                ratio_group=f"wall{n}"))
        row = Row(label, role, "per point (paired rounds)", "ms",
                  [(b.wall_s - a.wall_s) / (points - 1) for a, b in zip(one, many)],
                  ratio_group="per-point")
        per_point[key] = row
        res.rows.append(row)
        # CPU time is what a busy shared machine distorts least
        res.rows.append(Row(label, role, "per point, cpu (paired)", "ms",
                            [(b.cpu_s - a.cpu_s) / (points - 1) for a, b in zip(one, many)],
                            ratio_group="per-point-cpu"))
    ours, hydra = per_point["ours"], per_point["hydra"]
    res.checks.append(Check(
        f"per-point overhead ours/plain Hydra ({ours.stats.median * 1e3:.1f} ms vs "
        f"{hydra.stats.median * 1e3:.1f} ms)",
        ours.stats.median / hydra.stats.median if hydra.stats.median > 0 else None,
        TARGET_VS_HYDRA))
    cpu_ours, cpu_hydra = (res.row(label, "per point, cpu (paired)")
                           for label in ("ours (@mlxp.launch)", "plain Hydra (-m)"))
    if cpu_ours is not None and cpu_hydra is not None and cpu_hydra.stats.median > 0:
        res.notes.append(f"per-point CPU time ours/plain Hydra = "
                         f"{cpu_ours.stats.median / cpu_hydra.stats.median:.2f}")
    res.notes.append(f"per point = (wall({points}-point sweep) - wall(1-point sweep)) / "
                     f"{points - 1}, per round, median over rounds")
    order = ["wall, 1-point sweep", f"wall, {points}-point sweep", "per point (paired rounds)",
             "per point, cpu (paired)"]
    res.rows.sort(key=lambda r: order.index(r.metric))  # stable: contenders keep their order
    return res
