"""Trend charts as inline SVG, drawn here: no JavaScript, no CDN, nothing to download.

Why SVG written by us rather than a charting library (plotly, Vega-Lite): the dashboard must
open offline, from a file, in any browser or mail client, and be safe to pass around (no
script runs). A line per metric over weeks is all it draws, which takes a hundred lines here,
against several megabytes of bundled JavaScript per page. If interactive exploration is ever
wanted, Vega-Lite with its JavaScript vendored into the page is the upgrade path; the data the
page is built from (gold tables) would not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH, HEIGHT = 560, 170
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 26


@dataclass(frozen=True)
class Series:
    title: str
    unit: str
    points: Sequence[tuple[date, float | None]]  # oldest first; None = no figure that week


def line_chart(series: Series) -> str:
    """An SVG line chart of one weekly series, with its y range, first and last week labelled."""
    known = [(day, value) for day, value in series.points if value is not None]
    title = f'<text x="{LEFT}" y="11" class="chart-title">{escape(series.title)}</text>'
    if not known:
        return _svg(title + f'<text x="{LEFT}" y="{HEIGHT // 2}" class="axis">no figures yet</text>')
    low = min(0.0, min(value for _, value in known))
    high = max(value for _, value in known) or 1.0
    count = max(len(series.points) - 1, 1)

    def x(index: int) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * index / count

    def y(value: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (value - low) / (high - low or 1.0))

    segments, current = [], []
    for index, (_, value) in enumerate(series.points):
        if value is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(f"{x(index):.1f},{y(value):.1f}")
    if current:
        segments.append(current)
    lines = "".join(f'<polyline class="line" points="{" ".join(segment)}"/>' for segment in segments)
    dots = "".join(
        f'<circle class="dot" cx="{x(index):.1f}" cy="{y(value):.1f}" r="2.5"><title>{day:%Y-%m-%d}: '
        f"{value:.2f} {escape(series.unit)}</title></circle>"
        for index, (day, value) in enumerate(series.points)
        if value is not None
    )
    first, last = series.points[0][0], series.points[-1][0]
    axes = (
        f'<line class="grid" x1="{LEFT}" y1="{y(high):.1f}" x2="{WIDTH - RIGHT}" y2="{y(high):.1f}"/>'
        f'<line class="axis-line" x1="{LEFT}" y1="{y(low):.1f}" x2="{WIDTH - RIGHT}" y2="{y(low):.1f}"/>'
        f'<text x="{LEFT - 6}" y="{y(high) + 4:.1f}" class="axis" text-anchor="end">{_short(high)}</text>'
        f'<text x="{LEFT - 6}" y="{y(low) + 4:.1f}" class="axis" text-anchor="end">{_short(low)}</text>'
        f'<text x="{LEFT}" y="{HEIGHT - 6}" class="axis">{first:%d %b %Y}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" class="axis" text-anchor="end">{last:%d %b %Y}</text>'
        f'<text x="{WIDTH - RIGHT}" y="11" class="axis" text-anchor="end">{escape(series.unit)}</text>'
    )
    return _svg(title + axes + lines + dots)


def waterfall_chart(title: str, stages: Sequence[tuple[str, float | None]]) -> str:
    """An SVG waterfall of consecutive stages (label, hours): each bar starts where the one before
    it ends, labelled with its hours; a stage without a figure takes no width and says so."""
    heading = f'<text x="{LEFT}" y="11" class="chart-title">{escape(title)}</text>'
    total = sum(hours for _, hours in stages if hours is not None)
    if not total:
        return _svg(heading + f'<text x="{LEFT}" y="{HEIGHT // 2}" class="axis">no pull request shipped yet</text>')
    left_label, span = 120, WIDTH - 120 - RIGHT
    row = (HEIGHT - TOP - BOTTOM) / len(stages)
    bars, start = [], 0.0
    for index, (label, hours) in enumerate(stages):
        y = TOP + 8 + index * row
        middle = y + row / 2 + 2
        width = span * (hours or 0.0) / total
        x = left_label + span * start / total
        figure = "n/a" if hours is None else f"{hours:.1f} h"
        measured = "" if hours is None else repr(hours)
        bars.append(
            f'<text x="{left_label - 6}" y="{middle:.1f}" class="axis" text-anchor="end">{escape(label)}</text>'
            f'<rect class="stage" data-stage="{escape(label.lower())}" data-hours="{measured}" '
            f'x="{x:.1f}" y="{y:.1f}" width="{max(width, 1.0):.1f}" height="{row * 0.6:.1f}">'
            f"<title>{escape(label)}: {figure}</title></rect>"
            f'<text x="{min(x + width + 4, WIDTH - RIGHT):.1f}" y="{middle:.1f}" class="axis">{figure}</text>'
        )
        start += hours or 0.0
    return _svg(heading + "".join(bars))


def _svg(content: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img">{content}</svg>'
    )


def _short(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.2g}"
