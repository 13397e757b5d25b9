"""`@mlxp.launch`: the public `hydra.main` plus the mlxp callbacks, and sweeps without `-m`.

`launch(config_path, ...)(task)` returns a function that, when called from the user's
script, checks the config directory, adds the mlxp callbacks and mlxp's Hydra defaults to
the command line (only for keys the user did not set), adds `--multirun` when an override
sweeps (`lr=0.1,0.2`, `x=range(1,4)`, `choice(...)`), and runs `hydra.main`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import inspect
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import hydra
from omegaconf import DictConfig, OmegaConf, open_dict

from mlxp_core import snapshot
from mlxp_core.errors import MLXPError, UsageAbort
from mlxp_core.hydra_app.argv import Args, split_args
from mlxp_core.hydra_app.defaults import (
    MLXP_DEFAULTS,
    OUTPUT_OPTION,
    mlxp_plugin_defaults,
    store_output_option,
)
from mlxp_core.hydra_app.plugins import ensure_visible
from mlxp_core.record import info as run_info
from mlxp_core.record.layout import SWEEPS_DIR
from mlxp_core.run import CALLBACK_TARGET
from mlxp_core.run import active as _run
from mlxp_core.run.context import Context
from mlxp_core.settings import (
    effective_settings,
    is_setting_override,
    load_yaml_file,
    overrides_to_dict,
    resolve_parent_log,
)

log = logging.getLogger("mlxp")

TaskFunction = Callable[[Context], Any]


def _is_sweep(overrides: List[str]) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:  # Hydra reports the syntax error itself, with its own message
        return False
    return any(o.is_sweep_override() for o in parsed)


def config_dir_of(task: Callable[..., Any], config_path: str) -> Path:
    path = Path(config_path).expanduser()
    if path.is_absolute():
        return path
    return (Path(inspect.getfile(task)).resolve().parent / path).resolve()


def _check_config(task: Callable[..., Any], config_path: str, config_name: str) -> Path:
    config_dir = config_dir_of(task, config_path)
    how = (
        f"config_path={config_path!r}"
        + ("" if Path(config_path).is_absolute()
           else f" resolved against the directory of {inspect.getfile(task)}")
    )
    if not config_dir.is_dir():
        raise UsageAbort(
            f"config directory not found: {config_dir} ({how}); create it with a "
            f"{config_name}.yaml, or pass the right config_path to @mlxp.launch"
        )
    config_file = config_dir / f"{config_name}.yaml"
    if not config_file.is_file():
        raise UsageAbort(
            f"config file not found: {config_file} (config_name={config_name!r}, {how}); "
            f"create {config_name}.yaml with your options (an empty file is valid)"
        )
    try:
        load_yaml_file(config_file)
    except MLXPError as exc:
        raise UsageAbort(str(exc)) from None
    return config_dir


def _sweep_dir(config_dir: Path, overrides: List[str]) -> str:
    """Where Hydra's `multirun.yaml` of this command goes: under the parent log dir."""
    settings = effective_settings(config_dir, overrides_to_dict(overrides, skip_sweeps=True))
    parent = resolve_parent_log(settings)
    stamp = _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return str(parent / SWEEPS_DIR / f"{stamp}_{os.getpid()}")


def hydra_defaults(seeding_ref: Optional[str]) -> Tuple[Dict[str, str], Dict[str, Any]]:
    """mlxp's defaults for Hydra (see `plugin_defaults`): group choices and `hydra.*` values.

    No outputs/ dir, no .hydra/, plain stdout logging, the mlxp sweeper and inline launcher,
    and the mlxp callback (with the seeding function).
    """
    callback: Dict[str, Any] = {"_target_": CALLBACK_TARGET}
    if seeding_ref:
        callback["seeding_function"] = seeding_ref
    groups = {**MLXP_DEFAULTS, "job_logging": "stdout", "output": OUTPUT_OPTION}
    return groups, {"output_subdir": None, "callbacks.mlxp": callback}


def build_argv(argv: List[str]) -> List[str]:
    """The command line handed to Hydra."""
    args: Args = split_args(argv)
    # flags first: Hydra 1.3's parser rejects a flag placed between overrides
    out: List[str] = list(args.flag_words)
    for word in args.overrides:
        if is_setting_override(word) and not word.startswith(("+", "~")):
            word = "+" + word  # settings are not in the user's config: add, don't override
        out.append(word)
    if not args.inspects and "multirun" not in args.flags and _is_sweep(args.overrides):
        # Hydra 1.3's parser wants flags before the overrides
        out.insert(0, "--multirun")
    return out


def _run_task(task: TaskFunction, cfg: DictConfig) -> Any:
    """Hydra's task function: build the Context from the active run and call the user's task."""
    run = _run.current_run()
    with open_dict(cfg):
        if "mlxp" in cfg:
            del cfg["mlxp"]
    config: Any = cfg
    if run.settings.get("resolve", True):
        OmegaConf.resolve(cfg)
    if run.settings.get("as_ConfigDict", True):
        # MLXP's default type of ctx.config: a plain dict with attribute access
        from mlxp_core.compat.config_dict import ConfigDict

        container = OmegaConf.to_container(cfg, resolve=run.settings.get("resolve", True))
        config = ConfigDict(_config_dicts(container))
    ctx = Context(
        config=config,
        mlxp=OmegaConf.create(run.settings, flags={"readonly": True}),
        info=OmegaConf.create(run.info, flags={"readonly": True}),
        logger=run.logger,
    )
    try:
        return task(ctx)
    except KeyboardInterrupt:
        _run.finish(status=run_info.INTERRUPTED, signal_name="SIGINT")
        raise
    except SystemExit as exc:
        if exc.code in (0, None):
            return None
        _run.finish(exc)
        raise


def _config_dicts(value: Any) -> Any:
    """Nested dicts (also inside lists) as ConfigDicts."""
    from mlxp_core.compat.config_dict import ConfigDict

    if isinstance(value, dict):
        return ConfigDict({k: _config_dicts(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_config_dicts(v) for v in value]
    return value


def _print_ending(ending: _run.Ending) -> None:
    """One line per run as it ends: id, status, directory (the user's console output)."""
    where = ending.log_dir or "no run directory"
    what = f" ({ending.error})" if ending.error else ""
    print(f"mlxp: run {ending.log_id} {ending.status}{what}: {where}", flush=True)


def _report(runs: List[_run.Ending]) -> int:
    """After a sweep: list the runs that did not complete; return their number."""
    bad = [r for r in runs if r.status != run_info.COMPLETE]
    if bad and len(runs) > 1:
        print(f"mlxp: {len(bad)} of {len(runs)} runs did not complete:", file=sys.stderr)
        for r in bad:
            what = f" ({r.error})" if r.error else ""
            print(f"  run {r.log_id} {r.status}{what}: {r.log_dir or 'no run directory'} "
                  f"[{' '.join(r.overrides)}]", file=sys.stderr)
    return len(bad)


def launch(
    config_path: str = "configs",
    seeding_function: Optional[Callable[[Any], Any]] = None,
    config_name: str = "config",
    version_base: Optional[str] = "1.3",
) -> Callable[[TaskFunction], Callable[[], None]]:
    """Decorate `task(ctx)`; calling the result runs it under Hydra with mlxp run directories.

    The first two parameters are MLXP's, in its order: `@mlxp.launch('configs', set_seeds)`.
    `config_path` is resolved against the directory of the file that defines the task.
    """
    if seeding_function is not None and not callable(seeding_function):
        raise TypeError(
            f"launch(): seeding_function must be a function, got {seeding_function!r}; the "
            "second positional argument is the seeding function (MLXP's order), pass the "
            "config file name as config_name=..."
        )

    def decorator(task: TaskFunction) -> Callable[[], None]:
        @functools.wraps(task)
        def hydra_task(cfg: DictConfig) -> Any:
            return _run_task(task, cfg)

        @functools.wraps(task)
        def entry() -> None:
            args = split_args(sys.argv[1:])
            path = args.flags.get("config_path") or config_path
            name = args.flags.get("config_name") or config_name
            config_dir = _check_config(task, path, name)
            seeding_ref = _run.register_seeder(seeding_function) if seeding_function else None
            try:
                argv = build_argv(sys.argv[1:])
                if not args.inspects:  # use_version_manager: run from the code's snapshot
                    snapshot.reexec(effective_settings(config_dir, overrides_to_dict(
                        split_args(argv).overrides, skip_sweeps=True)), sys.argv)
                store_output_option(OUTPUT_OPTION,
                                    _sweep_dir(config_dir, split_args(argv).overrides))
            except MLXPError as exc:
                raise UsageAbort(str(exc)) from None
            groups, values = hydra_defaults(seeding_ref)
            ensure_visible()  # hydra/sweeper=mlxp and the launchers, in any install mode
            main = hydra.main(
                config_path=str(config_dir), config_name=name, version_base=version_base
            )(hydra_task)
            # hydra.main reads its command line from sys.argv (its public contract): set for
            # the call, restored after it
            saved = sys.argv
            sys.argv = [sys.argv[0], *argv]
            with _run.endings(_print_ending) as runs:
                try:
                    with mlxp_plugin_defaults(groups, values):
                        main()
                finally:
                    sys.argv = saved
                    failed = _report(runs)
            if failed:
                raise SystemExit(1)

        return entry

    return decorator
