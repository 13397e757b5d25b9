"""The active run of this process: set up at job start, finished at job end or on a signal.

The callbacks drive it; the decorator's task wrapper and `mlxp.current_run()` read it.
State is process-global but created only when a job starts (never at import time).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

from omegaconf import DictConfig, OmegaConf

from mlxp_core.errors import RunSetupError
from mlxp_core.record import info as run_info
from mlxp_core.record import layout
from mlxp_core.record.facts import process_facts
from mlxp_core.record.layout import RUN_DIR_ENV
from mlxp_core.record.yamlio import read_yaml, write_yaml_atomic
from mlxp_core.run.job_config import task_overrides
from mlxp_core.run.logger import Logger
from mlxp_core.schedulers import get_scheduler, job_id_from_env
from mlxp_core.settings import effective_settings, resolve_parent_log

log = logging.getLogger("mlxp")

# seeding functions given as objects to @mlxp.launch (lambdas, closures) are registered here
_REGISTERED_SEEDERS: Dict[str, Callable[[Any], Any]] = {}
REGISTERED_PREFIX = "mlxp-registered:"


@dataclass
class Run:
    """One run of the task in this process."""

    settings: Dict[str, Any]
    overrides: List[str]
    log_id: Optional[int] = None
    log_dir: Optional[Path] = None
    logger: Optional[Logger] = None
    info: Dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    setup_error: Optional[BaseException] = None
    finished: bool = False
    launched: bool = False  # its directory was allocated by a launcher's head (MLXP_RUN_DIR)
    _handlers: Dict[int, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ending:
    """How one run of this process ended (for the command's end-of-sweep report)."""

    log_id: Optional[int]
    log_dir: Optional[str]
    status: str
    overrides: List[str]
    error: Optional[str]


# the job side's process state, in one place: the run in progress and who hears of endings
_active: Optional[Run] = None
_listeners: List[Callable[[Ending], None]] = []


def current_run() -> Run:
    """The run being executed by this process; raises if its setup failed or none is active."""
    if _active is None:
        raise RuntimeError("no mlxp run is active: call this from inside a task")
    if _active.setup_error is not None:
        raise _active.setup_error
    return _active


def active_run() -> Optional[Run]:
    """The run of the job in progress, if any (its setup may have failed)."""
    return _active


@contextlib.contextmanager
def endings(listener: Optional[Callable[[Ending], None]] = None) -> Iterator[List[Ending]]:
    """Collect the endings of the runs finished within the block (and tell `listener` each)."""
    collected: List[Ending] = []

    def hear(ending: Ending) -> None:
        collected.append(ending)
        if listener is not None:
            listener(ending)

    _listeners.append(hear)
    try:
        yield collected
    finally:
        _listeners.remove(hear)


def register_seeder(func: Callable[[Any], Any]) -> str:
    """A reference to `func` usable as the callback's `seeding_function`."""
    qualname = getattr(func, "__qualname__", "")
    module = getattr(func, "__module__", None)
    if module and qualname and "<" not in qualname:
        return f"{module}:{qualname}"
    key = f"{REGISTERED_PREFIX}{id(func)}"
    _REGISTERED_SEEDERS[key] = func
    return key


def resolve_seeder(ref: str) -> Callable[[Any], Any]:
    if ref in _REGISTERED_SEEDERS:
        return _REGISTERED_SEEDERS[ref]
    from mlxp_core.run.artifacts import resolve_import_path

    path = ref if ":" in ref else ":".join(ref.rsplit(".", 1))
    return resolve_import_path(path)


def check_parent_log(parent: Path) -> None:
    layout.check_writable(parent)


def _user_config(config: DictConfig) -> Any:
    """The task part of a job config (no `hydra`, no `mlxp`), resolved when possible.

    Converted key by key from the job's own config, so Hydra's large `hydra` node is never
    copied; if an interpolation cannot be resolved, everything is kept unresolved (the error
    surfaces when the task reads its config).
    """
    keys = [k for k in config.keys() if k not in ("hydra", "mlxp")]
    try:
        out = {}
        for key in keys:
            value = config[key]
            out[key] = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(
                value) else value
        return out
    except Exception:
        data = OmegaConf.to_container(config, resolve=False)
        assert isinstance(data, dict)
        return {key: data[key] for key in keys}


def _open_run_dir(run: Run, config: DictConfig) -> bool:
    """Allocate or adopt the run directory; return True if this call created it."""
    pinned = os.environ.pop(RUN_DIR_ENV, None)  # popped: the task's own children start fresh
    if pinned:
        path = Path(pinned)
        if not path.name.isdigit():
            raise RunSetupError(f"{RUN_DIR_ENV}={pinned} is not a run directory <parent>/<id>")
        run.log_id = int(path.name)
        run.launched = True
        run.log_dir, existed = layout.adopt(path.parent, run.log_id)
        return not existed
    # relative to where the command was started (the job may have chdir'ed already)
    origin = OmegaConf.select(config, "hydra.runtime.cwd") or os.getcwd()
    parent = resolve_parent_log(run.settings, Path(str(origin)))
    forced = run.settings["logger"]["log_id"]
    if forced is None:
        run.log_id, run.log_dir = layout.allocate(parent)
        return True
    run.log_id = int(forced)
    run.log_dir, existed = layout.adopt(parent, run.log_id)
    return not existed


def _previous_info(run: Run, user_config: Any) -> Dict[str, Any]:
    """info.yaml of an earlier attempt (resume / requeue / pre-allocated job), checked."""
    assert run.log_dir is not None
    info_path = layout.info_path(run.log_dir)
    previous = read_yaml(info_path) if info_path.is_file() else None
    if not isinstance(previous, dict):
        return {}
    config_path = layout.metadata_file(run.log_dir, layout.CONFIG_FILE)
    if previous.get("status") not in run_info.NOT_STARTED and config_path.is_file():
        stored = read_yaml(config_path)
        if stored != user_config:
            given = " ".join(previous.get("overrides") or []) or "(no overrides)"
            raise RunSetupError(
                f"cannot resume run {run.log_id} in {run.log_dir}: this command's config differs "
                f"from the run's metadata/config.yaml; run {run.log_id} was started with: {given}; "
                "repeat those overrides together with +mlxp.logger.log_id="
                f"{run.log_id}"
            )
    return previous


def _write_metadata(run: Run, config: DictConfig, config_dir: Optional[Path]) -> None:
    assert run.log_dir is not None and run.log_id is not None
    layout.make_layout(run.log_dir)
    user_config = _user_config(config)
    previous = _previous_info(run, user_config)
    facts = process_facts(run.overrides, str(config_dir) if config_dir else None,
                          job_id_from_env(os.environ))
    run.info = run_info.start_record(run.log_id, run.log_dir, previous, facts)
    write_yaml_atomic(layout.metadata_file(run.log_dir, layout.CONFIG_FILE), user_config)
    write_yaml_atomic(layout.metadata_file(run.log_dir, layout.SETTINGS_FILE), run.settings)
    run_info.write_job_record(run.log_dir, run.info)


def _seed(ref: str, config: DictConfig) -> None:
    seed = config.get("seed")
    value = OmegaConf.to_container(seed, resolve=True) if OmegaConf.is_config(seed) else seed
    resolve_seeder(ref)(value)


def start(
    config: DictConfig,
    config_dir: Optional[Path],
    mlxp: Optional[Dict[str, Any]],
    seeding_function: Optional[str],
) -> Run:
    """Set up the run of this job; failures are kept on the run (`setup_error`)."""
    global _active
    overrides = task_overrides(config)
    run = Run(settings={}, overrides=overrides)
    _active = run
    created = False
    try:
        run.settings = effective_settings(config_dir, mlxp)
        if run.settings["use_logger"]:
            created = _open_run_dir(run, config)
            _write_metadata(run, config, config_dir)
            assert run.log_dir is not None and run.log_id is not None
            run.logger = Logger(
                run.log_dir, run.log_id, run.settings["logger"]["flush_interval_s"]
            )
    except BaseException as exc:
        if created and run.log_dir is not None:
            shutil.rmtree(run.log_dir, ignore_errors=True)
        run.log_dir = None
        run.setup_error = exc if isinstance(exc, RunSetupError) else RunSetupError(
            f"could not prepare the run directory: {type(exc).__name__}: {exc}"
        )
        log.error("mlxp: %s", run.setup_error)
        return run
    _install_signal_handlers(run)
    if seeding_function:
        try:
            _seed(seeding_function, config)
        except Exception as exc:
            run.setup_error = exc
    return run


def _error_record(error: BaseException) -> Dict[str, str]:
    return {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    }


def finish(error: Optional[BaseException] = None, status: Optional[str] = None,
           signal_name: Optional[str] = None) -> None:
    """End the active run: status, end time and duration in info.yaml; close the logger."""
    global _active
    run = _active
    if run is None or run.finished:
        return
    run.finished = True
    _restore_signal_handlers(run)
    if status is None:
        status = run_info.FAILED if error is not None else run_info.COMPLETE
    try:
        if run.logger is not None:
            run.logger.close()
    finally:
        if run.log_dir is not None:
            run_info.end_record(run.info, status, time.monotonic() - run.started,
                                _error_record(error) if error is not None else None,
                                signal_name)
            run_info.write_job_record(run.log_dir, run.info)
        ending = Ending(run.log_id, str(run.log_dir) if run.log_dir else None, status,
                        list(run.overrides),
                        f"{type(error).__name__}: {error}" if error is not None else None)
        if run.log_dir is not None and not _listeners:  # a listener reports it instead
            log.log(logging.INFO if status == run_info.COMPLETE else logging.ERROR,
                    "mlxp: run %s %s: %s", run.log_id, status, run.log_dir)
        for listener in list(_listeners):
            listener(ending)
        _active = None


def _on_signal(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    finish(status=run_info.INTERRUPTED, signal_name=name)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def _ending_signals(run: Run) -> List[int]:
    """SIGTERM, SIGINT, and the signal the job's scheduler sends before a kill (SGE: USR2)."""
    signals = [signal.SIGTERM, signal.SIGINT]
    job = run.info.get("scheduler")
    if isinstance(job, dict) and job.get("name"):
        signals += [getattr(signal, name) for name in get_scheduler(job["name"]).notify_signals]
    return signals


def _install_signal_handlers(run: Run) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _ending_signals(run):
        run._handlers[signum] = signal.signal(signum, _on_signal)


def _restore_signal_handlers(run: Run) -> None:
    for signum, handler in run._handlers.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    run._handlers.clear()
