"""``mlxp report``: one self-contained HTML page about the runs of a parent_log.

The page holds everything inline (CSS, a small sorting script, figures as data: URIs) and
declares a Content-Security-Policy that forbids any other source, so it can be copied off a
cluster and opened anywhere, offline. It is built as one string and written through a
temporary file renamed over the output: a failure never leaves a half-written page.

Cost: the Reader's index (cached: a tenth of a second for 10,000 unchanged runs), one parse of
each metrics file asked for, one pandas groupby per metric, and one matplotlib figure per
metric (about 0.2 s each); the table and the run lists are plain string building.
"""

from __future__ import annotations

import base64
import html
import logging
import math
import os
import shlex
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from mlxp_core import __version__
from mlxp_core.record.atomic import write_bytes_atomic
from mlxp_core.record.layout import STDERR
from mlxp_core.report import groups as G
from mlxp_core.report.errors import ReportError, need_matplotlib
from mlxp_core.settings import override_key

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("mlxp.report")

PROBLEM_STATUSES = ("FAILED", "INTERRUPTED", "SUBMIT_FAILED")
STDERR_TAIL_BYTES = 64 * 1024
MAX_LAUNCHES = 50
DASH = "\u2013"


@dataclass
class ReportResult:
    """What was written: for the command's one-line summary and for tests."""

    path: str
    runs: int
    groups: int
    metrics: list[str]
    failures: int
    notes: list[str] = field(default_factory=list)
    bytes: int = 0


# ---------------------------------------------------------------------------------------------
# Reading facts from the runs frame
# ---------------------------------------------------------------------------------------------


def _col(runs: pd.DataFrame, name: str) -> list[Any]:
    """A column as Python values with missing values as None (absent column: all None)."""
    import pandas as pd

    if name not in runs.columns:
        return [None] * len(runs)
    out = []
    for v in runs[name].tolist():
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        else:
            out.append(v)
    return out


def _fmt(v: Optional[float]) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return DASH
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _tail(path: str, lines: int) -> Optional[str]:
    """The last ``lines`` lines of a file (reading at most its last 64 KiB), or None."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - STDERR_TAIL_BYTES))
            data = f.read()
    except OSError:
        return None
    text = data.decode("utf-8", errors="replace").rstrip("\n")
    if not text:
        return None
    return "\n".join(text.split("\n")[-lines:])


def _is_override(token: str) -> bool:
    return "=" in token and not token.startswith("-")


def rerun_command(command: Optional[str], overrides: Optional[Sequence[str]],
                  log_id: int) -> Optional[tuple[str, str]]:
    """(rerun as a new run, resume in the same run directory) for one run.

    The recorded command may be the whole sweep (``python main.py lr=0.1,1 seed=1,2``): its
    user overrides are replaced by this run's own ``overrides``; ``hydra``/``mlxp`` overrides
    (a launcher choice, a parent_log) are kept, except ``hydra.mode`` that a job adds.
    """
    if not command:
        return None
    try:
        tokens = shlex.split(command)
    except ValueError:
        return None
    head, kept = [], []
    for token in tokens:
        if not _is_override(token):
            if not kept and not any(_is_override(t) for t in head):
                head.append(token)
            continue
        key = override_key(token)
        if key.startswith(("hydra", "mlxp.")) and key != "hydra.mode":
            kept.append(token)
    point = list(overrides) if overrides is not None else [
        t for t in tokens if _is_override(t) and t not in kept
        and not override_key(t).startswith("hydra.mode")]
    new = shlex.join([*head, *kept, *point])
    resume = shlex.join([*head, *kept, *point, f"+mlxp.logger.forced_log_id={log_id}"])
    return new, resume


def _launch_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Which launch (sweep) a run belongs to: its recorded sweep id (`info.sweep`). Runs of
    older versions carry none: a local sweep is then one process (host, pid, command);
    cluster jobs are grouped by scheduler and array script, else by the minute they were
    submitted from one working directory."""
    if row.get("sweep_id"):
        return ("sweep", row["sweep_id"], row.get("sweep_command") or row.get("command") or "")
    if row.get("submit_scheduler"):
        when = row.get("array_script") or str(row.get("submit_time") or "")[:16]
        return ("submit", row["submit_scheduler"], when, row.get("work_dir"))
    if row.get("command"):
        return ("local", row.get("hostname"), row.get("process_id"), row["command"])
    return ("unknown",)


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------

CSS = """
:root{--fg:#1d2330;--mut:#5b6475;--bd:#d8dce3;--bg:#fff;--hl:#fff4c2;--acc:#2456a6}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--fg);background:var(--bg);margin:0 auto;max-width:1200px;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:28px 0 8px;
border-bottom:1px solid var(--bd);padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.sub,.note,figcaption{color:var(--mut)}nav a{margin-right:14px;color:var(--acc)}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid var(--bd);padding:3px 8px;
text-align:left;vertical-align:top}td.num{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer;background:#f3f5f8;user-select:none;white-space:nowrap}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
tr.best td{background:var(--hl)}td.hi{font-weight:700}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;margin:0 6px 4px 0;
background:#eef1f5}.badge.COMPLETE{background:#dcf2e0}.badge.FAILED,.badge.SUBMIT_FAILED
{background:#f8d7d7}.badge.INTERRUPTED{background:#fbe7c8}.badge.RUNNING{background:#dde8fa}
figure{margin:10px 0 22px}figure img{max-width:100%;height:auto;border:1px solid var(--bd)}
pre{background:#f6f7f9;border:1px solid var(--bd);padding:6px 8px;overflow-x:auto;
white-space:pre-wrap;word-break:break-all;margin:4px 0}code{font-size:12.5px}
.fail{border-left:4px solid #c94a4a;padding:2px 0 2px 12px;margin:12px 0}
.fail.INTERRUPTED{border-color:#d99a2b}dl{display:grid;grid-template-columns:max-content 1fr;
gap:2px 16px}dt{color:var(--mut)}dd{margin:0}.wrap{overflow-x:auto}
"""

# Sorts a table on a click (or Enter) on a header: numbers numerically, text naturally, empty
# cells last; a second click reverses. Cells carry their raw value in data-v.
SCRIPT = """
(function () {
  "use strict";
  function key(cell) { return cell ? cell.getAttribute("data-v") : ""; }
  function sortBy(table, col, th) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var numeric = th.getAttribute("data-type") === "num";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (x === "" || y === "") { return (x === "") - (y === ""); }
      var d = numeric ? parseFloat(x) - parseFloat(y)
                      : x.localeCompare(y, undefined, {numeric: true});
      return asc ? d : -d;
    });
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r); });
    body.appendChild(frag);
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, col, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter") { sortBy(table, col, th); }
      });
    });
  });
})();
"""

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'")


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _summary_section(runs: pd.DataFrame, parent_log: str, reader_problems: Sequence[Any],
                     sweeps_dirs: int) -> str:
    n = len(runs)
    statuses = Counter(s if s is not None else "unknown" for s in _col(runs, "info.status"))
    badges = "".join(f'<span class="badge {_e(s)}">{_e(s)}: {c}</span>'
                     for s, c in sorted(statuses.items(), key=lambda x: (-x[1], str(x[0]))))
    durations = [float(d) for d in _col(runs, "info.duration_s") if d is not None]
    durations = [d for d in durations if math.isfinite(d)]
    compute = (f"Total compute time: <b>{_duration(sum(durations))}</b> "
               f"(recorded by {len(durations)} of {n} runs: runs record it when they end)."
               if durations else "No run recorded a duration yet (runs record it when they end).")
    # launches
    fields = {
        "sweep_id": _col(runs, "info.sweep.id"), "sweep_command": _col(runs, "info.sweep.command"),
        "command": _col(runs, "info.command"), "hostname": _col(runs, "info.hostname"),
        "process_id": _col(runs, "info.process_id"),
        "submit_scheduler": _col(runs, "info.submit.scheduler"),
        "submit_time": _col(runs, "info.submit.submit_time"),
        "array_script": _col(runs, "info.submit.array_script"),
        "work_dir": _col(runs, "info.work_dir"), "start": _col(runs, "info.start_time"),
        "status": _col(runs, "info.status"), "duration": _col(runs, "info.duration_s"),
    }
    launches: dict[tuple[Any, ...], list[int]] = {}
    for i in range(n):
        row = {k: v[i] for k, v in fields.items()}
        launches.setdefault(_launch_key(row), []).append(i)
    ids = [int(i) for i in runs["log_id"]]
    rows = []
    for key, members in list(launches.items())[:MAX_LAUNCHES]:
        if key[0] == "sweep":
            what = f"sweep <code>{_e(key[1])}</code>: <code>{_e(key[2])}</code>"
        elif key[0] == "submit":
            what = f"jobs submitted to {key[1]}" + (f" ({key[2]})" if key[2] else "")
        elif key[0] == "local":
            what = f"<code>{_e(key[3])}</code>"
        else:
            what = "not recorded (runs not started, or unreadable info.yaml)"
            what = _e(what)
        st = Counter(fields["status"][i] or "unknown" for i in members)
        starts = sorted(str(fields["start"][i]) for i in members if fields["start"][i])
        secs = sum(float(fields["duration"][i]) for i in members
                   if fields["duration"][i] is not None
                   and math.isfinite(float(fields["duration"][i])))
        id_list = [ids[i] for i in members]
        span = (f"{min(id_list)}{DASH}{max(id_list)}" if len(id_list) > 1 else str(id_list[0]))
        rows.append(f"<tr><td>{what}</td><td>{_e(span)}</td><td class=num>{len(members)}</td>"
                    f"<td>{_e(', '.join(f'{s} {c}' for s, c in sorted(st.items())))}</td>"
                    f"<td>{_e(starts[0][:19] if starts else DASH)}</td>"
                    f"<td class=num>{_e(_duration(secs) if secs else DASH)}</td></tr>")
    more = (f'<p class="note">and {len(launches) - MAX_LAUNCHES} more launches.</p>'
            if len(launches) > MAX_LAUNCHES else "")
    launch_html = (
        '<h3>Per launch</h3><p class="note">Runs are grouped by their recorded sweep id (runs '
        "of older versions: by the process that ran them, or by scheduler and submission time); "
        "<code>mlxp status</code> shows the same sweeps. "
        f"<code>{_e(parent_log)}/.sweeps</code> holds {sweeps_dirs} Hydra sweep record(s).</p>"
        '<div class="wrap"><table><thead><tr><th>launch</th><th>log ids</th><th>runs</th>'
        "<th>statuses</th><th>first start</th><th>compute</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table></div>" + more)
    warnings = [p for p in reader_problems if getattr(p, "severity", "") == "warning"]
    problems = ""
    if warnings:
        items = "".join(f"<li><code>{_e(p.log_id)}/{_e(p.file)}</code>: {_e(p.message)}</li>"
                        for p in warnings[:20])
        extra = f"<li>and {len(warnings) - 20} more</li>" if len(warnings) > 20 else ""
        problems = (f"<h3>Problems reading the runs ({len(warnings)})</h3>"
                    f'<ul class="note">{items}{extra}</ul>')
    return (f'<section id="summary"><h2>Summary</h2><p>{n} run(s) selected. {badges}</p>'
            f"<p>{compute}</p>{launch_html}{problems}</section>")


def _figure_html(summary: G.MetricSummary, image: bytes, fmt: str, grouping: G.Grouping,
                 shown: Sequence[int], runs_total: int, ranked_by: str) -> str:
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    src = f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"
    runs_with = sum(s.runs for s in summary.stats.values())
    notes = [f"mean over the runs of each group at each {summary.x_label.split(' ')[0]}"]
    if not summary.curves:
        notes.insert(0, "no finite value to draw: every value is NaN or ±inf")
    if summary.band == "std":
        notes.append("band: ± one standard deviation where two or more runs have a value")
    elif summary.band == "minmax":
        notes.append("band: min to max over runs where two or more runs have a value")
    singles = sum(1 for g in shown if summary.stats.get(g) and summary.stats[g].runs == 1)
    if singles:
        notes.append(f"{singles} group(s) of one run: no band")
    if runs_with < runs_total:
        notes.append(f"from the {runs_with} of {runs_total} selected runs that have "
                     f"{summary.name}")
    ended = sum(s.nonfinite for s in summary.stats.values())
    if summary.dropped_points or ended:
        notes.append("NaN and ±inf values are left out of the curves"
                     + (f" ({summary.dropped_points} ±inf point(s))"
                        if summary.dropped_points else ""))
    if ended:
        notes.append(f"{ended} run(s) ended with NaN/inf (see the table)")
    with_data = [g for g in range(len(grouping)) if g in summary.curves]
    if len(with_data) > len([g for g in shown if g in summary.curves]):
        notes.append(f"showing {len([g for g in shown if g in summary.curves])} of "
                     f"{len(with_data)} groups: the best by {ranked_by}")
    if summary.logy:
        notes.append("log scale: the values span two decades or more")
    alt = f"{summary.name} per group"
    return (f'<figure id="fig-{_e(summary.name)}" data-metric="{_e(summary.name)}">'
            f'<h3>{_e(summary.name)}</h3><img alt="{_e(alt)}" src="{src}">'
            f"<figcaption>{_e('; '.join(notes))}.</figcaption></figure>")


def _table_section(grouping: G.Grouping, summaries: Sequence[G.MetricSummary],
                   best: Sequence[tuple[G.MetricSummary, int]], statuses: Sequence[Any],
                   runs: pd.DataFrame) -> str:
    ids = [int(i) for i in runs["log_id"]]
    status_of = dict(zip(ids, statuses))
    best_rows = {g for _, g in best}
    best_cells = {(s.name, g) for s, g in best}
    heads = [f'<th data-type="{"num" if _numeric_key(grouping, k) else "text"}">{_e(s)}</th>'
             for k, s in enumerate(grouping.short)] or ['<th data-type="text">group</th>']
    heads.append('<th data-type="num">runs</th><th data-type="num">complete</th>')
    for s in summaries:
        arrow = "lower is better" if s.direction == "min" else "higher is better"
        heads.append(f'<th data-type="num" title="{_e(arrow)}">final {_e(s.name)}</th>'
                     f'<th data-type="num" title="best point of the mean curve; {_e(arrow)}">'
                     f"best {_e(s.name)}</th>")
    body = []
    for g in range(len(grouping)):
        cells = []
        if grouping.keys:
            for v, text in zip(grouping.values[g], grouping.shown(g)):
                raw = "" if v is G._MISSING else (str(v) if not isinstance(v, bool) else text)
                cells.append(f'<td data-v="{_e(raw)}">{_e(text)}</td>')
        else:
            cells.append('<td data-v="all runs">all runs</td>')
        members = grouping.runs[g]
        complete = sum(status_of.get(i) == "COMPLETE" for i in members)
        cells.append(f'<td class=num data-v="{len(members)}">{len(members)}</td>'
                     f'<td class=num data-v="{complete}">{complete}</td>')
        for s in summaries:
            stat = s.stats.get(g)
            if stat is None:
                cells.append('<td data-v=""></td><td data-v=""></td>')
                continue
            hi = ' hi' if (s.name, g) in best_cells else ""
            extra = []
            if stat.runs < len(members):
                extra.append(f"{stat.runs} of {len(members)} runs")
            if stat.nonfinite:
                extra.append(f"{stat.nonfinite} ended NaN/inf")
            suffix = f' <span class="note">({_e(", ".join(extra))})</span>' if extra else ""
            fv = "" if not math.isfinite(stat.final) else repr(stat.final)
            bv = "" if not math.isfinite(stat.best) else repr(stat.best)
            star = " ★" if hi else ""
            cells.append(f'<td class="num{hi}" data-v="{fv}">{_fmt(stat.final)}{star}{suffix}'
                         f'</td><td class="num" data-v="{bv}" title="at x = '
                         f'{_fmt(stat.best_x)}">{_fmt(stat.best)}</td>')
        cls = ' class="best"' if g in best_rows else ""
        body.append(f"<tr{cls} data-group=\"{g}\">{''.join(cells)}</tr>")
    legend = "; ".join(
        f"★ best by final {s.name} ({'lowest' if s.direction == 'min' else 'highest'}): "
        f"{grouping.label(g)}" for s, g in best)
    return ('<section id="groups"><h2>Groups</h2>'
            f'<p class="note">{len(grouping)} group(s) by '
            f"{_e(', '.join(grouping.keys) or 'nothing (one group of every run)')}. final = mean "
            "over the group's runs of each run's last value; best = best point of the mean "
            "curve (hover for its x). Click a header to sort."
            + (f" {_e(legend)}." if legend else "") + "</p>"
            '<div class="wrap"><table class="sortable" id="group-table"><thead><tr>'
            + "".join(heads) + "</tr></thead><tbody>" + "".join(body)
            + "</tbody></table></div></section>")


def _numeric_key(grouping: G.Grouping, k: int) -> bool:
    values = [v[k] for v in grouping.values if v[k] is not G._MISSING]
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                for v in values)


def _failures_section(runs: pd.DataFrame, stderr_lines: int, max_failures: int) -> str:
    statuses = _col(runs, "info.status")
    picked = [i for i, s in enumerate(statuses) if s in PROBLEM_STATUSES]
    if not picked:
        return ('<section id="failures"><h2>Failed and interrupted runs</h2>'
                "<p>None of the selected runs failed or was interrupted.</p></section>")
    ids = [int(i) for i in runs["log_id"]]
    dirs = _col(runs, "log_dir")
    cols = {k: _col(runs, f"info.{k}") for k in (
        "error.type", "error.message", "error.traceback", "signal", "submit.error", "command",
        "overrides", "work_dir", "end_time")}
    counts = Counter(statuses[i] for i in picked)
    out = ['<section id="failures"><h2>Failed and interrupted runs</h2><p>'
           + ", ".join(f"{c} {_e(s)}" for s, c in sorted(counts.items())) + ".</p>"]
    for i in picked[:max_failures]:
        status = statuses[i]
        if status == "INTERRUPTED":
            what = f"interrupted by {cols['signal'][i] or 'a signal (not recorded)'}"
        elif status == "SUBMIT_FAILED":
            what = f"submission failed: {cols['submit.error'][i] or '(no message recorded)'}"
        elif cols["error.type"][i] or cols["error.message"][i]:
            what = f"{cols['error.type'][i] or 'Error'}: {cols['error.message'][i] or ''}"
        else:
            what = "failed (no error recorded)"
        parts = [f'<div class="fail {_e(status)}" id="run-{ids[i]}"><b>run {ids[i]}</b> '
                 f'<span class="badge {_e(status)}">{_e(status)}</span> '
                 f"<code>{_e(dirs[i])}</code><pre>{_e(what)}</pre>"]
        tb = cols["error.traceback"][i]
        if tb:
            tail = "\n".join(str(tb).rstrip("\n").split("\n")[-stderr_lines:])
            parts.append(f"<details><summary>traceback (last lines)</summary><pre>{_e(tail)}"
                         "</pre></details>")
        err = _tail(os.path.join(str(dirs[i]), STDERR), stderr_lines) if dirs[i] else None
        if err:
            parts.append(f"<div>last lines of <code>log.stderr</code>:</div><pre>{_e(err)}"
                         "</pre>")
        overrides = cols["overrides"][i]
        commands = rerun_command(cols["command"][i], list(overrides) if isinstance(
            overrides, (list, tuple)) else None, ids[i])
        if commands:
            where = cols["work_dir"][i]
            cd = f"cd {shlex.quote(str(where))} && " if where else ""
            parts.append(f"<div>rerun as a new run:</div><pre>{_e(cd + commands[0])}</pre>"
                         f"<div>or resume it in its run directory:</div>"
                         f"<pre>{_e(cd + commands[1])}</pre>")
        else:
            parts.append('<div class="note">no command recorded: cannot say how to rerun '
                         "it</div>")
        parts.append("</div>")
        out.append("".join(parts))
    if len(picked) > max_failures:
        rest = ", ".join(str(ids[i]) for i in picked[max_failures:max_failures + 200])
        out.append(f'<p class="note">and {len(picked) - max_failures} more (log ids {rest}'
                   f"{' ...' if len(picked) > max_failures + 200 else ''}).</p>")
    out.append("</section>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# The whole page
# ---------------------------------------------------------------------------------------------


def write_atomic(path: str, text: str) -> int:
    """Write ``text`` to ``path`` atomically (`record.atomic`: a reader never sees a part)."""
    data = text.encode("utf-8")
    write_bytes_atomic(Path(os.path.abspath(path)), data)
    return len(data)


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="run", file=sys.stderr, disable=not enabled,
                leave=False)


def build_report(parent_log: Union[str, os.PathLike[str]] = "./logs", query: str = "", *,
                 output: Union[str, os.PathLike[str]] = "report.html",
                 group_by: Optional[Sequence[str]] = None,
                 metrics: Optional[Sequence[str]] = None, x: Optional[str] = None,
                 best_by: Optional[Sequence[str]] = None, band: str = "std",
                 max_groups: int = 20, image_format: str = "svg", stderr_lines: int = 20,
                 max_failures: int = 50, command: Optional[str] = None,
                 progress: Optional[bool] = None) -> ReportResult:
    """Build the report of the runs of ``parent_log`` matching ``query`` into ``output``.

    ``group_by``: keys to group by (default: the swept config keys, minus seeds; ``[]`` = one
    group); ``metrics``: ``log_name.key`` names (default: every numeric metric); ``x``: the
    logged key for the x axis (default: the line number); ``best_by``: ``METRIC[:min|max]``
    (default: the first metric, direction from its name). Raises :class:`ReportError` (or the
    Reader's errors) for bad input, before anything is written.
    """
    need_matplotlib()
    from mlxp_core.reader import Reader
    from mlxp_core.report import figures

    started = time.time()
    if band not in G.BANDS:
        raise ReportError(f"--band must be one of {', '.join(G.BANDS)}, not {band!r}")
    if image_format not in ("svg", "png"):
        raise ReportError(f"image format must be 'svg' or 'png', not {image_format!r}")
    if max_groups < 1:
        raise ReportError(f"--max-groups must be at least 1, not {max_groups}")
    output = os.path.abspath(os.fspath(output))
    if os.path.isdir(output):
        raise ReportError(f"output {output} is a directory; give a file name, e.g. "
                          f"{os.path.join(output, 'report.html')}")
    if not os.path.isdir(os.path.dirname(output)):
        raise ReportError(f"the directory of the output {output} does not exist")
    parent = os.path.abspath(os.fspath(parent_log))
    if not os.path.isdir(parent):
        raise ReportError(f"parent_log {parent} is not a directory (the directory holding the "
                          "run directories <log_id>/, e.g. ./logs)")
    show_progress = sys.stderr.isatty() if progress is None else progress
    reader = Reader(parent)
    runs = G.select(reader, query)
    ids = [int(i) for i in runs["log_id"]]
    notes: list[str] = []
    sweeps_dir = os.path.join(parent, ".sweeps")
    sweeps = len(os.listdir(sweeps_dir)) if os.path.isdir(sweeps_dir) else 0

    # what to show
    if runs.empty:
        grouping = G.group_runs(runs, [])
        notes.append(f"no run matches the query {query!r} ({len(reader)} run(s) in {parent})"
                     if query and len(reader) else f"no run directories in {parent}")
        chosen: list[G.MetricRef] = []
    else:
        grouping = G.choose_groups(runs, group_by)
        logs, catalog = G.metric_catalog(reader)
        if metrics:
            chosen = [G.parse_metric(m, logs, catalog) for m in dict.fromkeys(metrics)]
        else:
            chosen = [m for m in catalog if m.key not in G.COUNTERS or m.key == x]
            counters = sorted(m.name for m in catalog if m not in chosen)
            if counters:
                notes.append(f"not plotted: {', '.join(counters)} (counters, not metrics; use "
                             "--x to plot against one, or --metric to plot it)")
    best_specs = [G.parse_best_by(b) for b in (best_by or [])]
    if best_specs and not runs.empty:
        for name, _ in best_specs:
            ref = G.parse_metric(name, logs, catalog)
            if ref not in chosen:
                chosen.append(ref)

    # read
    needed = list(dict.fromkeys(m.log_name for m in chosen))
    frames: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    bar = _progress(len(ids) * len(needed), "reading metrics", show_progress)
    try:
        for log_name in needed:
            frames[log_name] = G.load_log(reader, ids, log_name, progress=bar)
    finally:
        bar.close()

    # aggregate
    summaries: list[G.MetricSummary] = []
    explicit = {G.parse_metric(m, logs, catalog) for m in metrics or ()} if chosen else set()
    explicit |= {G.parse_metric(n, logs, catalog) for n, _ in best_specs} if chosen else set()
    directions = {n: d for n, d in best_specs if d}
    x_missing: list[str] = []
    for ref in chosen:
        frame, lasts = frames[ref.log_name]
        if ref.name not in frame.columns:
            if ref in explicit:
                raise ReportError(f"none of the {len(runs)} selected runs has the metric "
                                  f"{ref.name!r}")
            continue  # only unselected runs have it
        x_col = G.x_column(frame, ref, x)
        if x is not None and ref.name == x_col:
            continue  # the x axis itself
        if x is not None and x_col is None:
            x_missing.append(ref.log_name)
            x_col = G.LINE
        summary = G.summarize(frame, lasts, ref, x_col, grouping,
                              directions.get(ref.name) or G.direction_of(ref.name), band)
        if not summary.curves and not summary.stats:
            if ref in explicit:
                raise ReportError(f"metric {ref.name!r} has no numeric value in the "
                                  f"{len(runs)} selected runs")
            notes.append(f"{ref.name} is not plotted: no numeric value")
            continue
        summaries.append(summary)
    if x is not None and x_missing:
        missing = sorted(set(x_missing))
        if len(missing) == len({s.metric.log_name for s in summaries} | set(missing)):
            keys = sorted({c.split(".", 1)[1] for f, _ in frames.values() for c in f.columns
                           if "." in c})
            raise ReportError(f"no metrics file of the selected runs has the key {x!r} for "
                              f"the x axis; keys: {', '.join(keys) or '(none)'} (or leave "
                              "--x out: the line number)")
        notes.append(f"metrics/{', '.join(missing)}.json ha{'s' if len(missing) == 1 else 've'}"
                     f" no key {x!r}: plotted against the line number")
    by_name = {s.name: s for s in summaries}
    rankers = [(by_name[n], n) for n, _ in best_specs if n in by_name]
    if not rankers and summaries:
        rankers = [(summaries[0], summaries[0].name)]
    best = [(s, G.rank(grouping, s)[0]) for s, _ in rankers
            if s.stats and math.isfinite(s.stats[G.rank(grouping, s)[0]].final)]
    ranked_by = f"final {rankers[0][1]}" if rankers else "group order"
    shown = sorted(G.rank(grouping, rankers[0][0] if rankers else None)[:max_groups])

    # draw
    figure_html = []
    bar = _progress(len(summaries), "drawing", show_progress)
    try:
        for s in summaries:
            fig = figures.draw(s, grouping, shown)
            image = figures.encode(fig, image_format)
            figure_html.append(_figure_html(s, image, image_format, grouping, shown, len(runs),
                                            ranked_by))
            bar.update(1)
    finally:
        bar.close()

    # the page
    if runs.empty:
        curves = f"<p><b>Nothing to show:</b> {_e(notes[0])}.</p>"
    elif not summaries:
        curves = (f"<p><b>No curves:</b> none of the {len(runs)} selected runs has numeric "
                  "metrics (metrics/&lt;log_name&gt;.json).</p>")
    else:
        curves = "".join(figure_html)
    note_html = "".join(f'<p class="note">{_e(n)}.</p>' for n in notes if not runs.empty)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started))
    title = f"mlxp report: {parent}"
    provenance = (
        '<section id="provenance"><h2>Built from</h2><dl>'
        f"<dt>parent log</dt><dd><code>{_e(parent)}</code></dd>"
        f"<dt>query</dt><dd><code>{_e(query or '(none: every run)')}</code></dd>"
        f"<dt>runs</dt><dd>{len(runs)} selected of {len(reader)}</dd>"
        f"<dt>groups by</dt><dd>{_e(', '.join(grouping.keys) or '(one group)')}"
        f"{' (the swept config keys)' if group_by is None and not runs.empty else ''}</dd>"
        f"<dt>metrics</dt><dd>{_e(', '.join(s.name for s in summaries) or '(none)')}</dd>"
        f"<dt>x axis</dt><dd>{_e(x or 'line number of the metrics file (step)')}</dd>"
        f"<dt>built</dt><dd>{_e(stamp)} on {_e(os.uname().nodename)} in "
        f"{time.time() - started:.1f} s</dd>"
        f"<dt>command</dt><dd><code>{_e(command or 'mlxp_core.report.build_report')}</code></dd>"
        f"<dt>mlxp-core</dt><dd>{_e(__version__)}</dd></dl></section>")
    body = (
        f'<header><h1>mlxp report</h1><p class="sub"><code>{_e(parent)}</code> · {len(runs)} '
        f"run(s) · {len(grouping)} group(s) · {len(summaries)} metric(s) · {_e(stamp)}</p>"
        '<nav><a href="#summary">Summary</a><a href="#curves">Curves</a>'
        '<a href="#groups">Groups</a><a href="#failures">Failures</a>'
        '<a href="#provenance">Built from</a></nav></header>'
        + _summary_section(runs, parent, reader.problems, sweeps)
        + f'<section id="curves"><h2>Curves</h2>{note_html}{curves}</section>'
        + (_table_section(grouping, summaries, best, _col(runs, "info.status"), runs)
           if not runs.empty else '<section id="groups"><h2>Groups</h2><p>No runs.</p>'
           "</section>")
        + _failures_section(runs, stderr_lines, max_failures)
        + provenance)
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="mlxp-core {_e(__version__)}">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>{body}"
            f"<script>{SCRIPT}</script></body></html>\n")
    size = write_atomic(output, page)
    failures = sum(s in PROBLEM_STATUSES for s in _col(runs, "info.status"))
    log.info("mlxp report: %s (%d bytes, %.1f s)", output, size, time.time() - started)
    return ReportResult(output, len(runs), len(grouping), [s.name for s in summaries],
                        failures, notes, size)
