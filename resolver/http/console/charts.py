"""Bar charts drawn on the server as SVG (no script, no external asset).

The SVG is built from numbers and escaped labels only and marked safe for
the template; presentation attributes (``fill``) are used instead of style
attributes so the strict CSP holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT, PAD = 640, 220, 28


def bar_chart(
    points: Sequence[tuple[str, int | float]], *, title: str, empty: str = "-"
) -> Markup:
    """A bar per ``(label, value)``, scaled to the largest value; ``empty`` when all are 0."""
    highest = max((v for _label, v in points), default=0)
    top = highest or 1
    step = (WIDTH - 2 * PAD) / max(len(points), 1)
    bars = []
    for i, (label, value) in enumerate(points):
        height = (HEIGHT - 2 * PAD) * value / top
        x = PAD + i * step
        y = HEIGHT - PAD - height
        bars.append(
            f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{max(step - 4, 1):.1f}" '
            f'height="{height:.1f}" fill="#1f6feb"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{x + step / 2:.1f}" y="{HEIGHT - 8}" font-size="10" '
            f'text-anchor="middle" fill="#57606a">{escape(label)}</text>'
        )
    return Markup(  # noqa: S704 - built from numbers and escaped labels only
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f'<title>{escape(title)}</title>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        f'stroke="#d0d7de"/>'
        f'<text x="{PAD}" y="14" font-size="11" fill="#57606a">max {highest:g}</text>'
        + ("".join(bars) if highest else
           f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" font-size="14" text-anchor="middle" '
           f'fill="#57606a">{escape(empty)}</text>')
        + "</svg>"
    )
