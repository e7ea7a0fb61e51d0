"""Small line charts as inline SVG text, drawn on the server (no script, no CDN).

Only presentation attributes are used (no ``style``), so the pages keep their strict content
security policy. Every point has a ``<title>``, so hovering or a screen reader gives its
value. Drawing is linear in the number of points.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

WIDTH, HEIGHT = 320, 120
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 20
LINE = "#1f4fd1"
ALERT = "#dc2626"
GRID = "#d5dae3"
TEXT = "#4a5568"


def short(value: float) -> str:
    """A number in a few characters for an axis (1.2k, 35, 0.42)."""
    size = abs(value)
    if size >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if size >= 1000:
        return f"{value / 1000:.1f}k"
    if size >= 10 or value == 0:
        return f"{value:.0f}"
    return f"{value:.2g}"


def line_chart(values: list[float | None], labels: list[str], title: str, *,
               flagged: bool = False, fmt: str = "{:.4g}") -> str:
    """An SVG line over ``values`` (oldest first; None is a gap), ``labels`` naming each
    point (a run id). The last point is drawn red when ``flagged``."""
    known = [v for v in values if v is not None]
    if not known:
        return (f'<svg class="spark" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
                f'aria-label="{escape(title)}: no data"><text x="{WIDTH / 2}" '
                f'y="{HEIGHT / 2}" text-anchor="middle" font-size="12" fill="{TEXT}">'
                f'no data</text></svg>')
    low, high = min(0.0, *known), max(known)
    span = (high - low) or 1.0
    step = (WIDTH - LEFT - RIGHT) / max(1, len(values) - 1)

    def x(i: int) -> float:
        return LEFT + (i * step if len(values) > 1 else (WIDTH - LEFT - RIGHT) / 2)

    def y(v: float) -> float:
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (v - low) / span)

    parts = [f'<svg class="spark" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title)}">']
    for level in (low, high):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(level):.1f}" '
                     f'y2="{y(level):.1f}" stroke="{GRID}"/>'
                     f'<text x="{LEFT - 4}" y="{y(level) + 4:.1f}" text-anchor="end" '
                     f'font-size="10" fill="{TEXT}">{escape(short(level))}</text>')
    parts.extend(_segments(values, x, y))
    for i, value in enumerate(values):
        if value is None:
            continue
        last = i == len(values) - 1
        colour = ALERT if last and flagged else LINE
        radius = 3.5 if last else 2
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="{radius}" '
                     f'fill="{colour}"><title>{escape(labels[i])}: '
                     f'{escape(fmt.format(value))}</title></circle>')
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 5}" font-size="10" fill="{TEXT}">'
                 f'{len(values)} runs</text></svg>')
    return "".join(parts)


def _segments(values: list[float | None], x: Callable[[int], float],
              y: Callable[[float], float]) -> list[str]:
    """Polylines over each stretch of consecutive known values."""
    lines: list[str] = []
    run: list[str] = []
    for i, value in enumerate([*values, None]):
        if value is None:
            if len(run) > 1:
                lines.append(f'<polyline fill="none" stroke="{LINE}" stroke-width="1.5" '
                             f'points="{" ".join(run)}"/>')
            run = []
        else:
            run.append(f"{x(i):.1f},{y(value):.1f}")
    return lines
