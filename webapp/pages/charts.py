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
