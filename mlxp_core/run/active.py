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

import yaml
from omegaconf import DictConfig, OmegaConf

from mlxp_core.errors import DiskFull, ResumeRefused, RunSetupError
from mlxp_core.record import info as run_info
from mlxp_core.record import layout, live
from mlxp_core.record import ranks as rank_files
from mlxp_core.record.facts import iso, now, process_facts
from mlxp_core.record.layout import RUN_DIR_ENV
from mlxp_core.record.yamlio import read_yaml, write_yaml_atomic
from mlxp_core.run import ranks as _ranks
from mlxp_core.run import walltime
from mlxp_core.run.artifacts import remove_stale_temps
from mlxp_core.run.job_config import task_overrides
from mlxp_core.run.logger import Logger, logger_class
from mlxp_core.run.rankio import RankOutput
from mlxp_core.schedulers import get_scheduler, job_id_from_env
from mlxp_core.settings import effective_settings, forced_log_id, resolve_parent_log
from mlxp_core.snapshot import SNAPSHOT_ENV, snapshot_facts

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
    lock: Optional[live.RunLock] = None  # held from setup to the final record
    _handlers: Dict[int, Any] = field(default_factory=dict)
    # while set up or finished, an ending signal is held here, acted on once the record is
    # written (a second SIGTERM must not kill the process between two writes)
    _holding: bool = False
    _held: List[int] = field(default_factory=list)
    # several processes (docs/distributed.md): this one's rank; rank 0 owns the record
    ranks: _ranks.Ranks = field(default_factory=_ranks.Ranks)
    rank_output: Optional[RankOutput] = None
    rendezvous: Optional[Any] = None  # (parent, key) rank 0 published for ranks > 0
    # the walltime warning (mlxp_core.run.walltime) and what it did
    warning: Optional[walltime.WalltimeWarning] = None
    warned: bool = False
    interruption: Optional[Dict[str, Any]] = None
    checkpoint_hooks: List[Callable[[], Any]] = field(default_factory=list)

    def on_checkpoint(self, hook: Callable[[], Any]) -> Callable[[], Any]:
        """Register `hook()` to save a checkpoint when the scheduler warns of the walltime
        (or a preemption); called on rank 0 only, in registration order. Returns `hook`, so
        it can be used as a decorator."""
        if not callable(hook):
            raise TypeError(f"on_checkpoint expects a function taking no argument, got {hook!r}")
        self.checkpoint_hooks.append(hook)
        return hook


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
        # the head chose the directory: record where it really is
        run.settings["logger"]["parent_log_dir"] = str(path.parent)
        return not existed and run.ranks.is_main
    parent = resolve_parent_log(run.settings)
    forced = forced_log_id(run.settings)
    if forced is None and run.ranks.multi:
        return _rendezvous(run, parent)
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
    try:
        previous = read_yaml(info_path) if info_path.is_file() else None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{info_path}:{mark.line + 1}:{mark.column + 1}" if mark else str(info_path)
        raise ResumeRefused(
            f"cannot resume run {run.log_id}: {where} is not valid YAML "
            f"({getattr(exc, 'problem', None) or exc}); the run's record is left as it is: "
            "repair the file, or start a new run without +mlxp.logger.forced_log_id") from None
    if not isinstance(previous, dict):
        return {}
    config_path = layout.metadata_file(run.log_dir, layout.CONFIG_FILE)
    if previous.get("status") not in run_info.NOT_STARTED and config_path.is_file():
        stored = read_yaml(config_path)
        if stored != user_config:
            given = " ".join(previous.get("overrides") or []) or "(no overrides)"
            raise ResumeRefused(
                f"cannot resume run {run.log_id} in {run.log_dir}: this command's config differs "
                f"from the run's metadata/config.yaml; run {run.log_id} was started with: {given}; "
                "repeat those overrides together with +mlxp.logger.log_id="
                f"{run.log_id}"
            )
    return previous


def _take_lock(run: Run, job: Any) -> None:
    """The live-run lock (see `record.live`): refuse a directory another process writes."""
    assert run.log_dir is not None
    job_id = str(job.get("job_id")) if isinstance(job, dict) and job.get("job_id") else None
    try:
        run.lock = live.acquire(run.log_dir, job_id)
    except live.RunBusy as exc:
        raise ResumeRefused(
            f"cannot resume run {run.log_id}: {exc}; two processes would write the same run. "
            "Wait for it to end (or stop it), or start a new run without "
            "+mlxp.logger.forced_log_id") from None


def _write_metadata(run: Run, config: DictConfig, config_dir: Optional[Path]) -> None:
    assert run.log_dir is not None and run.log_id is not None
    layout.make_layout(run.log_dir)
    job = job_id_from_env(os.environ)
    _take_lock(run, job)
    user_config = _user_config(config)
    previous = _previous_info(run, user_config)
    facts = process_facts(run.overrides, str(config_dir) if config_dir else None, job)
    if os.environ.get(SNAPSHOT_ENV):  # use_version_manager: the snapshot this run executes
        facts.update(snapshot_facts(Path(os.environ[SNAPSHOT_ENV])))
    facts.update(run.ranks.as_info())
    run.info = run_info.start_record(run.log_id, run.log_dir, previous, facts)
    write_yaml_atomic(layout.metadata_file(run.log_dir, layout.CONFIG_FILE), user_config)
    write_yaml_atomic(layout.metadata_file(run.log_dir, layout.SETTINGS_FILE), run.settings)
    run_info.reserve_space(run.log_dir)
    run_info.write_job_record(run.log_dir, run.info)
    if previous.get("start_time"):  # a resume: checkpoints half-written by a killed attempt
        artifacts_dir = run.log_dir / "artifacts"
        for kind in (artifacts_dir.iterdir() if artifacts_dir.is_dir() else ()):
            if kind.is_dir():
                remove_stale_temps(kind)


def _seed(ref: str, config: DictConfig, run: Optional[Run] = None) -> None:
    seed = config.get("seed")
    value = OmegaConf.to_container(seed, resolve=True) if OmegaConf.is_config(seed) else seed
    if run is not None and run.ranks.rank and run.settings.get("distributed", {}).get(
            "seed_add_rank"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise RunSetupError(f"distributed.seed_add_rank: the seed must be an integer to add "
                                f"the rank to it, got seed={value!r}")
        value += run.ranks.rank
    resolve_seeder(ref)(value)


def start(
    config: DictConfig,
    config_dir: Optional[Path],
    mlxp: Optional[Dict[str, Any]],
    seeding_function: Optional[str],
) -> Run:
    """Set up the run of this job; failures are kept on the run (`setup_error`).

    SIGTERM/SIGINT are held from before the directory is created until its RUNNING record is
    written: a signal in that window ends the run INTERRUPTED right after (never an empty
    directory without a record); if setup fails, the directory is removed first.
    """
    global _active
    overrides = task_overrides(config)
    run = Run(settings={}, overrides=overrides)
    _active = run
    run._holding = True
    _install_signal_handlers(run)
    created = False
    try:
        # relative to where the command was started (the job may have chdir'ed already)
        origin = Path(str(OmegaConf.select(config, "hydra.runtime.cwd") or os.getcwd()))
        run.settings = effective_settings(config_dir, mlxp, cwd=origin)
        run.ranks = _ranks.detect()
        if run.settings["use_logger"]:
            cls = logger_class(run.settings["logger"]["name"])
            created = _open_run_dir(run, config)
            if run.ranks.is_main:
                _write_metadata(run, config, config_dir)
            else:
                _rank_info(run, config_dir)
            assert run.log_dir is not None and run.log_id is not None
            # MLXP's constructor; the directory exists: the logger adopts it
            run.logger = cls(parent_log_dir=str(run.log_dir.parent), forced_log_id=run.log_id,
                             log_streams_to_file=run.settings["logger"]["log_streams_to_file"]
                             and run.ranks.is_main)
            run.logger.set_flush_interval(run.settings["logger"]["flush_interval_s"])
            if run.ranks.multi:
                run.logger.set_rank(run.ranks.rank,
                                    run.settings["distributed"]["per_rank_metrics"])
        else:
            run.info = run.ranks.as_info()
    except BaseException as exc:
        if run.lock is not None:
            run.lock.release()
            run.lock = None
        if created and run.log_dir is not None:
            shutil.rmtree(run.log_dir, ignore_errors=True)
        run.log_dir = None
        run.setup_error = exc if isinstance(exc, RunSetupError) else RunSetupError(
            f"could not prepare the run directory: {type(exc).__name__}: {exc}"
        )
        if not isinstance(exc, ResumeRefused):  # the callback reports a refusal itself
            log.error("mlxp: %s", run.setup_error)
        _stop_holding(run, deliver_to_default=True)
        return run
    _start_ranks_and_warning(run)
    _install_signal_handlers(run)  # the scheduler's warning signal, now that it is known
    _stop_holding(run)
    if seeding_function:
        try:
            _seed(seeding_function, config, run)
        except Exception as exc:
            run.setup_error = exc
    return run


def abandon() -> None:
    """Forget the active run without recording anything (a refused resume: the run's record
    belongs to someone else); the signal handlers are restored."""
    global _active
    run = _active
    if run is None:
        return
    run.finished = True
    _restore_signal_handlers(run)
    _active = None


def _stop_holding(run: Run, deliver_to_default: bool = False) -> None:
    """Act on a signal held during setup: end the run by it, or (no run) let it kill us."""
    run._holding = False
    held, run._held = run._held[:1], []
    if not held:
        return
    if deliver_to_default:
        abandon()
        signal.raise_signal(held[0])
        return
    _end_by_signal(held[0])


def _error_record(error: BaseException) -> Dict[str, str]:
    return {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    }


def finish(error: Optional[BaseException] = None, status: Optional[str] = None,
           signal_name: Optional[str] = None) -> None:
    """End the active run: status, end time and duration in info.yaml; close the logger.

    Ending signals that arrive meanwhile are held until the record is written, then acted on
    (unless this ending is itself a signal's). A run whose directory was removed while it ran
    ends FAILED without writing anything.
    """
    global _active
    run = _active
    if run is None or run.finished:
        return
    run.finished = True
    run._holding = True
    if status is None:
        status = run_info.FAILED if error is not None else run_info.COMPLETE
    try:
        if run.logger is not None:
            try:
                run.logger.close()
            except (OSError, DiskFull) as exc:  # the run fails, its record is still written
                if error is None:
                    error, status = exc, run_info.FAILED
    finally:
        walltime.disarm(run.warning)
        if run.log_dir is not None:
            if not run.ranks.is_main:  # rank 0 records the run's end (docs/distributed.md)
                _record_rank_end(run, status, error, signal_name)
            elif run.lock is not None and not run.lock.still_ours():
                error, status = live.RunDirectoryGone(
                    f"the run directory {run.log_dir} was removed (or replaced) while the run "
                    "ran; nothing was recorded"), run_info.FAILED
            else:
                record, ranks_summary = _error_record(error) if error is not None else None, None
                if run.ranks.multi:
                    status, record, signal_name, ranks_summary = _with_other_ranks(
                        run, status, record, signal_name)
                run_info.end_record(run.info, status, time.monotonic() - run.started,
                                    record, signal_name, interruption=run.interruption,
                                    ranks=ranks_summary)
                run_info.write_job_record(run.log_dir, run.info)
                run_info.release_reserve(run.log_dir)
                if record is not None and error is None:  # another rank's failure
                    error = RuntimeError(f"rank {record.get('rank')}: {record.get('type')}: "
                                         f"{record.get('message')}")
        if run.lock is not None:
            run.lock.release()
        if run.rank_output is not None:
            run.rank_output.restore()
            run.rank_output = None
        if run.rendezvous is not None:
            rank_files.forget_run(*run.rendezvous)
        ending = Ending(run.log_id, str(run.log_dir) if run.log_dir else None, status,
                        list(run.overrides),
                        f"{type(error).__name__}: {error}" if error is not None else None)
        if run.log_dir is not None and not _listeners:  # a listener reports it instead
            log.log(logging.INFO if status == run_info.COMPLETE else logging.ERROR,
                    "mlxp: run %s %s: %s", run.log_id, status, run.log_dir)
        for listener in list(_listeners):
            listener(ending)
        _active = None
        _restore_signal_handlers(run)
        held, run._held = run._held[:1], []
        run._holding = False
    if held and signal_name is None:
        signal.raise_signal(held[0])  # to the handler the process had before the run


def _end_by_signal(signum: int) -> None:
    finish(status=run_info.INTERRUPTED, signal_name=signal.Signals(signum).name)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def _on_signal(signum: int, frame: Any) -> None:
    run = _active
    if run is not None and run._holding:
        run._held.append(signum)  # acted on once the record being written is complete
        return
    if run is None:  # no run any more: what the process did before the run
        raise KeyboardInterrupt if signum == signal.SIGINT else SystemExit(128 + signum)
    _end_by_signal(signum)


# -- several ranks, walltime warnings (docs/distributed.md) --------------------------------

_launches = 0  # runs started by this process: the n-th run of every rank is the same run


def _rendezvous(run: Run, parent: Path) -> bool:
    """A multi-process run no launcher pinned: rank 0 allocates and publishes the id, the
    other ranks wait for it (`record.ranks`); True when this call created the directory."""
    global _launches
    _launches += 1
    key = run.ranks.launch_key and f"{run.ranks.launch_key}-{_launches}"
    if run.ranks.is_main:
        run.log_id, run.log_dir = layout.allocate(parent)
        if key:
            rank_files.publish_run(parent, key, run.log_id)
            run.rendezvous = (parent, key)
        return True
    timeout = float(run.settings["distributed"]["rank_end_timeout_s"])
    found = rank_files.find_run(parent, key, timeout) if key else None
    if found is None:
        why = (f"no run directory published by rank 0 within {timeout:g} s" if key else
               f"nothing in the environment of {run.ranks.source} identifies this launch")
        raise RunSetupError(
            f"rank {run.ranks.rank} of {run.ranks.world_size} cannot find rank 0's run "
            f"directory under {parent}: {why}; start through an mlxp launcher "
            "(hydra/launcher=mlxp_<scheduler>, mlxpsub), give torchrun --rdzv-id, or pin the "
            "run with +mlxp.logger.forced_log_id=<id>")
    run.log_id = found
    run.log_dir, _ = layout.adopt(parent, found)
    return False


def _rank_info(run: Run, config_dir: Optional[Path]) -> None:
    """`ctx.info` of a rank > 0: its own facts; nothing is written (rank 0 owns info.yaml).

    Its attempt is rank 0's: the RUNNING attempt recorded, or the next one when rank 0 has
    not recorded its start yet."""
    assert run.log_dir is not None
    previous = run_info.read_info(run.log_dir)
    attempt = int(previous.get("attempt") or 0)
    if previous.get("status") != run_info.RUNNING:
        attempt += 1
    facts = process_facts(run.overrides, str(config_dir) if config_dir else None,
                          job_id_from_env(os.environ))
    run.info = {"status": run_info.RUNNING, "log_id": run.log_id, "log_dir": str(run.log_dir),
                "start_time": iso(now()), "attempt": attempt, **facts,
                **run.ranks.as_info()}


def rank_failure(run: Run) -> Optional[BaseException]:
    """After `finish` of a multi-process run: the failure of another rank, if any."""
    err = run.info.get("error")
    if run.info.get("status") == run_info.COMPLETE or not isinstance(err, dict):
        return None
    return RuntimeError(f"rank {err.get('rank')}: {err.get('type')}: {err.get('message')}")


def _record_rank_end(run: Run, status: str, error: Optional[BaseException],
                     signal_name: Optional[str]) -> None:
    assert run.log_dir is not None
    try:
        rank_files.write_rank_end(run.log_dir, run.ranks.rank, {
            "attempt": run.info.get("attempt"), "status": status,
            "error": _error_record(error) if error is not None else None,
            "signal": signal_name, "end_time": iso(now()), "hostname": run.info.get("hostname"),
            "process_id": os.getpid()})
    except OSError as exc:
        log.error("mlxp: rank %s could not record its end in %s: %s", run.ranks.rank,
                  run.log_dir, exc)


def _with_other_ranks(run: Run, status: str, error: Optional[Dict[str, Any]],
                      signal_name: Optional[str]) -> Any:
    """Rank 0's ending combined with the other ranks' (`record.info.combine_rank_ends`)."""
    assert run.log_dir is not None
    timeout = float(run.settings["distributed"]["rank_end_timeout_s"])
    if status == run_info.INTERRUPTED:  # the others are being stopped too: do not linger
        timeout = min(timeout, 10.0)
    others = rank_files.wait_rank_ends(run.log_dir, run.ranks.world_size,
                                       int(run.info.get("attempt") or 1), timeout)
    return run_info.combine_rank_ends(run.ranks.world_size, status, error, signal_name, others)


def _start_ranks_and_warning(run: Run) -> None:
    """Per-rank output files (several ranks), and the walltime warning the job asked for."""
    if run.ranks.multi and run.log_dir is not None:
        try:
            run.rank_output = RankOutput(run.log_dir, run.ranks.rank)
        except OSError as exc:
            log.warning("mlxp: rank %s output stays on the job's streams: %s", run.ranks.rank,
                        exc)
    job = run.info.get("scheduler")
    name = job.get("name") if isinstance(job, dict) else None
    try:
        run.warning = walltime.plan(os.environ, name)
    except (ValueError, AttributeError) as exc:
        log.error("mlxp: walltime warning not set up: %s", exc)
        run.warning = None
    if run.warning is not None and threading.current_thread() is threading.main_thread():
        walltime.arm(run.warning, 0.0)


def _on_warning(signum: int, frame: Any) -> None:
    """The scheduler's walltime (or preemption) warning; see `mlxp_core.run.walltime`."""
    run = _active
    if run is None or run.finished or run.warned or run._holding:
        return
    run.warned = True
    walltime.ignore_later(signum)
    run._handlers[signum] = signal.SIG_IGN  # also after the run: copies keep arriving
    warning = run.warning
    if not run.ranks.is_main or run.log_dir is None or warning is None:
        return  # rank 0 requeues the job; this rank's end comes as the job stops
    run._holding = True  # the requeue stops the job (SIGTERM): record first
    name = signal.Signals(signum).name
    why = walltime.reason(warning, time.monotonic() - run.started)
    log.warning("mlxp: run %s: %s warning (%s): checkpoint and requeue", run.log_id, why, name)
    outcome: Dict[str, Any] = {"reason": why, "signal": name}
    outcome.update(walltime.run_hooks(run.checkpoint_hooks,
                                      warning.before_s * (1 - walltime.HOOK_MARGIN)))
    outcome.update(walltime.requeue(warning, why, run.info, run.log_dir))
    exit_status = outcome.pop("exit_status", None)
    run.interruption = outcome
    run._holding = False
    finish(status=run_info.INTERRUPTED, signal_name=name)
    raise SystemExit(exit_status if exit_status is not None else 128 + signum)


def _ending_signals(run: Run) -> List[int]:
    """SIGTERM, SIGINT, and the signal the job's scheduler sends before a kill (SGE: USR2)."""
    signals = [signal.SIGTERM, signal.SIGINT]
    job = run.info.get("scheduler")
    if isinstance(job, dict) and job.get("name"):
        signals += [getattr(signal, name) for name in get_scheduler(job["name"]).notify_signals]
    return signals


def _install_signal_handlers(run: Run) -> None:
    """Install `_on_signal` for the run's ending signals (those not installed yet)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _ending_signals(run):
        if signum not in run._handlers:
            run._handlers[signum] = signal.signal(signum, _on_signal)
    warning = run.warning
    if warning is not None and warning.signum not in run._handlers:
        run._handlers[warning.signum] = signal.signal(warning.signum, _on_warning)


def _restore_signal_handlers(run: Run) -> None:
    for signum, handler in run._handlers.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    run._handlers.clear()
