#!/usr/bin/env python3
"""Checks the report as a reader's tools see it: runs report-sample (known
data), parses every SVG file and every inline SVG of the HTML as XML,
checks the heatmap cells' counts, and decodes every gallery PNG (struct +
zlib, CRCs checked) back to the known pixels. Then the same for the
classifier's kind of report (report-sample --classifier): its four figures
only, one loss series and one validation series of 7 points, the class
names on the heatmap's axes and in the gallery's captions.

Usage: check_report_files.py REPORT_SAMPLE_BINARY"""
import base64
import os
import re
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
FILES = ["loss", "rules", "confusion-own-label-test",
         "confusion-own-label-train", "confusion-seed-test",
         "confusion-seed-train", "gallery", "config"]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def expected_count(rule, split, a, p):
    if a == p:
        return 900 + 10 * a + rule + split
    return (7 * a + 3 * p + 11 * rule + 5 * split) % 23


def decode_png(data):
    """8-bit grayscale PNG -> (width, height, bytes); asserts every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    at, idat, width, height, ended = 8, b"", None, None, False
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind = data[at + 4:at + 8]
        body = data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, "CRC of %r" % kind
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(
                ">IIBBBBB", body)
            assert (depth, colour, interlace) == (8, 0, 0), "IHDR fields"
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            ended = True
        at += 12 + length
    assert ended and width and height, "IHDR/IEND"
    raw = zlib.decompress(idat)
    assert len(raw) == (width + 1) * height, "scanline bytes"
    pixels = bytearray()
    for y in range(height):
        line = raw[y * (width + 1):(y + 1) * (width + 1)]
        assert line[0] == 0, "filter byte"
        pixels += line[1:]
    return width, height, bytes(pixels)


def check_confusion(root, rule, split, where):
    cells = [e for e in root.iter(SVG + "rect") if e.get("class") == "cell"]
    check(len(cells) == 100, "%s: %d cells, not 100" % (where, len(cells)))
    for cell in cells:
        a, p = int(cell.get("data-actual")), int(cell.get("data-predicted"))
        want = expected_count(rule, split, a, p)
        check(int(cell.get("data-count")) == want,
              "%s: cell %d,%d holds %s, not %d"
              % (where, a, p, cell.get("data-count"), want))
    texts = [t.text for t in root.iter(SVG + "text")]
    for a in range(10):
        for p in range(10):
            check(str(expected_count(rule, split, a, p)) in texts,
                  "%s: count of %d,%d not printed" % (where, a, p))


def check_gallery(root, where):
    tiles = [g for g in root.iter(SVG + "g") if g.get("class") == "miss"]
    check(len(tiles) == 12, "%s: %d gallery tiles, not 12" % (where, len(tiles)))
    for i, tile in enumerate(tiles):
        check(tile.get("data-true") == str(i % 10)
              and tile.get("data-predicted") == str((i + 3) % 10),
              "%s: tile %d labels" % (where, i))
        texts = [t.text for t in tile.iter(SVG + "text")]
        check("true %d, said %d" % (i % 10, (i + 3) % 10) in texts,
              "%s: tile %d caption %r" % (where, i, texts))
        images = list(tile.iter(SVG + "image"))
        check(len(images) == 1, "%s: tile %d has %d images" % (where, i, len(images)))
        href = images[0].get(XLINK + "href") or images[0].get("href")
        prefix = "data:image/png;base64,"
        check(href.startswith(prefix), "%s: tile %d not a PNG data URI" % (where, i))
        try:
            w, h, pixels = decode_png(base64.b64decode(href[len(prefix):],
                                                       validate=True))
        except AssertionError as error:
            check(False, "%s: tile %d PNG: %s" % (where, i, error))
            continue
        want = bytes((31 * i + 7 * j) % 256 for j in range(28 * 28))
        check((w, h) == (28, 28) and pixels == want,
              "%s: tile %d pixels differ" % (where, i))


def run_sample(command, files, where):
    """Runs report-sample; returns its SVG files parsed (by name) and its
    HTML. The folder must hold exactly `files`."""
    with tempfile.TemporaryDirectory() as folder:
        html_path = os.path.join(folder, "report.html")
        svg_dir = os.path.join(folder, "svg")
        subprocess.run(command + [html_path, svg_dir], check=True)
        roots = {}
        for name in files:
            path = os.path.join(svg_dir, name + ".svg")
            try:
                roots[name] = ET.parse(path).getroot()
            except (OSError, ET.ParseError) as error:
                check(False, "%s%s: %s" % (where, path, error))
        check(sorted(os.listdir(svg_dir)) == sorted(f + ".svg" for f in files),
              "%sSVG folder holds %s" % (where, sorted(os.listdir(svg_dir))))
        return roots, open(html_path, encoding="utf-8").read()


NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
         "Shirt", "Sneaker", "Bag", "Ankle boot"]
CLASSIFIER_FILES = ["loss", "confusion-test", "gallery", "config"]


def points(group):
    return sum(len(line.get("points").split())
               for line in group.iter(SVG + "polyline"))


def check_classifier(binary):
    """cosnet-train's kind of report: one loss series, the test confusion
    with class names, named gallery captions, no rules."""
    roots, html = run_sample([binary, "--classifier"], CLASSIFIER_FILES,
                             "classifier: ")
    inline = re.findall(r"<svg .*?</svg>", html, re.S)
    check(len(inline) == 3, "classifier: %d inline SVGs, not 3" % len(inline))
    for number, block in enumerate(inline):
        try:
            ET.fromstring(block)
        except ET.ParseError as error:
            check(False, "classifier: inline SVG %d: %s" % (number, error))
    check(not re.search(r"seed rule|own-label rule|image-blind|figure-rules",
                        html), "classifier: the pipeline's rules shown")
    check("Test accuracy: 9470/10475 (90.41%)" in html,
          "classifier: the accuracy sentence")
    if "loss" in roots:
        series = [g for g in roots["loss"].iter(SVG + "g")
                  if g.get("class") == "loss"]
        check(len(series) == 1 and points(series[0]) == 7,
              "classifier: loss series %r" % [points(g) for g in series])
        validation = [g for g in roots["loss"].iter(SVG + "g")
                      if g.get("class") == "validation"]
        check(len(validation) == 1 and points(validation[0]) == 7,
              "classifier: validation series %r"
              % [points(g) for g in validation])
        texts = [t.text for t in roots["loss"].iter(SVG + "text")]
        check("0.0429" in texts and "92.00%" in texts,
              "classifier: last loss and validation accuracy in the legend")
    if "confusion-test" in roots:
        root = roots["confusion-test"]
        check_confusion(root, 1, 1, "classifier confusion-test.svg")
        texts = [t.text for t in root.iter(SVG + "text")]
        for name in NAMES:
            check(texts.count(name) == 2,
                  "classifier: %r %d times on the axes, not 2"
                  % (name, texts.count(name)))
        check("test set: 9470/10475 (90.41%)" in texts,
              "classifier: confusion heading")
    if "gallery" in roots:
        tiles = [g for g in roots["gallery"].iter(SVG + "g")
                 if g.get("class") == "miss"]
        check(len(tiles) == 12, "classifier: %d tiles, not 12" % len(tiles))
        for i, tile in enumerate(tiles):
            texts = [t.text for t in tile.iter(SVG + "text")]
            want = ["true " + NAMES[i % 10], "said " + NAMES[(i + 3) % 10],
                    "s(said) = %.4f" % (0.5 + i / 100), "s(true) = 0.4000"]
            check(texts == want, "classifier: tile %d captions %r, not %r"
                  % (i, texts, want))


def main():
    binary = sys.argv[1]
    check_classifier(binary)
    roots, html = run_sample([binary], FILES, "")
    inline = re.findall(r"<svg .*?</svg>", html, re.S)
    check(len(inline) == 7, "%d inline SVGs, not 7" % len(inline))
    inline_roots = []
    for number, block in enumerate(inline):
        try:
            inline_roots.append(ET.fromstring(block))
        except ET.ParseError as error:
            check(False, "inline SVG %d: %s" % (number, error))
    for name, rule, split in [("confusion-own-label-test", 1, 1),
                              ("confusion-own-label-train", 1, 0),
                              ("confusion-seed-test", 0, 1),
                              ("confusion-seed-train", 0, 0)]:
        if name in roots:
            check_confusion(roots[name], rule, split, name + ".svg")
    if "gallery" in roots:
        check_gallery(roots["gallery"], "gallery.svg")
    galleries = [r for r in inline_roots
                 if any(g.get("class") == "miss" for g in r.iter(SVG + "g"))]
    check(len(galleries) == 1, "HTML: %d inline galleries" % len(galleries))
    for root in galleries:
        check_gallery(root, "HTML gallery")
    check("sample &amp; test labels" in html, "configuration not escaped")
    check("<th>version</th><td>sample &lt;1.0&gt;</td>" in html,
          "configuration table row")
    check(not re.search(r"<(script|link|iframe)|src=|url\(", html),
          "HTML refers to an outside resource")
    for failure in failures:
        print("FAIL:", failure)
    print("report files: %d checks failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
