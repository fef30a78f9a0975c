"""Curves as inline SVG for the page: accuracy and deferral (0-100 %) against training steps.

Drawn here rather than in the browser so the page needs no plotting code and the figure can
be checked without one. Labels are escaped: a curve's name is data.
"""

from __future__ import annotations

from html import escape

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
W, H, LEFT, RIGHT, TOP, BOTTOM = 640, 360, 48, 150, 16, 36


def curves_svg(xs: list[int], curves: dict[str, list[float]], x_label: str = "training steps") -> str:
    """One polyline (with a dot a round) per curve; values are fractions in 0..1."""
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    x_max = max(xs, default=1) or 1

    def px(x: float, y: float) -> str:
        return f"{LEFT + pw * x / x_max:.1f},{TOP + ph * (1 - y):.1f}"

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="curves" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
           f'role="img" aria-label="accuracy and deferral by round">']
    for tick in range(0, 11, 2):
        y = TOP + ph * (1 - tick / 10)
        out.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{tick * 10}%</text>')
    for x in xs:
        out.append(f'<text x="{LEFT + pw * x / x_max:.1f}" y="{TOP + ph + 14}" text-anchor="middle" '
                   f'font-size="10">{x}</text>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 4}" text-anchor="middle" font-size="11">{escape(x_label)}</text>')
    for i, (name, ys) in enumerate(curves.items()):
        colour = COLOURS[i % len(COLOURS)]
        pts = " ".join(px(x, max(0.0, min(1.0, y))) for x, y in zip(xs, ys))
        out.append(f'<polyline class="curve" data-name="{escape(name)}" fill="none" stroke="{colour}" '
                   f'stroke-width="2" points="{pts}"/>')
        out.extend(f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.5" fill="{colour}"/>'
                   for p in pts.split())
        ly = TOP + 14 + 18 * i
        out.append(f'<rect x="{LEFT + pw + 12}" y="{ly - 9}" width="12" height="10" fill="{colour}"/>'
                   f'<text x="{LEFT + pw + 28}" y="{ly}" font-size="12">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
