"""Benchmark 3: N calls of ``log_metrics({'loss': float, 'acc': float, 'epoch': int}, 'train')``.

Contenders: ours (``ctx.logger``, write-through: each line in the file when the call returns),
MLXP 1.0.5 (``ctx.logger``), and the floor: a plain Python loop writing the same JSON lines
with ``json.dumps`` and one unbuffered write per line. Only the loop is
timed (wall and CPU time), inside the process (plus the final ``flush()`` of a buffering
logger); each sample then checks that the file has N lines. The whole process's wall time
and peak RSS are reported too.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import List

from bench import apps
from bench.harness import (
    FLOOR,
    OURS,
    PEER,
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
from bench.startup import app_contender

NAME = "logging"
TARGET_VS_FLOOR = 1.5


def _expect_lines(n: int):  # type: ignore[no-untyped-def]
    def check(where: Path, sample: Sample) -> None:
        if sample.values.get("lines") != n:
            raise BenchError(f"{where}: expected {n} metric lines, got "
                             f"{sample.values.get('lines')}\n{sample.stdout[-2000:]}")

    return check


def run(setup: Setup, calls: int) -> BenchResult:
    res = BenchResult(NAME, f"{calls} log_metrics calls in one run")
    config = f"n: {calls}\n"
    cont: List[Contender] = [
        app_contender(setup, "ours", "ours (ctx.logger)", OURS, setup.ours_python,
                      apps.MLXP_LOGGING, [], config=config, check=_expect_lines(calls)),
    ]
    if setup.mlxp_python is not None:
        cont.append(app_contender(setup, "mlxp", "MLXP 1.0.5 (ctx.logger)", PEER,
                                  setup.mlxp_python, apps.MLXP_LOGGING, [], config=config,
                                  check=_expect_lines(calls)))
    floor_script = setup.scratch / "floor_logging.py"
    floor_script.write_text(apps.FLOOR_LOGGING)
    env = base_env()

    def floor(_round: int) -> Sample:
        where = apps.new_dir(setup.scratch, "floor-logging")
        sample = run_process([str(setup.ours_python), str(floor_script), str(calls),
                              str(where / "train.json")], where, env)
        _expect_lines(calls)(where, sample)
        return sample

    cont.append(Contender("floor", "floor: json.dumps + one write per line", FLOOR, floor))
    t0 = time.perf_counter()
    samples = interleave(cont, setup.repeats, setup.warmup)
    res.seconds = time.perf_counter() - t0
    res.keep_samples(samples)
    for c in cont:
        items = samples[c.key]
        res.rows.append(Row(c.label, c.role, "per call (loop only)", "us",
                            [s.values["loop_s"] / calls for s in items],
                            [s.rss_kb for s in items], ratio_group="per-call"))
    for c in cont:
        items = samples[c.key]
        res.rows.append(Row(c.label, c.role, "per call, cpu (loop only)", "us",
                            [s.values["loop_cpu_s"] / calls for s in items],
                            ratio_group="per-call-cpu"))
    for c in cont:
        items = samples[c.key]
        res.rows.append(Row(c.label, c.role, "wall, whole process", "s",
                            [s.wall_s for s in items], [s.rss_kb for s in items],
                            ratio_group="wall"))
    ours = res.row("ours (ctx.logger)", "per call (loop only)")
    floor_row = res.row("floor: json.dumps + one write per line", "per call (loop only)")
    res.checks.append(Check("per call ours/floor", ratio(ours, floor_row), TARGET_VS_FLOOR))
    if setup.mlxp_python is not None:
        peer = res.row("MLXP 1.0.5 (ctx.logger)", "per call (loop only)")
        res.checks.append(Check("per call ours/MLXP 1.0.5", ratio(ours, peer), 1 / 5))
    cpu = ratio(res.row("ours (ctx.logger)", "per call, cpu (loop only)"),
                res.row("floor: json.dumps + one write per line", "per call, cpu (loop only)"))
    if cpu is not None:
        res.notes.append(f"per call, CPU time of the loop, ours/floor = {cpu:.2f} "
                         "(less sensitive to the machine's load than wall time)")
    return res
