#!/usr/bin/env python3
"""Writes the first images of an MNIST-format folder as a smaller one, for
quick runs of the programs on real data.

Usage: mnist_subset.py SOURCE TARGET TRAIN_COUNT TEST_COUNT
SOURCE holds {train,t10k}-{images-idx3,labels-idx1}-ubyte, each possibly
.gz; TARGET (existing) receives the first TRAIN_COUNT training and
TEST_COUNT test images and labels, uncompressed. A count larger than the
source holds is refused (exit 2), not written as a header that claims more
images than follow."""
import gzip
import os
import struct
import sys


def read(folder, name):
    path = os.path.join(folder, name)
    if os.path.exists(path):
        return open(path, "rb").read()
    return gzip.open(path + ".gz").read()


def main():
    if len(sys.argv) != 5:
        print(__doc__.split("\n\n")[1].split("\n")[0], file=sys.stderr)
        sys.exit(2)
    source, target = sys.argv[1:3]
    try:
        counts = {"train": int(sys.argv[3]), "t10k": int(sys.argv[4])}
    except ValueError:
        print("mnist_subset.py: the counts are whole numbers", file=sys.stderr)
        sys.exit(2)
    subsets = []
    for split, count in counts.items():
        images = read(source, split + "-images-idx3-ubyte")
        labels = read(source, split + "-labels-idx1-ubyte")
        rows, columns = struct.unpack(">II", images[8:16])
        size = rows * columns
        held = min(struct.unpack(">I", images[4:8])[0], (len(images) - 16) // size,
                   struct.unpack(">I", labels[4:8])[0], len(labels) - 8)
        if not 0 <= count <= held:
            print(f"mnist_subset.py: {split}: asked for {count} images, "
                  f"{source} holds {held}", file=sys.stderr)
            sys.exit(2)
        subsets.append((split, count, rows, columns, images[16:16 + count * size],
                        labels[8:8 + count]))
    # Nothing is written unless both counts are possible.
    for split, count, rows, columns, pixels, classes in subsets:
        with open(os.path.join(target, split + "-images-idx3-ubyte"), "wb") as f:
            f.write(struct.pack(">IIII", 0x803, count, rows, columns) + pixels)
        with open(os.path.join(target, split + "-labels-idx1-ubyte"), "wb") as f:
            f.write(struct.pack(">II", 0x801, count) + classes)


if __name__ == "__main__":
    main()
