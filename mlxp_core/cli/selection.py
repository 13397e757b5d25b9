"""Which runs an `mlxp status/cancel/rerun/logs` command is about (not a subcommand itself).

Arguments: `[PARENT_LOG] [TARGET]`. PARENT_LOG is the directory holding the run directories
(default `./logs`); TARGET is one of

* a sweep id (`20261207-101502-3fa1`, or a unique prefix of one; `last`: the newest sweep),
* run ids: `3`, `3,5-9`,
* a Reader query: `"info.status == 'FAILED' & config.optimizer.lr > 0.01"` (docs/reader.md),
* nothing: every run.

A single argument that is an existing directory is PARENT_LOG. Runs are listed through the
Reader, whose index is cached next to the logs (`<parent>/.mlxp/`), so listing 10,000 runs
that did not change reads no run directory.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Sequence

IDS = re.compile(r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*")
SWEEP_LIKE = re.compile(r"\d{8}-\d{6}(?:-[0-9a-f]{0,4})?|last")
DEFAULT_PARENT = "./logs"


class SelectionError(Exception):
    """The arguments name no runs (or a bad query): one line for the user."""


@dataclass
class Selection:
    parent: Path
    target: str
    kind: str  # "all", "ids", "sweep", "query"
    runs: List[Any]  # truth.RunView, ordered by log id
    reader: Any


def add_arguments(parser: argparse.ArgumentParser, target_help: str) -> None:
    parser.add_argument("where", nargs="*", metavar="[PARENT_LOG] TARGET",
                        help=f"PARENT_LOG: the logs directory (default {DEFAULT_PARENT}); "
                             f"TARGET: {target_help}")


def split_where(where: Sequence[str]) -> tuple[str, str]:
    """(PARENT_LOG, TARGET) from the positional arguments."""
    if len(where) > 2:
        raise SelectionError(f"expected [PARENT_LOG] [TARGET], got {len(where)} arguments: "
                             f"{' '.join(where)} (quote a query: \"info.status == 'FAILED'\")")
    if len(where) == 2:
        return where[0], where[1]
    if len(where) == 1 and os.path.isdir(where[0]) and not IDS.fullmatch(where[0]):
        return where[0], ""
    return DEFAULT_PARENT, where[0] if where else ""


def parse_ids(text: str) -> List[int]:
    ids: List[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        lo, hi = int(first), int(last or first)
        if hi < lo:
            raise SelectionError(f"run id range {part!r} goes backwards")
        ids.extend(range(lo, hi + 1))
    return ids


def select(where: Sequence[str], query_only: bool = False) -> Selection:
    """The runs named by the positional arguments (see the module docstring)."""
    import logging

    from mlxp_core.reader import Reader
    from mlxp_core.reader.errors import ReaderError
    from mlxp_core.submit.truth import KEYS, views

    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # runs cancelled before they started have no config.yaml: not a problem here
        logging.getLogger("mlxp.reader").setLevel(logging.ERROR)
    parent_text, target = split_where(where)
    parent = Path(parent_text).resolve()
    if not parent.is_dir():
        raise SelectionError(f"{parent_text}: no such logs directory (give PARENT_LOG, e.g. "
                             f"`mlxp status ./logs`)")
    try:
        reader = Reader(str(parent))
    except (OSError, ReaderError) as exc:
        raise SelectionError(f"cannot read the runs of {parent}: {exc}") from None
    kind, query = "all", ""
    target = target.strip()
    if target and not query_only and _looks_like_sweep(target):
        kind = "sweep"
    elif target and IDS.fullmatch(target) and not query_only:
        kind = "ids"
    elif target:
        kind, query = "query", target
    try:
        columns = reader.select(KEYS, query)
    except (ReaderError, ValueError, SyntaxError) as exc:
        raise SelectionError(f"query {target!r}: {exc}") from None
    runs = views(columns)
    if kind == "ids":
        wanted = set(parse_ids(target))
        runs = [r for r in runs if r.log_id in wanted]
        missing = sorted(wanted - {r.log_id for r in runs})
        if missing and not runs:
            raise SelectionError(f"no run {_ids_text(missing)} in {parent}")
    elif kind == "sweep":
        sweeps = sorted({r.sweep for r in runs if r.sweep})
        if target == "last":
            chosen = sweeps[-1:] if sweeps else []
        else:
            chosen = [s for s in sweeps if s == target] or [s for s in sweeps
                                                           if s.startswith(target)]
        if len(chosen) != 1:
            near = ", ".join(sweeps[-5:]) or "none"
            what = "no" if not chosen else f"{len(chosen)} sweeps match:"
            raise SelectionError(f"{what} sweep {target!r} in {parent}"
                                 f"{' ' + ', '.join(chosen[:5]) if chosen else ''}; "
                                 f"latest sweeps: {near} (`mlxp status {parent_text}` lists "
                                 "them)")
        target = chosen[0]
        runs = [r for r in runs if r.sweep == target]
    return Selection(parent, target, kind, runs, reader)


def _looks_like_sweep(target: str) -> bool:
    """A sweep id or a prefix of one that cannot be a run id range (`20261207-1015`)."""
    return bool(SWEEP_LIKE.fullmatch(target)) or bool(
        re.fullmatch(r"\d{8}-\d{1,6}", target) and len(target) > 12)


def ranges(ids: Sequence[int]) -> str:
    """`1-4,7,9-10`: run ids as the IDS argument reads them."""
    out: List[str] = []
    for log_id in sorted(ids):
        if out and "-" in out[-1] and int(out[-1].split("-")[1]) == log_id - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{log_id}"
        elif out and "-" not in out[-1] and int(out[-1]) == log_id - 1:
            out[-1] = f"{out[-1]}-{log_id}"
        else:
            out.append(str(log_id))
    return ",".join(out)


def _ids_text(ids: Sequence[int]) -> str:
    return ",".join(str(i) for i in ids[:10]) + ("..." if len(ids) > 10 else "")


def fail(command: str, message: str) -> int:
    print(f"mlxp {command}: error: {message}", file=sys.stderr)
    return 2


# -- terminal output --------------------------------------------------------------------------

COLOURS = {"COMPLETE": "32", "FAILED": "31", "INTERRUPTED": "33", "RUNNING": "36",
           "SUBMITTED": "34", "SUBMIT_FAILED": "35", "PENDING": "34", "DRY_RUN": "90"}


def use_colour(stream: Any = None, forced: Optional[bool] = None) -> bool:
    """Colour on a terminal only (and never with NO_COLOR set)."""
    if forced is not None:
        return forced
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


def paint(text: str, word: str, colour: bool) -> str:
    code = COLOURS.get(word)
    return f"\033[{code}m{text}\033[0m" if colour and code else text


def duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:d}:{secs:02d}"
    return f"{days}-{text}" if days else text
