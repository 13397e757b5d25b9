"""Benchmark 1: start-up of one run, ``python main.py`` of a task that does nothing.

Contenders: ours (``@mlxp.launch``), MLXP 1.0.5 (``@mlxp.launch``, the same source), plain
``@hydra.main`` with Hydra's defaults, and the floor: the bare interpreter (``python -c pass``).
Each sample runs in a fresh directory; wall time is measured around the whole process.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence

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

NAME = "startup"
TARGET_VS_HYDRA = 1.10  # issue 12: with MLXP's default settings (ConfigDict, resolve)


def app_contender(setup: Setup, key: str, label: str, role: str, python: Path, source: str,
                  args: Sequence[str], config: str = "x: 0\n",
                  check: Optional[Callable[[Path, Sample], None]] = None,
                  repeats: Optional[int] = None,
                  warmup_args: Optional[Sequence[str]] = None) -> Contender:
    """Write the app into a fresh directory, then measure ``python main.py *args`` there.

    The warm-up round (round -1) runs ``warmup_args`` instead when given (a cheaper command
    that loads the same code); its sample is discarded and not checked.
    """
    env = base_env()

    def run(round_: int) -> Sample:
        where = apps.write_app(apps.new_dir(setup.scratch, key), source, config)
        if round_ < 0 and warmup_args is not None:
            return run_process([str(python), "main.py", *warmup_args], where, env)
        sample = run_process([str(python), "main.py", *args], where, env)
        if check is not None:
            check(where, sample)
        return sample

    return Contender(key, label, role, run, repeats)


def expect_runs(count: int) -> Callable[[Path, Sample], None]:
    """The app left ``count`` run directories with metadata (ours and MLXP alike)."""

    def check(where: Path, sample: Sample) -> None:
        found = len(list((where / "logs").glob("*/metadata/info.yaml")))
        if found != count:
            raise BenchError(f"{where}: expected {count} runs with metadata, found {found}\n"
                             f"{sample.stdout[-2000:]}")

    return check


def expect_hydra_outputs(count: int) -> Callable[[Path, Sample], None]:
    def check(where: Path, sample: Sample) -> None:
        found = len(list(where.glob("*/*/*/**/.hydra/config.yaml")))
        if found != count:
            raise BenchError(f"{where}: expected {count} Hydra output dirs, found {found}")

    return check


def contenders(setup: Setup) -> List[Contender]:
    env = base_env()
    found = [
        app_contender(setup, "ours", "ours (@mlxp.launch)", OURS, setup.ours_python,
                      apps.MLXP_NOOP, [], check=expect_runs(1)),
        app_contender(setup, "hydra", "plain Hydra (@hydra.main)", PEER, setup.ours_python,
                      apps.HYDRA_NOOP, [], check=expect_hydra_outputs(1)),
        Contender("floor", "floor: bare interpreter (-c pass)", FLOOR,
                  lambda _r: run_process([str(setup.ours_python), "-c", "pass"],
                                         setup.scratch, env)),
    ]
    if setup.mlxp_python is not None:
        found.insert(1, app_contender(setup, "mlxp", "MLXP 1.0.5 (@mlxp.launch)", PEER,
                                      setup.mlxp_python, apps.MLXP_NOOP, [],
                                      check=expect_runs(1)))
    return found


def add_rows(res: BenchResult, cont: Sequence[Contender], samples: dict, metric: str,
             unit: str, group: str, what: str = "wall") -> None:
    for c in cont:
        res.rows.append(Row(c.label, c.role, metric, unit,
                            [s.get(what) for s in samples[c.key]],
                            [s.rss_kb for s in samples[c.key]], ratio_group=group))


def run(setup: Setup) -> BenchResult:
    res = BenchResult(NAME, "start-up of one no-op run (python main.py)")
    cont = contenders(setup)
    t0 = time.perf_counter()
    samples = interleave(cont, setup.repeats, setup.warmup)
    res.seconds = time.perf_counter() - t0
    res.keep_samples(samples)
    add_rows(res, cont, samples, "wall, 1 run", "s", "wall")
    add_rows(res, cont, samples, "cpu (user+sys), 1 run", "s", "cpu", what="cpu")
    ours = res.row("ours (@mlxp.launch)", "wall, 1 run")
    res.checks.append(Check("ours/plain Hydra wall time",
                            ratio(ours, res.row("plain Hydra (@hydra.main)", "wall, 1 run")),
                            TARGET_VS_HYDRA))
    cpu = ratio(res.row("ours (@mlxp.launch)", "cpu (user+sys), 1 run"),
                res.row("plain Hydra (@hydra.main)", "cpu (user+sys), 1 run"))
    if cpu is not None:
        res.notes.append(f"CPU time ours/plain Hydra = {cpu:.2f}")
    mlxp = res.row("MLXP 1.0.5 (@mlxp.launch)", "wall, 1 run")
    if mlxp is not None:
        res.notes.append(f"ours/MLXP 1.0.5 wall = {ratio(ours, mlxp):.2f}")
    return res
