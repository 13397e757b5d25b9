"""Benchmark of the Reader, side by side with MLXP 1.0.5's Reader, on the same synthetic logs.

    python bench/reader/bench_reader.py [--quick] [--sizes 2000,10000] [--repeats 5]
                                        [--json out.json] [--data-dir DIR]

Logs (tests/reader_data.py, make_bench_logs): per run config.yaml + info.yaml + mlxp.yaml +
one metrics file of 100 lines (+ its keys file), exactly the layout of docs/run_directory.md.

Measured, each sample in a fresh Python process that times only the Reader call (imports
excluded), contenders interleaved (ours, MLXP, ours, MLXP, ...):
* at the first size (2,000): the index build, ours cold (no cache; the cache is written) vs
  MLXP ``Reader(src, dst_dir=tmp, refresh=True)`` (it builds its TinyDB); re-open of the
  unchanged directory, ours vs MLXP ``refresh=False`` (which does not look at the runs);
* at the second size (10,000): our cold build, our re-open, our re-open + ``filter('')``;
* peak RSS growth (ru_maxrss after the Reader and its DataFrame minus after the imports) at
  4 sizes up to the second, to show that memory grows linearly.

MLXP 1.0.5 runs from its own virtual environment (bench/.venv-mlxp105, created with
``pip install mlxp==1.0.5`` when missing), in a scratch working directory (importing mlxp
deletes ./multirun.yaml). --quick: the same at tiny sizes (50 and 200 runs), 2 repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
import reader_data  # noqa: E402  (the synthetic-log generator of the tests)

VENV = REPO / "bench" / ".venv-mlxp105"
DATA_VERSION = "1"  # bump when make_bench_logs changes

OURS = r"""
import json, resource, sys, time
import pandas
sys.path.insert(0, sys.argv[4])
from mlxp_core.reader import Reader
mode, src, cache = sys.argv[1:4]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
c0, t0 = time.process_time(), time.perf_counter()
r = Reader(src, cache_dir=cache, rebuild=mode == "cold")
c1, t1 = time.process_time(), time.perf_counter()
frame = r.filter("").frame  # the pandas view, as before the mlxp.DataFrame result
c2, t2 = time.process_time(), time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert len(frame) == len(r)
print(json.dumps({"open": t1 - t0, "open_filter": t2 - t0, "cpu": c1 - c0,
                  "cpu_filter": c2 - c0, "runs": len(r), "runs_read": r.stats["runs_read"],
                  "yaml_files_parsed": r.stats["yaml_files_parsed"],
                  "rss_base_kb": base, "rss_peak_kb": peak}))
"""

MLXP = r"""
import json, resource, sys, time
import pandas
from mlxp.reader import Reader
src, dst, refresh = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
c0, t0 = time.process_time(), time.perf_counter()
r = Reader(src, dst_dir=dst, refresh=refresh)
c1, t1 = time.process_time(), time.perf_counter()
# (no filter(): MLXP's filter() needs info.logger.log_id, a field of its own info.yaml)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"open": t1 - t0, "cpu": c1 - c0, "runs": len(r), "rss_base_kb": base,
                  "rss_peak_kb": peak}))
"""


def cpu_pressure() -> Optional[float]:
    """Share of the last 60 s during which some task waited for a CPU (Linux PSI), in %."""
    try:
        with open("/proc/pressure/cpu") as f:
            return float(f.readline().split()[2].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_json(cmd: list[str], cwd: str) -> dict[str, Any]:
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def ensure_mlxp(venv: Path) -> str:
    """The python of a venv with mlxp==1.0.5, created if missing."""
    python = venv / "bin" / "python"
    check = [str(python), "-c",
             "import importlib.metadata as m, mlxp.reader; assert m.version('mlxp') == '1.0.5'"]
    if python.exists() and subprocess.run(check, capture_output=True, cwd=tempfile.gettempdir(),
                                          check=False).returncode == 0:
        return str(python)
    say(f"creating {venv} with mlxp==1.0.5 (pip install from PyPI) ...")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "mlxp==1.0.5"], check=True)
    subprocess.run(check, check=True, cwd=tempfile.gettempdir())
    return str(python)


def logs(data_dir: Path, n: int) -> str:
    """A directory of n synthetic runs, generated once and reused (marker file)."""
    path = data_dir / f"runs-{n}"
    marker = path / ".mlxp" / "bench-data"
    want = f"{DATA_VERSION} {n}"
    if marker.exists() and marker.read_text() == want:
        return str(path)
    if path.exists():
        shutil.rmtree(path)
    say(f"generating {n} runs in {path} ...")
    t0 = time.perf_counter()
    reader_data.make_bench_logs(str(path), n)
    marker.write_text(want)
    say(f"  {time.perf_counter() - t0:.1f} s")
    time.sleep(2.5)  # runs written in the last 2 s are re-read on purpose (docs/reader.md)
    return str(path)


def view(src: str, data_dir: Path, n: int) -> str:
    """The first n runs of src, as a directory of symlinks (for the memory curve)."""
    path = data_dir / f"view-{n}-of-{Path(src).name}"
    if not (path.exists() and len(os.listdir(path)) == n):
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        for log_id in range(1, n + 1):
            os.symlink(os.path.join(src, str(log_id)), path / str(log_id))
    return str(path)


class Bench:
    def __init__(self, mlxp_python: str, scratch: str) -> None:
        self.mlxp_python = mlxp_python
        self.scratch = scratch
        self.samples: dict[str, list[dict[str, Any]]] = {}

    def _tmp(self) -> str:
        return tempfile.mkdtemp(dir=self.scratch)

    def ours(self, label: str, mode: str, src: str, cache: Optional[str] = None) -> dict:
        cache = cache or self._tmp()
        res = run_json([sys.executable, "-c", OURS, mode, src, cache, str(REPO)], self.scratch)
        self.samples.setdefault(label, []).append(res)
        return res

    def mlxp(self, label: str, src: str, refresh: bool, dst: Optional[str] = None) -> dict:
        dst = dst or self._tmp()
        res = run_json([self.mlxp_python, "-c", MLXP, src, dst, "1" if refresh else "0"],
                       self.scratch)
        self.samples.setdefault(label, []).append(res)
        return res


def summary(samples: list[dict[str, Any]], key: str = "open") -> dict[str, float]:
    values = [s[key] for s in samples]
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def fmt(s: Optional[dict[str, float]]) -> str:
    if not s:
        return "-"
    return f"{s['median']:8.3f}s [{s['min']:.3f}-{s['max']:.3f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 repeats")
    parser.add_argument("--sizes", default="2000,10000",
                        help="comparison size,large size (default 2000,10000)")
    parser.add_argument("--repeats", type=int, default=None, help="default 5 (quick: 2)")
    parser.add_argument("--mlxp-repeats", type=int, default=None, help="default 3 (quick: 2)")
    parser.add_argument("--json", help="write all samples and the summary to this file")
    parser.add_argument("--data-dir", default=str(REPO / "bench" / "results" / "reader-data"),
                        help="where the synthetic logs are generated and kept")
    args = parser.parse_args()
    small, large = (50, 200) if args.quick else (int(x) for x in args.sizes.split(","))
    repeats = args.repeats or (2 if args.quick else 5)
    mlxp_repeats = args.mlxp_repeats or (2 if args.quick else 3)
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)

    mlxp_python = ensure_mlxp(VENV)
    src_small, src_large = logs(data_dir, small), logs(data_dir, large)
    rss_sizes = [large // 10, large // 4, large // 2, large]
    load_before, psi_before = os.getloadavg(), cpu_pressure()
    scratch = tempfile.mkdtemp(prefix="bench-reader-")
    bench = Bench(mlxp_python, scratch)
    try:
        say("warming the page cache ...")
        bench.ours("warmup", "cold", src_small)
        bench.ours("warmup", "cold", src_large)
        keep_ours, keep_mlxp = bench._tmp(), bench._tmp()
        bench.ours("warmup", "cold", src_small, keep_ours)
        for i in range(max(repeats, mlxp_repeats)):
            say(f"round {i + 1}: {small} runs, ours vs MLXP ...")
            if i < repeats:
                bench.ours("small_cold", "cold", src_small)
            if i < mlxp_repeats:  # the first one leaves the database the re-opens use
                bench.mlxp("small_cold_mlxp", src_small, refresh=True,
                           dst=keep_mlxp if i == 0 else None)
            if i < repeats:
                bench.ours("small_reopen", "warm", src_small, keep_ours)
            if i < mlxp_repeats:
                bench.mlxp("small_reopen_mlxp", src_small, refresh=False, dst=keep_mlxp)
        keep_large = bench._tmp()
        bench.ours("warmup", "cold", src_large, keep_large)
        for i in range(repeats):
            say(f"round {i + 1}: {large} runs ...")
            bench.ours("large_cold", "cold", src_large)
            bench.ours("large_reopen", "warm", src_large, keep_large)
        for n in rss_sizes:
            say(f"memory at {n} runs ...")
            src = src_large if n == large else view(src_large, data_dir, n)
            bench.ours(f"rss_{n}", "cold", src)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load_after, psi_after = os.getloadavg(), cpu_pressure()

    s = bench.samples
    rows = [  # (label, runs, our samples, our key, MLXP samples)
        ("index build (cold)", small, s["small_cold"], "open", s["small_cold_mlxp"]),
        ("re-open, unchanged *", small, s["small_reopen"], "open", s["small_reopen_mlxp"]),
        ("index build (cold)", large, s["large_cold"], "open", None),
        ("re-open, unchanged", large, s["large_reopen"], "open", None),
        ("re-open + filter('') (DataFrame)", large, s["large_reopen"], "open_filter", None),
    ]
    rss = {n: (s[f"rss_{n}"][0]["rss_peak_kb"] - s[f"rss_{n}"][0]["rss_base_kb"]) / 1024
           for n in rss_sizes}
    per_run = {n: mb * 1024 / n for n, mb in rss.items()}
    linear = max(per_run.values()) / min(per_run.values())
    psi = "" if psi_before is None else f"; CPU pressure (PSI some, 60 s) {psi_before:.0f}% " \
        f"before, {psi_after:.0f}% after"
    lines = [
        f"Reader benchmark: synthetic logs (config + info + 1 metrics file of 100 lines/run); "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after{psi}",
        f"{'operation':33} {'runs':>5}  {'ours wall: median [min-max]':29} {'CPU':>7}  "
        f"{'MLXP 1.0.5 wall: median [min-max]':35} {'CPU':>8}  ours/MLXP",
    ]
    summaries: dict[str, Any] = {}
    for label, n, ours, key, peer in rows:
        mine = summary(ours, key)
        cpu = summary(ours, "cpu_filter" if key == "open_filter" else "cpu")["median"]
        line = f"{label:33} {n:>5}  {fmt(mine):29} {cpu:6.3f}s"
        entry: dict[str, Any] = {"runs": n, "ours": mine, "ours_cpu_median": cpu}
        if peer:
            theirs = summary(peer)
            peer_cpu = summary(peer, "cpu")["median"]
            ratio = mine["median"] / theirs["median"]
            line += f"  {fmt(theirs):35} {peer_cpu:7.3f}s  {ratio:.4f}"
            if ratio < 1:
                line += f" ({1 / ratio:.{0 if ratio < 0.1 else 1}f}x faster)"
            entry.update(mlxp=theirs, mlxp_cpu_median=peer_cpu, ratio=ratio)
        lines.append(line)
        summaries[f"{label} @ {n}"] = entry
    reread = sorted({(x["runs_read"], x["yaml_files_parsed"]) for x in s["large_reopen"]})
    lines += [
        f"re-open at {large} runs: (runs read, YAML files parsed) = {reread}",
        "* MLXP re-open is Reader(refresh=False): it opens its database and does not look at "
        "the runs (new, changed and deleted runs are not seen)",
        "peak RSS growth (cold build + DataFrame): " + ", ".join(
            f"{n} runs {mb:.1f} MB ({per_run[n]:.1f} KB/run)" for n, mb in rss.items()),
    ]
    res: dict[str, Any] = {"rows": summaries, "rss_mb": rss}
    if not args.quick and (small, large) == (2000, 10000):
        speedup = 1 / summaries[f"index build (cold) @ {small}"]["ratio"]
        cold = summaries[f"index build (cold) @ {large}"]["ours"]["median"]
        reopen = summaries[f"re-open, unchanged @ {large}"]["ours"]["median"]
        checks = [
            (f"index build at 2,000 runs >= 20x faster than MLXP ({speedup:.0f}x)",
             speedup >= 20),
            (f"cold index at 10,000 runs < 5 s ({cold:.2f} s)", cold < 5),
            (f"re-open at 10,000 runs < 0.2 s ({reopen:.3f} s)", reopen < 0.2),
            (f"memory linear (KB/run max/min = {linear:.2f})", linear < 1.5),
        ]
        lines += [f"{'PASS' if ok else 'FAIL'}  {text}" for text, ok in checks]
        res["checks"] = {text: ok for text, ok in checks}
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": res, "samples": s, "table": lines,
                       "load_average": [load_before, load_after],
                       "cpu_pressure": [psi_before, psi_after]}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
