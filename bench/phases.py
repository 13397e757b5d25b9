"""Where the time of one command goes, phase by phase, with low-overhead timers.

    python -m bench.phases sweep  [--points 100] [--tool ours|hydra]
    python -m bench.phases submit [--points 200] [--array]

cProfile inflates Hydra's deep-copy-heavy config composition several times over; this wraps
only a few named functions (Hydra's composition, the sweeper's batch validation, ``run_job``,
mlxp-core's callbacks, metadata writes, the launcher's per-job steps) with ``perf_counter``
timers and prints inclusive totals (nested phases are counted in their parents too), per call
and per sweep point. ``submit`` runs the head-node command that ``mlxpsub`` would run
(``python main.py --multirun x=... hydra/launcher=mlxp_slurm``) with the fake ``sbatch``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

from bench import apps
from bench.harness import FAKES_BIN, base_env
from bench.peers import OURS_VENV

# (module, attribute path) of the functions timed; a missing one is skipped
TIMED = [
    ("hydra.plugins.sweeper", "Sweeper.validate_batch_is_legal"),
    ("hydra._internal.config_loader_impl", "ConfigLoaderImpl.load_sweep_config"),
    ("hydra._internal.config_loader_impl", "ConfigLoaderImpl._load_configuration_impl"),
    ("hydra.core.utils", "run_job"),
    ("hydra.core.utils", "_save_config"),
    ("hydra.core.utils", "configure_log"),
    ("hydra.core.utils", "setup_globals"),
    ("omegaconf.omegaconf", "OmegaConf.save"),
    ("mlxp_core.callbacks", "MLXPCallback.on_job_start"),
    ("mlxp_core.callbacks", "MLXPCallback.on_job_end"),
    ("mlxp_core.hydra_app.launch", "_run_task"),
    ("mlxp_core.run.active", "_write_metadata"),
    ("mlxp_core.run.active", "_user_config"),
    ("mlxp_core.record.facts", "process_facts"),
    ("mlxp_core.record.facts", "git_state"),
    ("mlxp_core.record.layout", "allocate"),
    ("mlxp_core.record.yamlio", "write_yaml_atomic"),
    ("mlxp_core.run.jobreturn", "dump"),
    ("mlxp_core.run.logger", "Logger.__init__"),
    ("mlxp_core.run.active", "finish"),
    ("mlxp_core.submit.plan", "make_plan"),
    ("mlxp_core.submit.batch", "prepare"),
    ("mlxp_core.submit.batch", "submit_job"),
    ("mlxp_core.submit.plan", "job_spec"),
    ("mlxp_core.submit.plan", "job_settings"),
    ("mlxp_core.submit.plan", "render"),
    ("mlxp_core.schedulers.commands", "submit"),
    ("mlxp_core.schedulers.commands", "_run"),
]

# Runs inside the measured process: wraps the functions, runs main.py, prints the totals.
RUNNER = r'''
import atexit, importlib, json, os, runpy, sys, time
T0 = time.perf_counter()
timed = json.loads(os.environ.pop("BENCH_PHASES"))
stats = {}

def wrap(name, func):
    entry = stats.setdefault(name, [0, 0.0])
    def timed_call(*args, **kwargs):
        t = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            entry[0] += 1
            entry[1] += time.perf_counter() - t
    timed_call.__wrapped__ = func
    for attr in ("__name__", "__qualname__", "__module__", "__doc__"):
        try:
            setattr(timed_call, attr, getattr(func, attr))
        except (AttributeError, TypeError):
            pass
    return timed_call

def install():  # a function: its loop variables must not be globals of __main__,
    # which the alias scan below visits too
    for module_name, path in timed:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        owner, *rest = path.split(".")
        if rest:
            cls = getattr(module, owner, None)
            raw = None if cls is None else cls.__dict__.get(rest[0])
            if raw is None:
                continue
            if isinstance(raw, staticmethod):
                setattr(cls, rest[0], staticmethod(wrap(path, raw.__func__)))
            else:
                setattr(cls, rest[0], wrap(path, raw))
            continue
        func = getattr(module, owner, None)
        if func is None:
            continue
        new = wrap(f"{module_name.split('.')[-1]}.{owner}", func)
        for mod in list(sys.modules.values()):  # every `from x import f` alias too
            for key, value in list(getattr(mod, "__dict__", {}).items()):
                if value is func:
                    setattr(mod, key, new)


t_imp = time.perf_counter()
install()
T_IMPORTS = time.perf_counter() - t_imp

def report():
    total = time.perf_counter() - T0
    print("PHASES " + json.dumps({"total_s": total, "preimport_s": T_IMPORTS,
                                  "phases": stats}), flush=True)

atexit.register(report)
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
'''


def measure(python: Path, where: Path, args: List[str], env: dict) -> dict:  # type: ignore[type-arg]
    runner = where / "_phases_runner.py"
    runner.write_text(RUNNER)
    env = {**env, "BENCH_PHASES": json.dumps(TIMED)}
    proc = subprocess.run([str(python), str(runner), "main.py", *args], cwd=where, env=env,
                          capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PHASES ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict = json.loads(lines[-1][len("PHASES "):])  # type: ignore[type-arg]
    return result


def show(title: str, result: dict, points: int) -> None:  # type: ignore[type-arg]
    print(f"{title}: total {result['total_s']:.2f} s (timers installed in "
          f"{result['preimport_s']:.2f} s, imports of the timed modules included)")
    print(f"  {'phase (inclusive)':<48} {'calls':>6} {'total s':>8} {'ms/call':>8} "
          f"{'ms/point':>9}")
    rows = sorted(result["phases"].items(), key=lambda kv: -kv[1][1])
    for name, (calls, seconds) in rows:
        if calls:
            print(f"  {name:<48} {calls:>6} {seconds:>8.3f} {seconds / calls * 1e3:>8.2f} "
                  f"{seconds / points * 1e3:>9.2f}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.phases", description=__doc__)
    parser.add_argument("what", choices=["sweep", "submit"])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--tool", choices=["ours", "hydra"], default="ours")
    parser.add_argument("--array", action="store_true", help="submit: hydra.launcher.array=true")
    parser.add_argument("--python", type=Path, default=None,
                        help="default: bench/.venv-ours/bin/python if built, else this one")
    args = parser.parse_args(argv)
    venv_python = OURS_VENV / "bin" / "python"
    python = args.python or (venv_python if venv_python.exists() else Path(sys.executable))
    importlib.import_module("bench.harness")
    with tempfile.TemporaryDirectory(prefix="bench-phases-") as tmp:
        where = Path(tmp)
        source = apps.HYDRA_NOOP if args.tool == "hydra" else apps.MLXP_NOOP
        apps.write_app(where, source)
        env = base_env()
        sweep = [f"x=range(0,{args.points})"]
        if args.what == "sweep":
            flags = ["-m"] if args.tool == "hydra" else []
            show(f"{args.tool}: python main.py {' '.join(flags + sweep)}",
                 measure(python, where, flags + sweep, env), args.points)
        else:
            env = base_env([str(FAKES_BIN), str(python.parent)])
            env.update(FAKE_SCHED_NORUN="1", FAKE_SCHED_DIR=str(where / "fakesched"))
            extra = ["hydra.launcher.array=true"] if args.array else []
            cmd = ["--multirun", *sweep, "hydra/launcher=mlxp_slurm", "hydra.launcher.time=10",
                   *extra]
            show(f"ours head node: python main.py {' '.join(cmd)}",
                 measure(python, where, cmd, env), args.points)
    return 0


if __name__ == "__main__":
    sys.exit(main())
