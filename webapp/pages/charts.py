"""A server-rendered SVG chart of a campaign's progress: no chart library, no script."""

from __future__ import annotations

from typing import Any

WIDTH = 600
HEIGHT = 160


def chart(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Polyline points for percent done and success rate (both 0-100) over the samples."""
    done = [float(s.get("percent_done") or 0.0) for s in history]
    success = [float(s["success_rate"]) for s in history if s.get("success_rate") is not None]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "done": _points(done),
        "success": _points(success),
        "count": len(history),
        "last_done": done[-1] if done else None,
        "last_success": success[-1] if success else None,
        "first": history[0].get("t") if history else None,  # the time axis's ends
        "last": history[-1].get("t") if history else None,
    }


def _points(values: list[float]) -> str:
    if not values:
        return ""
    if len(values) == 1:
        values = values * 2  # a single sample still draws a (flat) line
    step = WIDTH / (len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{HEIGHT - min(max(v, 0.0), 100.0) / 100.0 * HEIGHT:.1f}"
        for i, v in enumerate(values)
    )


SPARK_WIDTH = 120
SPARK_HEIGHT = 24


def sparkline(scores: list[float]) -> str:
    """Polyline points for sentiment scores (-1..1) in a small 120x24 box; 0 is the middle."""
    if not scores:
        return ""
    values = scores * 2 if len(scores) == 1 else scores
    step = SPARK_WIDTH / (len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{(1 - max(min(v, 1.0), -1.0)) / 2 * SPARK_HEIGHT:.1f}"
        for i, v in enumerate(values)
    )


BAR_WIDTH = 600
BAR_HEIGHT = 120


def stacked_columns(columns: list[dict[str, int]], order: tuple[str, ...]) -> dict[str, Any]:
    """Columns of stacked bars (one per period, a segment per key of ``order``, bottom up)
    in a 600x120 box, scaled to the tallest column; SVG rectangles, drawn by the template."""
    top = max((sum(c.values()) for c in columns), default=0) or 1
    step = BAR_WIDTH / max(len(columns), 1)
    drawn = []
    for n, counts in enumerate(columns):
        y, segments = float(BAR_HEIGHT), []
        for key in order:
            height = counts.get(key, 0) / top * BAR_HEIGHT
            if height:
                y -= height
                segments.append({"key": key, "y": round(y, 1), "h": round(height, 1)})
        drawn.append({"x": round(n * step + step * 0.1, 1), "segments": segments})
    return {
        "width": BAR_WIDTH,
        "height": BAR_HEIGHT,
        "bar": round(step * 0.8, 1),
        "columns": drawn,
        "top": top,
    }


def bar_length(value: float | None, top: float, width: float = 100.0) -> float:
    """A horizontal bar's length (percent of ``width``) for ``value`` against ``top``."""
    if value is None or top <= 0:
        return 0.0
    return round(min(max(value, 0.0), top) / top * width, 1)
