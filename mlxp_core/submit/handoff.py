"""What `mlxpsub` hands to the launcher it runs, and what the launcher hands back.

`mlxpsub` runs each python command of a batch script here, with `hydra/launcher=mlxp_<x>`.
It passes what the script says beyond the command (directives, setup and teardown lines, a
launcher prefix like `srun`, the interpreter) in a JSON file named by `MLXPSUB_SPEC`, and
the launcher appends what it submitted to the report file the spec names. Both sides import
this module; nothing else reads these files.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from mlxp_core.record.atomic import write_text_atomic

SPEC_ENV = "MLXPSUB_SPEC"


@dataclass
class HandOff:
    """The spec of one command of a batch script."""

    directives: List[str] = field(default_factory=list)
    setup: List[str] = field(default_factory=list)
    teardown: List[str] = field(default_factory=list)
    launcher_words: List[str] = field(default_factory=list)  # srun, mpirun -n 4, env X=1 ...
    python: Optional[str] = None  # the interpreter the script names (python3, /opt/py/bin/python)
    interpreter_flags: Optional[List[str]] = None  # python -u ... (None: not handed over)
    report: Optional[str] = None  # where the launcher appends what it submitted
    # the sweep every command of the script is part of: mlxpsub's id and command line
    sweep_id: Optional[str] = None
    sweep_command: Optional[str] = None


@dataclass
class Submitted:
    """One job the launcher submitted (or failed to), as reported back to `mlxpsub`."""

    log_id: Optional[int]
    job_id: Optional[str]
    error: Optional[str]
    run_dir: Optional[str] = None


def write_spec(path: Path, spec: HandOff) -> Dict[str, str]:
    """Write `spec` to `path`; return the environment entry that names it."""
    path.write_text(json.dumps(asdict(spec)), encoding="utf-8")
    return {SPEC_ENV: str(path)}


def read_spec(environ: Mapping[str, str] = os.environ) -> Optional[HandOff]:
    """The spec `mlxpsub` handed to this process, if any."""
    path = environ.get(SPEC_ENV)
    if not path:
        return None
    with open(path, encoding="utf-8") as handle:
        data: Dict[str, Any] = json.load(handle)
    return HandOff(**data)


def without_spec(environ: Mapping[str, str]) -> Dict[str, str]:
    """`environ` minus the hand-off (a submitted job must not see it)."""
    return {k: v for k, v in environ.items() if k != SPEC_ENV}


def append_report(path: Path, jobs: List[Submitted]) -> None:
    """Add `jobs` to the report at `path` (one launcher call after another)."""
    done = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    done += [asdict(j) for j in jobs]
    write_text_atomic(path, json.dumps(done))


def read_report(path: Path) -> List[Submitted]:
    if not path.is_file():
        return []
    return [Submitted(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
