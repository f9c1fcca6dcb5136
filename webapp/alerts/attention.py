"""Which call needs a supervisor: one attention score per call, with its reasons in words.

The score (0 to 100) adds up the points of each reason, by the weights in
``ATTENTION_WEIGHTS``:

- ``silence``: dead air running past the warn / alarm threshold:
  ``silence_warn`` / ``silence_alarm``;
- ``upset``: the caller's mood (the worse of the latest score and the rolling
  average) below -0.05: ``upset`` times how negative (-1 is all of it);
- ``keyword``: each watched phrase said: ``keyword_high`` / ``_medium`` /
  ``_low`` by the alert's severity;
- ``slow``: the AI's latest answer took ``HEALTH_SLOW_RESPONSE`` s or more: ``slow``;
- ``long``: the call has run ``HEALTH_LONG_CALL_MINUTES`` or more: ``long``;
- ``interruptions``: three or more: ``interruptions``.

An ended call needs no one: score 0. Reasons come most points first, each
``{"code", "text", "points"}`` (``since`` too for silence, so a page can tick it).

Pure: figures in, a JSON-able dict out.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

INTERRUPTIONS_NOTED = 3
MOOD_NOTED = -0.05


@dataclass(frozen=True, slots=True)
class Weights:
    silence_alarm: int = 40
    silence_warn: int = 15
    upset: int = 50
    keyword_high: int = 40
    keyword_medium: int = 25
    keyword_low: int = 10
    slow: int = 20
    long: int = 10
    interruptions: int = 10


DEFAULT_WEIGHTS = ", ".join(f"{f.name}={f.default}" for f in fields(Weights))


def parse_weights(text: str) -> Weights:
    """``name=points, ...`` over the defaults; ValueError naming the bad entry."""
    names = {f.name for f in fields(Weights)}
    values: dict[str, int] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        name, sep, number = (part.strip() for part in entry.partition("="))
        if not sep or name not in names:
            raise ValueError(
                f"{entry[:40]!r}: expected name=points with a name among {', '.join(sorted(names))}"
            )
        try:
            points = int(number)
        except ValueError:
            raise ValueError(f"{entry[:40]!r}: points must be a whole number") from None
        if not 0 <= points <= 100:
            raise ValueError(f"{entry[:40]!r}: points must be 0 to 100")
        values[name] = points
    return replace(Weights(), **values)


def _reason(code: str, text: str, points: float, **extra: Any) -> dict[str, Any]:
    return {"code": code, "text": text, "points": round(points), **extra}


def _mood(alerts: dict[str, Any]) -> float | None:
    sentiment = alerts.get("sentiment") or {}
    if not sentiment.get("count"):
        return None
    candidates = [sentiment.get("average")]
    trend = sentiment.get("trend") or []
    if trend:
        candidates.append(trend[-1])
    numbers = [c for c in candidates if isinstance(c, int | float)]
    return min(numbers) if numbers else None


def _keywords(alerts: dict[str, Any], weights: Weights) -> list[dict[str, Any]]:
    said: dict[str, str] = {}
    order = {"high": 3, "medium": 2, "low": 1}
    for alert in alerts.get("alerts") or []:
        phrase = alert.get("phrase")
        if alert.get("kind") != "keyword" or not isinstance(phrase, str):
            continue
        severity = str(alert.get("severity"))
        if order.get(severity, 0) > order.get(said.get(phrase, ""), 0):
            said[phrase] = severity
    return [
        _reason("keyword", f"said '{phrase}'", getattr(weights, f"keyword_{sev}", 0))
        for phrase, sev in said.items()
    ]


def reasons(
    figures: dict[str, Any], alerts: dict[str, Any], weights: Weights
) -> list[dict[str, Any]]:
    """Every reason a supervisor should look at this call, most points first."""
    found: list[dict[str, Any]] = []
    silence = figures.get("silence") or {}
    if silence.get("level") in ("warn", "alarm"):
        points = weights.silence_alarm if silence["level"] == "alarm" else weights.silence_warn
        found.append(
            _reason(
                "silence",
                f"silent {silence.get('seconds') or 0:.0f} s",
                points,
                since=silence.get("since"),
                level=silence["level"],
            )
        )
    mood = _mood(alerts)
    if mood is not None and mood < MOOD_NOTED:
        found.append(_reason("upset", f"caller upset ({mood:+.1f})", weights.upset * min(-mood, 1)))
    found += _keywords(alerts, weights)
    latency = figures.get("latency") or {}
    if latency.get("slow"):
        found.append(_reason("slow", f"AI slow: {latency['latest']:.1f} s", weights.slow))
    if figures.get("long"):
        minutes = int((figures.get("length") or 0) // 60)
        found.append(_reason("long", f"running {minutes} min", weights.long))
    total = (figures.get("interruptions") or {}).get("total", 0)
    if total >= INTERRUPTIONS_NOTED:
        found.append(_reason("interruptions", f"{total} interruptions", weights.interruptions))
    found = [r for r in found if r["points"] > 0]
    found.sort(key=lambda r: -r["points"])
    return found


@dataclass(frozen=True, slots=True)
class Attention:
    """The score of a call from its health figures and its alerts snapshot (see the module)."""

    weights: Weights = Weights()

    def assess(self, figures: dict[str, Any], alerts: dict[str, Any]) -> dict[str, Any]:
        if figures.get("ended"):
            return {"score": 0, "reasons": []}
        found = reasons(figures, alerts, self.weights)
        return {"score": min(sum(r["points"] for r in found), 100), "reasons": found}
