#!/usr/bin/python3
"""How much of conv1's pooled output reads a nonzero pixel, on MNIST: the
counts behind the column spans of lib/kernels/conv_driver.c
(docs/performance.md, "Zeros by column").

conv1 is 3x3, pad 1, on 28x28, then a 2x2 max-pool: pooled pixel (r, c)
reads padded rows 2r .. 2r + 3 and columns 2c .. 2c + 3. Prints, over the
first N training images, the fraction of pooled pixels whose window holds a
nonzero pixel, of pooled rows that hold one, and of the run from the first
to the last such pixel in each row (what the kernels compute), the share
of those runs 8 and 4 pooled columns long at most, and the 16-lane
vectors of output columns that cover those runs per image (two per row
before the change). Then the multiply-adds of those runs that multiply
an input row whose values under the run, or under one of the kernels'
groups of 3 pooled pixels, are all zero (docs/performance.md, "Tried and
not kept: skipping conv1's zero input rows"): a pooled pixel's four input
rows take 6, 12, 12 and 6 of its 36 multiply-adds. Last, the share of
conv2's F(4x4) tiles whose input holds no pooled pixel of a run (what a
blank image's tiles hold; docs/performance.md, "Measured and not built").

Usage: /usr/bin/python3 bench/conv1_zero_windows.py [MNIST_DIR] [N]
(default $COSNET_DATA, else ~/.cache/cosnet/mnist; N 20000). Needs numpy
(Debian's python3-numpy, which python3-torch brings).
"""
import os
import sys

import numpy as np


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "COSNET_DATA", os.path.expanduser("~/.cache/cosnet/mnist"))
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    with open(os.path.join(folder, "train-images-idx3-ubyte"), "rb") as f:
        data = f.read()
    images = np.frombuffer(data, np.uint8, offset=16).reshape(-1, 28, 28)
    images = images[:count]
    n = images.shape[0]
    padded = np.zeros((n, 30, 30), bool)
    padded[:, 1:29, 1:29] = images > 0
    active = np.zeros((n, 14, 14), bool)
    for r in range(14):
        for c in range(14):
            active[:, r, c] = padded[:, 2 * r:2 * r + 4,
                                     2 * c:2 * c + 4].any(axis=(1, 2))
    rows = active.any(axis=2)
    first = np.argmax(active, axis=2)
    last = 13 - np.argmax(active[:, :, ::-1], axis=2)
    run = np.where(rows, last - first + 1, 0)
    vectors = np.ceil(2 * run / 16).sum() / n
    print(f"images: {n}")
    print(f"pooled pixels reading a nonzero pixel: {active.mean():.1%}")
    print(f"pooled rows holding one: {rows.mean():.1%}")
    print(f"runs from first to last per row: {run.sum() / (n * 196):.1%}")
    held = run[rows]
    print(f"runs of at most 8 / 4 pooled columns: {(held <= 8).mean():.1%} / "
          f"{(held <= 4).mean():.1%} of the rows holding one")
    print(f"16-lane vectors of output columns per image: {vectors:.2f} "
          f"(every row holding one, two vectors a row: "
          f"{2 * rows.sum() / n:.2f})")
    # Nonzero values of padded columns [a, b) of a row: the difference of
    # two prefix counts.
    prefix = np.zeros((n, 30, 31), np.int32)
    prefix[:, :, 1:] = np.cumsum(padded, axis=2)
    images = np.arange(n)
    row_share = (6, 12, 12, 6)
    total = 36 * run.sum()
    for name, group in (("the run", 14), ("a group of 3", 3)):
        skipped = 0
        for r in range(14):
            for g in range(0, 14, group):
                start = np.minimum(first[:, r] + g, 14)
                size = np.clip(last[:, r] + 1 - start, 0, group)
                size = np.where(rows[:, r], size, 0)
                for k in range(4):
                    y = 2 * r + k
                    ones = (prefix[images, y, 2 * (start + size) + 2] -
                            prefix[images, y, 2 * start])
                    skipped += row_share[k] * size[ones == 0].sum()
        print(f"multiply-adds of the runs on input rows all zero under "
              f"{name}: {skipped / total:.1%}")
    # conv2 (pad 2, 16 x 16 outputs) by F(4x4): tile (i, j) reads padded
    # rows and columns 4i .. 4i + 5, pooled pixels 4i - 2 .. 4i + 3. Outside
    # the runs conv1 writes ReLU(bias), so a tile that reads no pooled pixel
    # of a run reads what it reads for a blank image.
    cols = np.arange(14)
    in_run = (rows[:, :, None] & (cols >= first[:, :, None]) &
              (cols <= last[:, :, None]))
    conv2_input = np.zeros((n, 18, 18), bool)
    conv2_input[:, 2:16, 2:16] = in_run
    blank = np.zeros((n, 4, 4), bool)
    for i in range(4):
        for j in range(4):
            blank[:, i, j] = ~conv2_input[:, 4 * i:4 * i + 6,
                                          4 * j:4 * j + 6].any(axis=(1, 2))
    print(f"conv2's F(4x4) tiles reading no pooled pixel of a run: "
          f"{blank.mean():.1%} (corners {blank[:, ::3, ::3].mean():.1%})")


if __name__ == "__main__":
    main()
