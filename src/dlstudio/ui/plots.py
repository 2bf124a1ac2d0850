"""pyqtgraph set-up shared by the pages: light theme, small helpers for curves and bars."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyqtgraph as pg

pg.setConfigOptions(antialias=True, background="w", foreground="#333333")

PALETTE = ("#1565c0", "#e65100", "#2e7d32", "#6a1b9a", "#c62828", "#00838f")


class CountAxis(pg.AxisItem):
    """An axis of whole numbers (epochs, networks): no "1.5" between epoch 1 and epoch 2."""

    def tickValues(self, minVal, maxVal, size):
        levels = [(spacing, [v for v in values if float(v).is_integer()])
                  for spacing, values in super().tickValues(minVal, maxVal, size)
                  if spacing >= 1]
        if not any(values for _, values in levels):
            first, last = math.ceil(minVal), math.floor(maxVal)
            levels = [(1, list(range(first, last + 1)))] if last >= first else []
        return levels

    def tickStrings(self, values, scale, spacing):
        return [str(round(v)) for v in values]


class StaticPlot(pg.PlotWidget):
    """A chart to read, not to explore: no zoom, no pan, and the mouse wheel over it scrolls the
    page that holds it instead of zooming the chart."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.setMouseEnabled(x=False, y=False)

    def wheelEvent(self, event) -> None:
        event.ignore()          # not handled here: Qt passes it on to the page's scroll area


def make_plot(title: str = "", left: str = "", bottom: str = "", *,
              legend: bool = False, counts_on_x: bool = False,
              static: bool = False) -> pg.PlotWidget:
    """A light plot; `counts_on_x` labels the x axis with whole numbers only; `static` makes a
    `StaticPlot` (result charts: no zoom or pan, the wheel scrolls the page)."""
    axes = {"bottom": CountAxis("bottom")} if counts_on_x else None
    plot = (StaticPlot if static else pg.PlotWidget)(axisItems=axes)
    plot.setMenuEnabled(False)
    plot.showGrid(x=True, y=True, alpha=0.25)
    for side in ("left", "bottom"):
        plot.getAxis(side).enableAutoSIPrefix(False)   # "loss (x0.001)" confuses people
    if title:
        plot.setTitle(title, size="10pt")
    if left:
        plot.setLabel("left", left)
    if bottom:
        plot.setLabel("bottom", bottom)
    if legend:
        plot.addLegend(offset=(-10, 10))
    return plot


def pen(i: int, width: float = 2.0, dashed: bool = False) -> pg.QtGui.QPen:
    p = pg.mkPen(PALETTE[i % len(PALETTE)], width=width)
    if dashed:
        p.setStyle(pg.QtCore.Qt.PenStyle.DashLine)
    return p


def label_step(plot: pg.PlotWidget, labels: Sequence[str], gap: int = 12) -> int:
    """Every how many bars a label fits under a plot of the current width: pyqtgraph draws
    every tick label it is given, so ten labels such as "176–197" overlapped on the Data page's
    words-per-text histogram."""
    axis = plot.getAxis("bottom")
    metrics = pg.QtGui.QFontMetrics(axis.style.get("tickFont") or plot.font())
    widest = max((metrics.horizontalAdvance(lab) for lab in labels), default=0) + gap
    room = max(plot.width() - plot.getAxis("left").width() - 10, 200)
    return max(1, math.ceil(widest * len(labels) / room))


def epoch_marker(plot: pg.PlotWidget, label: str = "kept") -> pg.InfiniteLine:
    """A hidden dashed vertical line on `plot`, labelled at its top: the epoch a finished
    network was kept at (`setValue`, then `show`)."""
    line = pg.InfiniteLine(angle=90, movable=False, pen=pen(2, width=1.5, dashed=True),
                           label=label, labelOpts={"position": 0.95, "color": PALETTE[2]})
    line.hide()
    plot.addItem(line, ignoreBounds=True)
    return line


def short(label: str, n: int = 14) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def set_bars(plot: pg.PlotWidget, labels: Sequence[str], values: Sequence[float], *,
             horizontal: bool = False, color: str = PALETTE[0]) -> pg.BarGraphItem | None:
    """Replace the plot's content with one bar per label (labels on the category axis)."""
    plot.clear()
    if not len(values):
        return None
    idx = list(range(len(values)))
    if horizontal:
        # First label at the top.
        ys = [len(values) - 1 - i for i in idx]
        item = pg.BarGraphItem(x0=0, y=ys, height=0.7, width=list(values), brush=color)
        ticks = [(y, short(str(lab), 22)) for y, lab in zip(ys, labels, strict=True)]
        left = plot.getAxis("left")
        left.setTicks([ticks])
        # Wide enough for the longest label: pyqtgraph drops a tick label that does not fit.
        metrics = pg.QtGui.QFontMetrics(left.style.get("tickFont") or plot.font())
        left.setWidth(max(metrics.horizontalAdvance(t) for _, t in ticks) + 16)
        plot.getAxis("bottom").setTicks(None)
    else:
        item = pg.BarGraphItem(x=idx, height=list(values), width=0.8, brush=color)
        step = label_step(plot, [short(str(lab)) for lab in labels])
        plot.getAxis("bottom").setTicks([[(i, short(str(lab)))
                                          for i, lab in enumerate(labels) if i % step == 0]])
    plot.addItem(item)
    # Explicit ranges: auto-range pads one bar (or equal bars) oddly.
    n, top = len(values), max(0.0, *map(float, values)) or 1.0
    low = min(0.0, *map(float, values))
    along, across = (plot.setXRange, plot.setYRange) if horizontal else (plot.setYRange,
                                                                          plot.setXRange)
    along(low, top * 1.05, padding=0)
    across(-0.6, n - 0.4, padding=0)
    return item


def span(values: Sequence[float], pad: float = 0.05) -> tuple[float, float]:
    """A range that shows `values` with a margin; one value (or equal values) gets a span around
    it instead of pyqtgraph's degenerate one."""
    lo, hi = float(min(values)), float(max(values))
    margin = (hi - lo) * pad if hi > lo else (abs(lo) * 0.05 or 0.5)
    return lo - margin, hi + margin


def fit_y(plot: pg.PlotWidget, curves: Sequence[pg.PlotDataItem]) -> None:
    """Follow the curves' values on the y axis. While they are all one value (the first epoch,
    the first network), pyqtgraph would span 1 around it (0.32 to 1.32 for an accuracy of
    0.82, found under Xvfb); `span` keeps it close instead."""
    ys = [float(y) for c in curves if c.yData is not None for y in c.yData if math.isfinite(y)]
    if ys and min(ys) == max(ys):
        plot.setYRange(*span(ys), padding=0)
    else:
        plot.enableAutoRange(axis="y")


def fit_range(plot: pg.PlotWidget, xs: Sequence[float], ys: Sequence[float]) -> None:
    """Show exactly the points (with a margin), even a single one."""
    if len(xs):
        plot.setXRange(*span(xs), padding=0)
    if len(ys):
        plot.setYRange(*span(ys), padding=0)
