"""``python -m bench``: run the benchmarks side by side and print one table.

    python -m bench [--quick] [--only NAME[,NAME...]] [--repeats N] [--json PATH]

Benchmarks (default set, in this order): startup, sweep, logging, submit. ``report``
(``mlxp report`` of 2,000 runs x 100 steps next to pandas loading the same metrics,
``bench/report.py``) and ``reader`` (the Reader benchmark, ``bench/reader/bench_reader.py``,
run as a subprocess) and ``operate`` (``mlxp status`` over 10,000 runs, ``mlxp rerun`` of 1,000
runs, a 5,000-point array, each next to its floor, ``bench/operate.py``) only run when asked
for with ``--only report`` / ``--only operate`` / ``--only reader``:
``reader`` generates and reads 10,000 synthetic runs, which takes minutes.

A full run first builds what it needs: ``bench/.venv-mlxp105`` (``mlxp==1.0.5`` from PyPI) and
``bench/.venv-ours`` (this checkout, editable). ``--quick`` (the smoke test) runs every
benchmark once at tiny sizes, builds nothing, and uses the venvs only if they already exist.
Results go to ``bench/results/bench-<time>.json`` unless ``--json`` says otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

from bench import logging_speed, operate, peers, report, startup, submit, sweep
from bench.harness import (
    REPO,
    BenchError,
    BenchResult,
    Setup,
    cpu_pressure,
    machine_info,
    render_table,
    write_json,
)

log = logging.getLogger("bench")

DEFAULT_SET = ["startup", "sweep", "logging", "submit"]
EXTRA = ["report", "operate", "reader"]
IN_PROCESS = [*DEFAULT_SET, "report", "operate"]  # run here, into the one table
READER = REPO / "bench" / "reader" / "bench_reader.py"


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    parser.add_argument("--quick", action="store_true",
                        help="smoke mode: each benchmark once, tiny sizes, no venv building")
    parser.add_argument("--only", default=",".join(DEFAULT_SET),
                        help=f"comma-separated benchmarks among {', '.join(DEFAULT_SET + EXTRA)} "
                             f"(default: {','.join(DEFAULT_SET)})")
    parser.add_argument("--repeats", type=int, default=None,
                        help="measured rounds per benchmark (default 5; quick: 1)")
    parser.add_argument("--submit-repeats", type=int, default=None,
                        help="rounds of the submit benchmark (default 2; quick: 1)")
    parser.add_argument("--sweep-points", type=int, default=None, help="default 100 (quick: 2)")
    parser.add_argument("--log-calls", type=int, default=None,
                        help="default 100000 (quick: 1000)")
    parser.add_argument("--submit-jobs", type=int, default=None,
                        help="default 1000 (quick: 2)")
    parser.add_argument("--mlxp-submit-jobs", type=int, default=None,
                        help="MLXP 1.0.5's sweep size, scaled to --submit-jobs (default 100; "
                             "quick: 1)")
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    parser.add_argument("--no-build", action="store_true",
                        help="do not build the venvs (use them if they exist); quick implies it")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every sample")
    args = parser.parse_args(argv)
    args.names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in args.names if n not in DEFAULT_SET + EXTRA]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; "
                     f"choose among {', '.join(DEFAULT_SET + EXTRA)}")
    q = args.quick
    args.repeats = args.repeats or (1 if q else 5)
    args.submit_repeats = args.submit_repeats or (1 if q else min(args.repeats, 2))
    args.sweep_points = args.sweep_points or (2 if q else 100)
    args.log_calls = args.log_calls or (1000 if q else 100_000)
    args.submit_jobs = args.submit_jobs or (2 if q else 1000)
    args.mlxp_submit_jobs = args.mlxp_submit_jobs or (1 if q else 100)
    return args


def run_reader(quick: bool, json_path: Path) -> int:
    if not READER.is_file():
        log.error("%s does not exist", READER)
        return 2
    cmd = [sys.executable, str(READER), "--json", str(json_path), *(["--quick"] if quick else [])]
    log.info("running %s", " ".join(cmd))
    return subprocess.run(cmd, cwd=REPO, check=False).returncode


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose or not args.quick else logging.WARNING,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    if args.verbose:
        logging.getLogger("bench").setLevel(logging.INFO)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_path: Path = args.json or REPO / "bench" / "results" / (
        f"bench-{'quick-' if args.quick else ''}{stamp}.json")
    status = 0
    names = [n for n in args.names if n in IN_PROCESS]
    if names:
        # the report benchmark needs no venv (it runs with this interpreter)
        build = not (args.quick or args.no_build) and any(n in DEFAULT_SET for n in names)
        log.info("preparing interpreters (%s)", "building venvs" if build else "no building")
        interp = peers.interpreters(build)
        scratch = Path(tempfile.mkdtemp(prefix="mlxp-bench-"))
        setup = Setup(quick=args.quick, repeats=args.repeats, warmup=0 if args.quick else 1,
                      scratch=scratch, ours_python=interp.ours, mlxp_python=interp.mlxp)
        meta = {**machine_info(), "args": {k: (str(v) if isinstance(v, Path) else v)
                                           for k, v in vars(args).items()},
                "interpreters": {"ours_and_hydra": str(interp.ours),
                                 "mlxp_1_0_5": str(interp.mlxp) if interp.mlxp else None}}
        results: List[BenchResult] = []
        pressure_before = cpu_pressure()
        try:
            for name in names:
                log.info("benchmark %s (load average %.2f)", name, os.getloadavg()[0])
                before = os.getloadavg()
                try:
                    res = run_one(name, setup, args)
                except BenchError as exc:
                    log.error("benchmark %s failed: %s", name, exc)
                    res = BenchResult(name, "FAILED", notes=[f"FAILED: {str(exc)[:2000]}"])
                    status = 1
                res.load_before, res.load_after = before, os.getloadavg()
                results.append(res)
        finally:
            if args.keep:
                log.info("scratch directory kept: %s", scratch)
            else:
                shutil.rmtree(scratch, ignore_errors=True)
        table = render_table(results)
        loads = ", ".join(f"{r.name} {r.load_before[0]:.2f}->{r.load_after[0]:.2f}"
                          for r in results)
        pressure_after = cpu_pressure()
        pressure = ("" if pressure_before is None or pressure_after is None else
                    f"; CPU pressure (PSI some, 60 s) {pressure_before:.0f}% before, "
                    f"{pressure_after:.0f}% after")
        header = (f"mlxp-core benchmarks ({'quick smoke run' if args.quick else 'full run'}); "
                  f"{os.cpu_count()} CPUs; load average (1 min) per benchmark: {loads}"
                  f"{pressure}\n"
                  f"ours + plain Hydra: {interp.ours}; MLXP 1.0.5: {interp.mlxp or 'not run'}; "
                  f"wall times: median [min, max] over interleaved rounds; ours/this = ratio "
                  f"of medians\n")
        print(header + table, flush=True)
        write_json(json_path, results, meta, header + table)
        print(f"\nresults: {json_path}")
    if "reader" in args.names:
        code = run_reader(args.quick, json_path.with_name(json_path.stem + "-reader.json"))
        status = status or code
    return status


def run_one(name: str, setup: Setup, args: argparse.Namespace) -> BenchResult:
    t0 = time.perf_counter()
    if name == "startup":
        res = startup.run(setup)
    elif name == "sweep":
        res = sweep.run(setup, args.sweep_points)
    elif name == "logging":
        res = logging_speed.run(setup, args.log_calls)
    elif name == "report":
        res = report.run(setup)
    elif name == "operate":
        res = operate.run(setup)
    else:
        res = submit.run(setup, args.submit_jobs, args.mlxp_submit_jobs, args.submit_repeats)
    log.info("  %s took %.0f s", name, time.perf_counter() - t0)
    return res


if __name__ == "__main__":
    sys.exit(main())
