"""The benchmark machinery: measured subprocesses, interleaved repeats, statistics, the table, JSON.

Every measurement is one subprocess started with :func:`run_process`, which reads the child's
own resource usage with ``os.wait4`` (wall time, CPU time, peak RSS of the largest process of
the child's tree that was waited for). :func:`interleave` runs the contenders of a benchmark in
rounds (A B C, B C A, C A B, ...) after a warm-up round, so that machine drift and load spikes
hit every contender alike; the statistics are median, min and max over the rounds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

log = logging.getLogger("bench")

REPO = Path(__file__).resolve().parents[1]
FAKES_BIN = REPO / "tests" / "fakes" / "bin"

# variables that would change what the contenders do (scheduler job detection, bytecode)
_DROP_PREFIXES = ("SLURM_", "OAR_", "PBS_", "SGE_", "LSB_", "MOAB_", "FAKE_SCHED_", "MLXP")
_DROP = {"JOB_ID", "JOB_NAME", "PYTHONDONTWRITEBYTECODE", "HYDRA_FULL_ERROR", "PYTHONPATH",
         "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP"}


class BenchError(RuntimeError):
    """A contender failed: the message has its command and the tail of its output."""


# --------------------------------------------------------------------------------------------
# Measuring one subprocess
# --------------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One measured run of one contender."""

    wall_s: float
    cpu_s: float  # user + system of the child and its waited-for descendants
    rss_kb: int  # peak resident set size (largest process of the tree)
    values: Dict[str, float] = field(default_factory=dict)  # measured inside the process
    stdout: str = ""

    def get(self, metric: str) -> float:
        if metric == "wall":
            return self.wall_s
        if metric == "cpu":
            return self.cpu_s
        return self.values[metric]


def base_env(path_first: Sequence[str] = ()) -> Dict[str, str]:
    """The environment of every contender: this one without variables that change behaviour.

    ``PYTHONDONTWRITEBYTECODE`` is dropped on purpose: a researcher's Python caches bytecode,
    and without the cache every start-up would recompile the framework's modules.
    """
    env = {k: v for k, v in os.environ.items()
           if k not in _DROP and not k.startswith(_DROP_PREFIXES)}
    env["PATH"] = os.pathsep.join([*path_first, env.get("PATH", os.defpath)])
    return env


def run_process(argv: Sequence[str], cwd: Path, env: Mapping[str, str],
                timeout: float = 1800.0) -> Sample:
    """Run ``argv`` to completion and measure it; :class:`BenchError` if it fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            # short sleeps first: start-up runs take well under a second
            time.sleep(0.0005 if time.perf_counter() - start < 0.05 else 0.002)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise BenchError(
            f"`{' '.join(map(str, argv))}` (in {cwd}) exited with {proc.returncode}"
            f"{' (timeout)' if wall >= timeout else ''}:\n{stderr[-3000:]}\n{stdout[-1500:]}")
    values: Dict[str, float] = {}
    for line in stdout.splitlines():
        if line.startswith("BENCH "):  # what a contender measured inside itself
            values.update(json.loads(line[len("BENCH "):]))
    return Sample(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime, rss_kb=usage.ru_maxrss,
                  values=values, stdout=stdout)


# --------------------------------------------------------------------------------------------
# Contenders, interleaving, statistics
# --------------------------------------------------------------------------------------------

OURS, PEER, FLOOR = "ours", "peer", "floor"


@dataclass
class Contender:
    """``run(round)`` measures one sample; ``round`` is -1 for the warm-up."""

    key: str
    label: str
    role: str  # OURS, PEER or FLOOR
    run: Callable[[int], Sample]
    repeats: Optional[int] = None  # fewer rounds than the benchmark's (a slow peer)


def interleave(contenders: Sequence[Contender], repeats: int, warmup: int = 1
               ) -> Dict[str, List[Sample]]:
    """Warm-up rounds, then ``repeats`` rounds; each round starts one contender later."""
    samples: Dict[str, List[Sample]] = {c.key: [] for c in contenders}
    for _ in range(warmup):
        for c in contenders:
            log.info("  warm-up: %s", c.label)
            c.run(-1)
    for r in range(repeats):
        order = [contenders[(r + i) % len(contenders)] for i in range(len(contenders))]
        for c in order:
            if c.repeats is not None and len(samples[c.key]) >= c.repeats:
                continue
            sample = c.run(r)
            samples[c.key].append(sample)
            log.info("  round %d/%d %-38s wall %.3f s  cpu %.3f s  rss %.0f MB %s", r + 1,
                     repeats, c.label, sample.wall_s, sample.cpu_s, sample.rss_kb / 1024,
                     " ".join(f"{k}={v:.4g}" for k, v in sample.values.items()))
    return samples


@dataclass
class Stats:
    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        return cls(statistics.median(values), min(values), max(values), len(values))


@dataclass
class Row:
    """One line of the table: a contender's (or a derived) quantity over the rounds."""

    contender: str
    role: str
    metric: str  # what is measured, e.g. "wall, 1 run" or "per call (loop only)"
    unit: str  # display unit: s, ms or us
    values: List[float]  # in seconds
    rss_kb: List[int] = field(default_factory=list)
    note: str = ""
    ratio_group: str = ""  # rows of one group are compared with the group's `ours` row

    @property
    def stats(self) -> Stats:
        return Stats.of(self.values)


@dataclass
class Check:
    """A target of the issue, checked on the measured medians."""

    text: str
    value: Optional[float]  # None: not measurable in this run (the reason is in `text`)
    limit: float
    unit: str = "x"  # "x" (a ratio) or "s"

    @property
    def passed(self) -> Optional[bool]:
        return None if self.value is None else self.value <= self.limit


@dataclass
class BenchResult:
    name: str
    title: str
    rows: List[Row] = field(default_factory=list)
    checks: List[Check] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    load_before: Sequence[float] = ()
    load_after: Sequence[float] = ()
    seconds: float = 0.0
    samples: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)

    def row(self, contender: str, metric: Optional[str] = None) -> Optional[Row]:
        for row in self.rows:
            if row.contender == contender and (metric is None or row.metric == metric):
                return row
        return None

    def keep_samples(self, samples: Mapping[str, List[Sample]]) -> None:
        for key, items in samples.items():
            self.samples[key] = [{"wall_s": s.wall_s, "cpu_s": s.cpu_s, "rss_kb": s.rss_kb,
                                  **s.values} for s in items]


def ratio(a: Optional[Row], b: Optional[Row]) -> Optional[float]:
    if a is None or b is None or not a.values or not b.values or b.stats.median == 0:
        return None
    return a.stats.median / b.stats.median


# --------------------------------------------------------------------------------------------
# Output: the table and JSON
# --------------------------------------------------------------------------------------------

_SCALE = {"s": 1.0, "ms": 1e3, "us": 1e6}


def _fmt(seconds: float, unit: str) -> str:
    value = seconds * _SCALE[unit]
    return f"{value:.3f}" if value < 10 else f"{value:.1f}" if value < 1000 else f"{value:.0f}"


def render_table(results: Sequence[BenchResult]) -> str:
    head = (f"{'benchmark':<12} {'contender':<38} {'metric':<30} {'median':>9} "
            f"{'min':>9} {'max':>9} {'unit':<4} {'n':>2} {'peak RSS':>9} {'ours/this':>9}")
    lines = [head, "-" * len(head)]
    for res in results:
        for row in res.rows:
            if not row.values:
                lines.append(f"{res.name:<12} {row.contender:<38} {row.metric:<30} "
                             f"{'n/a':>9}   {row.note}")
                continue
            st = row.stats
            ours = next((r for r in res.rows if r.role == OURS and r.ratio_group
                         and r.ratio_group == row.ratio_group and r.values), None)
            rat = "" if ours is None or ours is row else f"{ratio(ours, row):.3f}"
            rss = f"{statistics.median(row.rss_kb) / 1024:.0f} MB" if row.rss_kb else ""
            lines.append(
                f"{res.name:<12} {row.contender:<38} {row.metric:<30} "
                f"{_fmt(st.median, row.unit):>9} {_fmt(st.min, row.unit):>9} "
                f"{_fmt(st.max, row.unit):>9} {row.unit:<4} "
                f"{st.n:>2} {rss:>9} {rat:>9}" + (f"  {row.note}" if row.note else ""))
        lines.append("")
    lines.append("targets:")
    for res in results:
        for check in res.checks:
            state = {True: "PASS", False: "MISS", None: "n/a "}[check.passed]
            if check.value is None:
                got = ""
            elif check.unit == "x":
                got = f"{check.value:.2f}x (target <= {check.limit:g}x)"
            else:
                got = f"{check.value:.3f} s (target <= {check.limit:g} s)"
            lines.append(f"  {state} {res.name:<12} {check.text} {got}")
    notes = [(res.name, n) for res in results for n in res.notes]
    if notes:
        lines.append("notes:")
        lines += [f"  {name}: {text}" for name, text in notes]
    return "\n".join(lines)


def cpu_pressure() -> Optional[float]:
    """Share of the last 60 s in which some runnable task waited for a CPU (Linux PSI), in %."""
    try:
        with open("/proc/pressure/cpu") as handle:
            first = handle.readline().split()
    except OSError:
        return None
    fields = dict(item.split("=", 1) for item in first[1:] if "=" in item)
    return float(fields["avg60"]) if "avg60" in fields else None


def machine_info() -> Dict[str, Any]:
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False)
        return proc.stdout.strip()

    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "load_average": os.getloadavg(),
        "cpu_pressure_avg60_percent": cpu_pressure(),
    }


def write_json(path: Path, results: Sequence[BenchResult], meta: Mapping[str, Any],
               table: str) -> None:
    data = {
        "format": "mlxp-core-bench/1",
        "meta": dict(meta),
        "table": table.splitlines(),
        "benchmarks": [
            {
                "name": r.name, "title": r.title, "seconds": r.seconds,
                "load_before": list(r.load_before), "load_after": list(r.load_after),
                "rows": [{**{k: v for k, v in dataclasses.asdict(row).items()},
                          "stats": dataclasses.asdict(row.stats) if row.values else None}
                         for row in r.rows],
                "checks": [{**dataclasses.asdict(c), "passed": c.passed} for c in r.checks],
                "notes": r.notes,
                "samples": r.samples,
            }
            for r in results
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


@dataclass
class Setup:
    """What every benchmark receives."""

    quick: bool
    repeats: int
    warmup: int
    scratch: Path  # temporary directory for the apps (removed at the end)
    ours_python: Path  # ours, plain Hydra, the floors, the fake submit commands
    mlxp_python: Optional[Path]  # MLXP 1.0.5 (None: left out, quick mode only)

    @property
    def ours_bin(self) -> Path:
        return self.ours_python.parent

    @property
    def mlxp_bin(self) -> Optional[Path]:
        return None if self.mlxp_python is None else self.mlxp_python.parent
