"""`job_return.pkl`: how a job hands its status and return value back to a waiting head."""

from __future__ import annotations

import contextlib
import io
import logging
import pickle
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import cloudpickle
from hydra.core.utils import JobReturn

from mlxp_core.rundir import write_bytes_atomic

FILE = "job_return.pkl"
log = logging.getLogger("mlxp")


def dump(directory: Path, status: str, value: Any, **job: Any) -> None:
    """Write `{status, value, **job}`; a value that cannot be pickled is kept as its repr.

    `job` may carry JobReturn fields of the job (cfg, hydra_cfg, working_dir, task_name).
    """
    record: Dict[str, Any] = {"status": status, "value": value, **job}
    try:
        data = cloudpickle.dumps(record)
    except Exception as exc:  # unpicklable return value or exception
        log.warning("mlxp: the job's return value cannot be pickled (%s); keeping its repr", exc)
        record["value"] = RuntimeError(repr(value)) if status == "FAILED" else repr(value)
        data = cloudpickle.dumps(record)
    write_bytes_atomic(directory / FILE, data)


def load(directory: Path) -> Optional[Dict[str, Any]]:
    path = directory / FILE
    if not path.is_file():
        return None
    with open(path, "rb") as handle:
        record: Dict[str, Any] = pickle.load(handle)
    return record


def outcome(job_return: JobReturn) -> Tuple[Optional[BaseException], Any]:
    """(the task's exception or None, its return value) through JobReturn's public getter.

    The getter re-raises a failed task's exception and writes a line on stderr; both are
    caught here.
    """
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            return None, job_return.return_value
        except BaseException as exc:  # the task's own exception, whatever it is
            return exc, None
