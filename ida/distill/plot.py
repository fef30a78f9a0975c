"""A PNG line plot of accuracy curves, with nothing but numpy and zlib (no plotting library).

The y axis is 0-100 % with a grid line every 10 %, the x axis is training steps; each
curve has its own colour, named in the legend swatches' order and in the PNG's text chunk.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from ida.files import write_atomic

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
W, H, LEFT, BOTTOM, TOP, RIGHT = 640, 400, 50, 40, 30, 20
# 3x5 digits and '%', for the axis labels
GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", "%": "101001010100101",
}


def _text(img: np.ndarray, x: int, y: int, s: str, scale: int = 2) -> None:
    for i, ch in enumerate(s):
        bits = GLYPHS.get(ch)
        if bits is None:
            continue
        for k, b in enumerate(bits):
            if b == "1":
                r, c = divmod(k, 3)
                y0, x0 = y + r * scale, x + i * 4 * scale + c * scale
                img[y0 : y0 + scale, x0 : x0 + scale] = 0


def _line(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, colour: tuple[int, int, int]) -> None:
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    for t in np.linspace(0, 1, n + 1):
        x, y = int(round(x0 + t * (x1 - x0))), int(round(y0 + t * (y1 - y0)))
        img[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2] = colour


def curves_png(path: str | Path, xs: list[int], curves: dict[str, list[float]]) -> Path:
    """Write the curves (values in 0..1 against xs) as a PNG; returns the path."""
    img = np.full((H, W, 3), 255, dtype=np.uint8)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    x_max = max(xs) if xs else 1

    def px(x: float, y: float) -> tuple[float, float]:
        return LEFT + plot_w * x / x_max, TOP + plot_h * (1 - y)

    for tick in range(0, 11):
        _, y = px(0, tick / 10)
        img[int(y), LEFT : W - RIGHT] = 220 if tick % 5 else 160
        if tick % 5 == 0:
            _text(img, 4, int(y) - 5, f"{tick * 10}%")
    img[TOP : H - BOTTOM + 1, LEFT] = 0
    img[H - BOTTOM, LEFT : W - RIGHT] = 0
    for x in (xs[:: max(1, len(xs) // 5)] + xs[-1:]) if xs else []:
        gx, _ = px(x, 0)
        img[H - BOTTOM : H - BOTTOM + 5, int(gx)] = 0
        _text(img, int(gx) - 8, H - BOTTOM + 10, str(x))
    for i, ys in enumerate(curves.values()):
        colour = COLOURS[i % len(COLOURS)]
        pts = [px(x, y) for x, y in zip(xs, ys)]
        for (a, b), (c, d) in zip(pts, pts[1:]):
            _line(img, a, b, c, d, colour)
        for a, b in pts:
            img[int(b) - 3 : int(b) + 4, int(a) - 3 : int(a) + 4] = colour
        img[8:20, W - RIGHT - 30 * (len(curves) - i) : W - RIGHT - 30 * (len(curves) - i) + 20] = colour  # legend
    legend = ", ".join(f"{name}: rgb{COLOURS[i % len(COLOURS)]}" for i, name in enumerate(curves))
    path = Path(path)
    write_atomic(path, _png(img, {"Title": "held-out exact match against training steps", "Legend": legend}))
    return path


def _png(img: np.ndarray, text: dict[str, str]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    for k, v in text.items():
        out += chunk(b"tEXt", k.encode() + b"\0" + v.encode("latin-1", "replace"))
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
