"""`mlxp status [PARENT_LOG] [TARGET]`: the runs of each sweep and what the scheduler says.

Runs grouped by sweep, counts by status, and for every run not finished the scheduler's own
state (PENDING with its reason, RUNNING on which node for how long); ended runs that left the
queue without recording their end are recorded then (FAILED with the scheduler's reason, see
`mlxp_core.submit.truth`). One listing call per scheduler per refresh, at most one
accounting call. `--watch` refreshes until every run has ended; `--json` for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import Any, Dict

from mlxp_core.cli import selection as sel

ORDER = ("SUBMITTED", "RUNNING", "COMPLETE", "FAILED", "INTERRUPTED", "SUBMIT_FAILED",
         "DRY_RUN")
SHOWN_PER_SWEEP = 20


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="runs of each sweep, with the scheduler's state of those not finished",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sel.add_arguments(parser, "a sweep id (or `last`), run ids (3,5-9) or a Reader query "
                              "(default: every run)")
    parser.add_argument("--all", action="store_true",
                        help="list every run, COMPLETE ones too, without a limit per sweep")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--watch", nargs="?", type=float, const=10.0, metavar="SECONDS",
                        help="refresh every SECONDS (default 10) until every run has ended")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the statuses (auto: on a terminal only)")
    parser.set_defaults(func=main)


def gather(args: argparse.Namespace) -> Dict[str, Any]:
    """One refresh: the runs, what each scheduler says, grouped by sweep (a JSON-able dict)."""
    from mlxp_core.submit.truth import refresh

    found = sel.select(args.where)
    started = time.perf_counter()
    facts = refresh(found.parent, found.runs)
    sweeps: Dict[str, Dict[str, Any]] = {}
    for run in found.runs:
        key = run.sweep or "(no sweep recorded)"
        sweep = sweeps.setdefault(key, {
            "id": run.sweep, "command": run.sweep_command, "schedulers": set(), "runs": []})
        if run.scheduler:
            sweep["schedulers"].add(run.scheduler)
        live = facts.live.get(run.log_id)
        ended = facts.ended.get(run.log_id)
        entry: Dict[str, Any] = {"log_id": run.log_id, "status": run.status,
                                 "job_id": run.job_id, "task": run.task,
                                 "overrides": run.overrides}
        if live is not None:
            entry["scheduler"] = {"state": live.state, "phase": live.phase,
                                  "reason": live.reason, "node": live.node,
                                  "elapsed_s": live.elapsed_s, "job": live.own_id}
        elif ended is not None:
            entry["scheduler"] = {"state": ended.state, "phase": "ENDED",
                                  "reason": ended.reason, "node": ended.node,
                                  "elapsed_s": ended.elapsed_s, "job": ended.own_id,
                                  "time_limit_s": ended.time_limit_s,
                                  "max_rss_mb": ended.max_rss_mb}
        reason = run.reason or (ended.reason if ended is not None else None)
        if reason:
            entry["reason"] = reason
        if run.error:
            entry["error"] = run.error
        if run.signal:
            entry["signal"] = run.signal
        if run.log_id in facts.recorded:
            entry["recorded_now"] = facts.recorded[run.log_id]
        sweep["runs"].append(entry)
    out = []
    for sweep in sorted(sweeps.values(), key=lambda s: s["runs"][0]["log_id"]):
        counts = Counter(r["status"] for r in sweep["runs"])
        sweep["counts"] = {s: counts[s] for s in (*ORDER, *sorted(counts)) if counts.get(s)}
        sweep["schedulers"] = sorted(sweep["schedulers"])
        out.append(sweep)
    return {"parent_log": str(found.parent), "target": found.target, "sweeps": out,
            "runs": len(found.runs), "calls": facts.calls, "unavailable": facts.unavailable,
            "recorded": {str(k): v for k, v in facts.recorded.items()},
            "accounted": facts.accounted, "seconds": round(time.perf_counter() - started, 3),
            "live": len(facts.live)}


def _detail(entry: Dict[str, Any]) -> str:
    sched = entry.get("scheduler") or {}
    if sched.get("phase") == "PENDING":
        why = sched.get("reason")
        return f"{sched.get('state')}" + (f" ({why})" if why and why != "None" else "")
    if sched.get("phase") == "RUNNING":
        node = f" on {sched['node']}" if sched.get("node") else ""
        return f"{sched.get('state')}{node} for {sel.duration(sched.get('elapsed_s')) or '?'}"
    parts = []
    if entry.get("reason") and entry["reason"] not in ("COMPLETED", "FAILED"):
        parts.append(entry["reason"])
    if entry.get("error"):
        parts.append(entry["error"])
    elif entry.get("signal"):
        parts.append(f"signal {entry['signal']}")
    if sched.get("state") and not parts:
        parts.append(f"{sched['state']}")
    text = "; ".join(parts)
    return text if len(text) <= 110 else text[:107] + "..."


def render(data: Dict[str, Any], show_all: bool, colour: bool) -> str:
    lines = []
    for sweep in data["sweeps"]:
        where = ",".join(sweep["schedulers"]) or "local"
        lines.append(sel.paint(f"sweep {sweep['id'] or '(none)'}", "", colour)
                     + f"  [{where}]  {sweep['command'] or ''}".rstrip())
        counts = ", ".join(sel.paint(f"{n} {s}", s, colour) for s, n in sweep["counts"].items())
        lines.append(f"  {len(sweep['runs'])} runs: {counts}")
        shown = [r for r in sweep["runs"] if show_all or r["status"] != "COMPLETE"]
        limit = None if show_all else SHOWN_PER_SWEEP
        if shown:
            lines.append(f"  {'run':>6}  {'status':<13} {'job':<14} detail")
        for entry in shown[:limit]:
            job = entry.get("job_id") or ""
            if entry.get("task") is not None and job:
                job = f"{job}[{entry['task']}]"
            status = entry["status"]
            now = " (recorded now)" if entry.get("recorded_now") else ""
            lines.append(f"  {entry['log_id']:>6}  {sel.paint(f'{status:<13}', status, colour)} "
                         f"{job:<14} {_detail(entry)}{now}".rstrip())
        if limit is not None and len(shown) > limit:
            lines.append(f"  ... {len(shown) - limit} more (--all lists them)")
    if not data["sweeps"]:
        lines.append(f"no runs in {data['parent_log']}"
                     + (f" matching {data['target']!r}" if data["target"] else ""))
    calls = ", ".join(f"{n} {k}" for k, n in sorted(data["calls"].items())) or "none"
    tail = [f"{data['runs']} runs, {data['live']} queued or running; scheduler calls: {calls}"]
    if data["recorded"]:
        tail.append(f"recorded {len(data['recorded'])} ended jobs: "
                    + ", ".join(f"run {k} {v}" for k, v in list(data["recorded"].items())[:10]))
    for name, why in data["unavailable"].items():
        tail.append(f"{name}: {why}; states shown are the runs' own records")
    lines += tail
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    colour = sel.use_colour(forced={"always": True, "never": False}.get(args.color))
    try:
        while True:
            data = gather(args)
            if args.json:
                print(json.dumps(data, default=str))
            else:
                if args.watch and sys.stdout.isatty():
                    print("\033[H\033[2J", end="")
                print(render(data, args.all, colour), flush=True)
            if not args.watch or data["live"] == 0:
                return 0
            time.sleep(max(1.0, args.watch))
    except sel.SelectionError as exc:
        return sel.fail("status", str(exc))
    except KeyboardInterrupt:
        return 130
