"""Matplotlib figures of grouped curves, for the report and for ``Reader.plot``.

Figures are built with ``matplotlib.figure.Figure`` directly, never through ``pyplot``: no
global figure registry, no GUI backend, safe in a batch job on a cluster node, and a notebook
still displays the returned Figure. One group keeps one color and line style across all the
figures of a report; a legend of up to 20 groups fits in one column outside the axes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

from mlxp_core.report import groups as G
from mlxp_core.report.errors import ReportError, need_matplotlib

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mlxp_core.reader import Reader

MAX_GROUPS = 20
_STYLES = ("-", "--", ":", "-.")


def style(i: int) -> tuple[Any, str]:
    """Color and line style of the i-th shown group: ten colors, then the next line style."""
    from matplotlib import colormaps

    return colormaps["tab10"](i % 10), _STYLES[(i // 10) % len(_STYLES)]


def draw(summary: G.MetricSummary, grouping: G.Grouping, shown: Sequence[int],
         title: Optional[str] = None) -> Figure:
    """The curves of ``summary`` for the groups ``shown`` (their order sets colors/legend).

    Each line has the SVG id ``curve-<i>`` and each band ``band-<i>`` (i = position in
    ``shown``), so a page or a test can find them.
    """
    need_matplotlib()
    import numpy as np
    from matplotlib.figure import Figure

    drawn = [g for g in shown if g in summary.curves]
    legend_rows = len(drawn) if len(drawn) <= MAX_GROUPS else (len(drawn) + 1) // 2
    height = max(3.6, 0.9 + 0.2 * legend_rows)
    fig = Figure(figsize=(9.0, height), layout="constrained")
    ax: Axes = fig.add_subplot()
    for i, g in enumerate(shown):
        curve = summary.curves.get(g)
        if curve is None:
            continue
        color, line_style = style(i)
        label = grouping.label(g)
        marker = "o" if len(curve.x) < 2 else None
        ax.plot(curve.x, curve.mean, color=color, linestyle=line_style, linewidth=1.6,
                marker=marker, label=label, gid=f"curve-{i}")
        if curve.lo is not None and curve.hi is not None:
            ok = np.isfinite(curve.lo) & np.isfinite(curve.hi)
            if ok.any():
                ax.fill_between(curve.x, np.where(ok, curve.lo, curve.mean),
                                np.where(ok, curve.hi, curve.mean), where=ok, color=color,
                                alpha=0.18, linewidth=0, gid=f"band-{i}")
    if summary.logy:
        ax.set_yscale("log", nonpositive="clip")
    ax.set_xlabel(summary.x_label)
    ax.set_ylabel(summary.name)
    ax.grid(True, alpha=0.3)
    band = {"std": "mean ± std over runs", "minmax": "mean, min-max over runs",
            "none": "mean over runs"}[summary.band]
    ax.set_title(title or f"{summary.name} ({band})", fontsize="medium")
    if not drawn:
        ax.text(0.5, 0.5, "no finite values", transform=ax.transAxes, ha="center",
                va="center", color="0.4")
    elif grouping.keys or len(drawn) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                  frameon=False, ncol=1 if len(drawn) <= MAX_GROUPS else 2,
                  title=", ".join(grouping.short) or None, title_fontsize="small")
    return fig


def encode(fig: Figure, fmt: str = "svg") -> bytes:
    """The figure as SVG (glyphs as paths: no font needed to show it) or PNG (100 dpi)."""
    buffer = io.BytesIO()
    if fmt == "svg":
        import matplotlib

        with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "mlxp-report"}):
            fig.savefig(buffer, format="svg", metadata={"Date": None})
    elif fmt == "png":
        fig.savefig(buffer, format="png", dpi=100)
    else:
        raise ReportError(f"image format must be 'svg' or 'png', not {fmt!r}")
    return buffer.getvalue()


def plot(reader: Reader, metric: str, group_by: Union[str, Sequence[str], None] = None,
         x: Optional[str] = None, *, query: str = "", band: str = "std",
         logy: Optional[bool] = None, max_groups: int = MAX_GROUPS) -> Figure:
    """One metric of the runs matching ``query``: one line per group, with a band.

    Same grouping and aggregation as ``mlxp report`` (mlxp_core/report/groups.py). With more
    than ``max_groups`` groups, the best ones by the final value are drawn.
    """
    need_matplotlib()
    runs = G.select(reader, query)
    if runs.empty:
        raise ReportError(f"no run matches the query {query!r} in {reader.parent_log}")
    if isinstance(group_by, str):
        group_by = [k for k in group_by.split(",") if k.strip()]
    grouping = G.choose_groups(runs, [k.strip() for k in group_by] if group_by is not None
                               else None)
    logs, metrics = G.metric_catalog(reader)
    ref = G.parse_metric(metric, logs, metrics)
    frame, lasts = G.load_log(reader, [int(i) for i in runs["log_id"]], ref.log_name)
    if ref.name not in frame.columns:
        raise ReportError(f"none of the {len(runs)} selected runs has the metric {ref.name!r}")
    x_col = G.x_column(frame, ref, x)
    if x_col is None:
        keys = [c.split(".", 1)[1] for c in frame.columns if c.startswith(ref.log_name + ".")]
        raise ReportError(f"metrics/{ref.log_name}.json has no key {x!r} for the x axis; "
                          f"its keys: {', '.join(keys)} (or leave x out: the line number)")
    summary = G.summarize(frame, lasts, ref, x_col, grouping, G.direction_of(ref.name), band,
                          logy)
    if not summary.curves:
        raise ReportError(f"metric {ref.name!r} has no finite numeric value in the "
                          f"{len(runs)} selected runs")
    if max_groups < 1:
        raise ReportError(f"max_groups must be at least 1, not {max_groups}")
    shown = sorted(G.rank(grouping, summary)[:max_groups])
    return draw(summary, grouping, shown)
