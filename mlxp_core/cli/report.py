"""`mlxp report`: one self-contained, offline HTML page about a sweep (docs/report.md).

Parsing only: the work is :func:`mlxp_core.report.page.build_report`, imported when the
command runs, so `mlxp --help` does not load pandas or matplotlib.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from typing import Any, List, Optional

log = logging.getLogger("mlxp.report")

DESCRIPTION = """\
Write one self-contained HTML page (no network, no server: copy it anywhere) about the runs of
PARENT_LOG matching QUERY: runs per status and per launch, curves of each metric per group
(mean over the other keys, typically seeds, with a band for the spread), a sortable table of
groups (final and best value of each metric, best group highlighted), the failed and
interrupted runs with their error, stderr and the command to rerun them, and what the page
was built from. Without options: groups = the config keys that vary among the selected runs
(minus seed), every metric. Needs matplotlib: pip install "mlxp-core[report]".
"""

EPILOG = """\
examples:
  mlxp report logs/
  mlxp report logs/ "info.status == 'COMPLETE'" --group-by optimizer.lr --metric train.loss \\
      --x epoch --best-by test.loss:min -o sweep.html
"""


def _list(values: Optional[List[str]]) -> Optional[List[str]]:
    """Repeatable options that also take comma-separated lists."""
    if values is None:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report", help="write an offline HTML report of a sweep (plots, table, failures)",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parent_log", nargs="?", default="./logs", metavar="PARENT_LOG",
                        help="directory holding the run directories (default: ./logs)")
    parser.add_argument("query", nargs="?", default="", metavar="QUERY",
                        help="Reader query selecting runs, e.g. \"info.status == 'COMPLETE'\" "
                             "(default: every run; docs/reader.md)")
    parser.add_argument("-o", "--output", default="report.html",
                        help="the HTML file to write (default: report.html)")
    parser.add_argument("--group-by", action="append", metavar="KEYS",
                        help="comma-separated keys to group by (optimizer.lr or "
                             "config.optimizer.lr; info.* too); 'none' = one group; default: "
                             "the swept config keys minus seed")
    parser.add_argument("--metric", action="append", metavar="NAME",
                        help="metric <log_name>.<key> to plot, e.g. train.loss (repeatable; "
                             "default: every numeric metric)")
    parser.add_argument("--x", metavar="KEY",
                        help="logged key for the x axis, e.g. epoch (default: the line number "
                             "of the metrics file)")
    parser.add_argument("--best-by", action="append", metavar="METRIC[:min|max]",
                        help="highlight the group with the best final METRIC (repeatable; "
                             "default: the first metric; min unless the name looks like an "
                             "accuracy or score)")
    parser.add_argument("--band", choices=("std", "minmax", "none"), default="std",
                        help="spread band: mean ± std (default), min-max, or none")
    parser.add_argument("--max-groups", type=int, default=20, metavar="N",
                        help="curves drawn per figure: the N best groups (default 20)")
    parser.add_argument("--image-format", choices=("svg", "png"), default="svg",
                        help="figures embedded as SVG (default, sharp) or PNG (smaller for "
                             "very long curves)")
    parser.add_argument("--stderr-lines", type=int, default=20, metavar="N",
                        help="last lines of log.stderr / traceback shown per failed run")
    parser.add_argument("--max-failures", type=int, default=50, metavar="N",
                        help="failed runs shown in full (the others are listed by id)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlxp_core.errors import MLXPError

    group_by = _list(args.group_by)
    if group_by is not None and [g.lower() for g in group_by] in ([], ["none"]):
        group_by = []
    try:
        from mlxp_core.report.page import build_report

        result = build_report(
            args.parent_log, args.query, output=args.output, group_by=group_by,
            metrics=_list(args.metric), x=args.x, best_by=_list(args.best_by),
            band=args.band, max_groups=args.max_groups, image_format=args.image_format,
            stderr_lines=args.stderr_lines, max_failures=args.max_failures,
            command=shlex.join(["mlxp", "report", *sys.argv[2:]]) if sys.argv[1:2] == [
                "report"] else None)
    except (MLXPError, FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        print(f"mlxp report: error: {exc}", file=sys.stderr)
        return 1
    for note in result.notes:
        print(f"mlxp report: note: {note}", file=sys.stderr)
    print(f"{result.path}: {result.runs} run(s), {result.groups} group(s), "
          f"{len(result.metrics)} metric(s), {result.failures} failed/interrupted "
          f"({result.bytes / 1e6:.1f} MB)")
    return 0
