#!/usr/bin/env python3
"""Checks a cosnet-mnist or cosnet-train HTML report against the run's JSON
and the MNIST files it came from, and a browser's screenshot of it.

Usage:
  check_report_real.py report REPORT.html RUN.json MNIST_DIR [SVG_DIR]
      every inline SVG parses as XML; the heatmap cells hold the JSON's
      confusion counts; the rule bars hold the JSON's correct/total; the
      gallery holds min(50, errors) or more images, each labelled with the
      test set's true label, its PNG decoding to the test image's pixels;
      SVG_DIR's files parse too.
  check_report_real.py train-report REPORT.html RUN.json DATA_DIR SVG_DIR
      cosnet-train's report: three inline SVGs (loss, test confusion,
      gallery) and no rules; one loss series with a point per epoch (and
      the validation accuracy's when the JSON has it); the heatmap holds
      the JSON's confusion counts, the class names on both axes and each
      row's accuracy; the gallery holds min(50, errors) images in order of
      margin, each captioned with both class names and similarities, its
      label and PNG those of the test file; SVG_DIR holds the four figures.
  check_report_real.py screenshot SHOT.png WIDTH HEIGHT
      the PNG decodes (CRCs checked, all filter types), has the window's
      size, several distinct colours and a non-white fraction that is
      neither blank nor solid."""
import base64
import gzip
import os
import re
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def read_png(data):
    """Decodes 8-bit gray, gray+alpha, RGB or RGBA PNG (not interlaced):
    returns width, height, channels, rows of bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, idat = 8, b""
    width = height = channels = None
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, "bad CRC"
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(
                ">IIBBBBB", body)
            assert depth == 8 and interlace == 0, "unsupported PNG"
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        for i in range(stride):
            a = row[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if kind == 1:
                row[i] = (row[i] + a) & 255
            elif kind == 2:
                row[i] = (row[i] + b) & 255
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                row[i] = (row[i] + pred) & 255
        rows.append(bytes(row))
        previous = row
    return width, height, channels, rows


def read_idx(folder, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(folder, candidate)
        if os.path.exists(path):
            opener = gzip.open if candidate.endswith(".gz") else open
            with opener(path, "rb") as f:
                return f.read()
    raise FileNotFoundError(os.path.join(folder, name))


def cells_of(root):
    return {(int(c.get("data-actual")), int(c.get("data-predicted"))):
            int(c.get("data-count"))
            for c in root.iter(SVG + "rect") if c.get("class") == "cell"}


def read_report(html_path, inline_figures):
    """The HTML (self-contained) and its inline SVGs parsed as XML."""
    html = open(html_path, encoding="utf-8").read()
    check(not re.search(r"<(script|link|iframe)|src=|url\(|@import", html),
          "the HTML refers to an outside resource")
    blocks = re.findall(r"<svg .*?</svg>", html, re.S)
    roots = []
    for number, block in enumerate(blocks):
        try:
            roots.append(ET.fromstring(block))
        except ET.ParseError as error:
            check(False, "inline SVG %d does not parse: %s" % (number, error))
    check(len(blocks) == inline_figures, "%d inline SVGs, expected %d"
          % (len(blocks), inline_figures))
    return html, roots


def check_tile(tile, images, labels):
    """A gallery tile against the test files: its label, a wrong
    prediction, its PNG the test image. Returns index, truth, said."""
    index = int(tile.get("data-index"))
    truth, said = int(tile.get("data-true")), int(tile.get("data-predicted"))
    check(truth == labels[8 + index],
          "gallery: image %d labelled %d, the file says %d"
          % (index, truth, labels[8 + index]))
    check(truth != said, "gallery: image %d is not misclassified" % index)
    href = next(tile.iter(SVG + "image")).get(XLINK + "href")
    w, h, channels, rows = read_png(base64.b64decode(href.split(",", 1)[1]))
    want = images[16 + index * 784:16 + (index + 1) * 784]
    check((w, h, channels) == (28, 28, 1) and b"".join(rows) == want,
          "gallery: image %d's PNG differs from the test image" % index)
    return index, truth, said


def check_report(html_path, json_path, mnist, svg_dir=None):
    import json
    run = json.load(open(json_path))
    html, roots = read_report(html_path, 7)
    titles = {(r.find(SVG + "title").text or ""): r for r in roots}
    rules = {"seed rule": "seed_rule", "own-label rule": "own_label_rule"}
    for rule_name, key in rules.items():
        for split in ("train", "test"):
            title = "Confusion matrix, %s, %s set" % (rule_name, split)
            if not check(title in titles, "no figure '%s'" % title):
                continue
            cells = cells_of(titles[title])
            matrix = run[key][split + "_confusion"]
            want = {(a, p): matrix[a][p] for a in range(10) for p in range(10)}
            check(cells == want, "%s: cells differ from the JSON" % title)
    bars = [e for r in roots for e in r.iter(SVG + "rect")
            if e.get("class") == "bar"]
    keys = ["seed_rule", "own_label_rule", "image_blind_audit"]
    check(len(bars) == 6, "%d rule bars, expected 6" % len(bars))
    for bar in bars:
        entry = run[keys[int(bar.get("data-rule"))]][bar.get("data-split")]
        check((int(bar.get("data-correct")), int(bar.get("data-total")))
              == (entry["correct"], entry["total"]),
              "bar %s/%s differs from the JSON"
              % (bar.get("data-rule"), bar.get("data-split")))
    # The gallery against the test files.
    images = read_idx(mnist, "t10k-images-idx3-ubyte")
    labels = read_idx(mnist, "t10k-labels-idx1-ubyte")
    errors = run["own_label_rule"]["test"]["total"] - \
        run["own_label_rule"]["test"]["correct"]
    tiles = [g for r in roots for g in r.iter(SVG + "g")
             if g.get("class") == "miss"]
    check(len(tiles) >= min(50, errors),
          "gallery: %d images for %d errors" % (len(tiles), errors))
    for tile in tiles:
        check_tile(tile, images, labels)
    if svg_dir:
        for name in sorted(os.listdir(svg_dir)):
            try:
                ET.parse(os.path.join(svg_dir, name))
            except ET.ParseError as error:
                check(False, "%s does not parse: %s" % (name, error))
        check(len(os.listdir(svg_dir)) == 8,
              "%d files in the SVG folder" % len(os.listdir(svg_dir)))
    print("report: %d inline figures, %d gallery images (of %d errors), "
          "%d failures" % (len(roots), len(tiles), errors, len(failures)))


def polyline_points(group):
    return sum(len(line.get("points").split())
               for line in group.iter(SVG + "polyline"))


def check_train_report(html_path, json_path, data_dir, svg_dir):
    """cosnet-train's report: the classifier's figures only, against its
    JSON and the test files."""
    import json
    run = json.load(open(json_path))
    html, roots = read_report(html_path, 3)
    check(not re.search(r'id="(figure-)?rules"|seed rule|own-label rule|'
                        r'image-blind', html),
          "the classifier's report shows the pipeline's rules")
    files = sorted(os.listdir(svg_dir))
    check(files == ["config.svg", "confusion-test.svg", "gallery.svg",
                    "loss.svg"], "SVG folder holds %s" % files)
    for name in files:
        try:
            ET.parse(os.path.join(svg_dir, name))
        except ET.ParseError as error:
            check(False, "%s does not parse: %s" % (name, error))
    titles = {(r.find(SVG + "title").text or ""): r for r in roots}
    names = [c["name"] for c in run["test"]["classes"]]
    test = run["test"]
    # Loss: one series, one point per epoch; validation likewise.
    loss = titles.get("Training loss per epoch")
    if check(loss is not None, "no loss figure"):
        series = [g for g in loss.iter(SVG + "g") if g.get("class") == "loss"]
        check(len(series) == 1, "%d loss series, expected 1" % len(series))
        epochs = len(run["loss_history"])
        check(series and polyline_points(series[0]) == epochs,
              "loss series: %d points for %d epochs"
              % (polyline_points(series[0]) if series else -1, epochs))
        # The axis names the loss the run trained with.
        loss_name = ("softmax cross-entropy" if run.get("softmax", 0) > 0
                     else "1 - cos")
        axis = "epoch loss (mean %s over the epoch)" % loss_name
        check(axis in [t.text for t in loss.iter(SVG + "text")],
              "loss figure: no axis title %r" % axis)
        validation = [g for g in loss.iter(SVG + "g")
                      if g.get("class") == "validation"]
        want = 1 if run["validation_accuracy"] else 0
        check(len(validation) == want,
              "%d validation series, expected %d" % (len(validation), want))
        if validation:
            check(polyline_points(validation[0]) ==
                  len(run["validation_accuracy"]),
                  "validation series: wrong number of points")
    # Confusion: the JSON's counts, the class names on both axes, the
    # accuracy of each row.
    confusion = titles.get("Confusion matrix, test set")
    if check(confusion is not None, "no test confusion figure"):
        cells = cells_of(confusion)
        want = {(a, p): test["confusion"][a][p]
                for a in range(10) for p in range(10)}
        check(cells == want, "confusion cells differ from the JSON")
        texts = [t.text for t in confusion.iter(SVG + "text")]
        for k, name in enumerate(names):
            check(texts.count(name) >= 2, "class name %r not on both axes"
                  % name)
            c = run["test"]["classes"][k]
            accuracy = "%.1f%%" % (100.0 * c["correct"] / c["total"]
                                   if c["total"] else 0.0)
            check(accuracy in texts, "row accuracy %s of %s missing"
                  % (accuracy, name))
        check(any(t and t.startswith("test set: %d/%d" % (test["correct"],
                                                           test["total"]))
                  for t in texts), "confusion heading lacks the accuracy")
    # Gallery: min(50, errors) images, lowest margin first, each with the
    # test file's label, both names, both similarities and its pixels.
    images = read_idx(data_dir, "t10k-images-idx3-ubyte")
    labels = read_idx(data_dir, "t10k-labels-idx1-ubyte")
    errors = test["total"] - test["correct"]
    tiles = [g for r in roots for g in r.iter(SVG + "g")
             if g.get("class") == "miss"]
    check(len(tiles) == min(50, errors),
          "gallery: %d images for %d errors" % (len(tiles), errors))
    margins = []
    for tile in tiles:
        index, truth, said = check_tile(tile, images, labels)
        texts = [t.text for t in tile.iter(SVG + "text")]
        check(len(texts) == 4 and texts[0] == "true " + names[truth]
              and texts[1] == "said " + names[said],
              "gallery: image %d captions %r" % (index, texts))
        similarities = [float(t.split("= ")[1]) for t in texts[2:4]]
        check(similarities[0] >= similarities[1],
              "gallery: image %d: s(said) < s(true)" % index)
        margins.append(similarities[0] - similarities[1])
    # Captions round to 4 decimals: allow that much disorder.
    check(all(b >= a - 2e-4 for a, b in zip(margins, margins[1:])),
          "gallery: not in order of margin")
    check("<th>epochs</th><td>%d</td>" % len(run["loss_history"]) in html,
          "configuration table: epochs")
    check("<th>batch size</th><td>%d</td>" % run["batch_size"] in html,
          "configuration table: batch size")
    loss_row = ("<th>loss</th><td>softmax of %g x the cosines to every label "
                "vector</td>" % run["softmax"] if run.get("softmax", 0) > 0
                else "<th>loss</th><td>1 - cos(f(x), v_y)</td>")
    check(loss_row in html, "configuration table: no %r" % loss_row)
    print("train report: %d inline figures, %d gallery images (of %d errors),"
          " %d failures" % (len(roots), len(tiles), errors, len(failures)))


def check_screenshot(path, width, height):
    w, h, channels, rows = read_png(open(path, "rb").read())
    check((w, h) == (width, height),
          "screenshot is %dx%d, expected %dx%d" % (w, h, width, height))
    colours, non_white, total = set(), 0, 0
    for row in rows[::2]:
        for x in range(0, w * channels, channels * 2):
            pixel = row[x:x + min(channels, 3)]
            colours.add(pixel)
            total += 1
            if min(pixel) < 240:
                non_white += 1
    fraction = non_white / total
    check(len(colours) >= 16, "only %d distinct colours" % len(colours))
    check(0.03 <= fraction <= 0.9, "non-white fraction %.3f" % fraction)
    print("screenshot: %dx%d, %d colours, %.1f%% non-white"
          % (w, h, len(colours), 100 * fraction))


def main():
    if sys.argv[1] == "report":
        check_report(*sys.argv[2:])
    elif sys.argv[1] == "train-report":
        check_train_report(*sys.argv[2:])
    elif sys.argv[1] == "screenshot":
        check_screenshot(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        print(__doc__)
        return 2
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
