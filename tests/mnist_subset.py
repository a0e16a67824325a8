#!/usr/bin/env python3
"""Writes the first images of an MNIST-format folder as a smaller one, for
quick runs of the programs on real data.

Usage: mnist_subset.py SOURCE TARGET TRAIN_COUNT TEST_COUNT
SOURCE holds {train,t10k}-{images-idx3,labels-idx1}-ubyte, each possibly
.gz; TARGET (existing) receives the first TRAIN_COUNT training and
TEST_COUNT test images and labels, uncompressed."""
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
    source, target = sys.argv[1:3]
    counts = {"train": int(sys.argv[3]), "t10k": int(sys.argv[4])}
    for split, count in counts.items():
        images = read(source, split + "-images-idx3-ubyte")
        labels = read(source, split + "-labels-idx1-ubyte")
        with open(os.path.join(target, split + "-images-idx3-ubyte"), "wb") as f:
            f.write(struct.pack(">IIII", 0x803, count, 28, 28)
                    + images[16:16 + count * 784])
        with open(os.path.join(target, split + "-labels-idx1-ubyte"), "wb") as f:
            f.write(struct.pack(">II", 0x801, count) + labels[8:8 + count])


if __name__ == "__main__":
    main()
