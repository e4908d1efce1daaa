#!/usr/bin/env python3
"""Checks a litevk-chat screenshot: a PNG of the window's size whose transcript
(left of the 300-pixel side panel, at HiDPI scale 1 as under Xvfb) has text in
at least two of the exit-block colours of the legend that the app printed
("litevk-chat: legend 3:#rrggbb 4:#rrggbb 5:#rrggbb").
With --banner it checks instead that the error banner (ui.c's ERROR_BG) spans
the top of the transcript.

usage: chat_screenshot_check.py SHOT.png WIDTH HEIGHT LEGEND_FILE [--banner]"""
import re
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind}"
        if kind == b"IHDR":
            w, h, depth, color = struct.unpack(">IIBB", body[:10])
            assert (depth, color) == (8, 6), "expected 8-bit RGBA"
            size = (w, h)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    w, h = size
    rows = [raw[y * (4 * w + 1) + 1:(y + 1) * (4 * w + 1)] for y in range(h)]
    assert all(raw[y * (4 * w + 1)] == 0 for y in range(h)), "expected filter 0 rows"
    return w, h, rows


def main():
    shot, width, height, legend_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    legend = dict(re.findall(r"(\d+):#([0-9a-f]{6})", open(legend_file).read()))
    assert legend, "the app printed no legend"
    w, h, rows = read_png(shot)
    assert (w, h) == (width, height), f"screenshot is {w}x{h}, the window {width}x{height}"
    if sys.argv[5:] == ["--banner"]:
        error_bg = bytes.fromhex("802424")
        banner_rows = [y for y in range(h) if rows[y][0:3] == error_bg and rows[y][4 * (w - 301):4 * (w - 301) + 3] == error_bg]
        assert len(banner_rows) >= 20, f"no error banner across the transcript ({len(banner_rows)} rows)"
        print("ok:", shot, f"{w}x{h}, an error banner of {len(banner_rows)} rows")
        return
    counts = {}
    wanted = {bytes.fromhex(c): layer for layer, c in legend.items()}
    transcript = 4 * (w - 300)
    for row in rows:
        for x in range(0, transcript, 4):
            layer = wanted.get(row[x:x + 3])
            if layer:
                counts[layer] = counts.get(layer, 0) + 1
    print("transcript pixels per exit-block colour:", counts)
    seen = [layer for layer, n in counts.items() if n >= 20]  # a few glyphs' worth
    assert len(seen) >= 2, f"fewer than two exit colours in the screenshot: {counts}"
    print("ok:", shot, f"{w}x{h}, exit colours of blocks", ", ".join(sorted(seen, key=int)))


main()
