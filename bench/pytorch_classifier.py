#!/usr/bin/python3
"""The honest classifier of cosnet-train in PyTorch, for the race of
bench/race-classifier.sh: the same network (--arch deep-classifier, the
default: conv3x3 16 pad 1, ReLU, pool, conv3x3 32 pad 1, ReLU, conv3x3 32
pad 1, ReLU, pool, dense 128, ReLU, dense 25; --arch classifier: the same
without the second 32-channel convolution), Glorot init, the
article's label table as targets, the cosine loss, AdamW with linear warm-up
and cosine decay, batch size, epochs and random shifts of up to N pixels,
then the test set classified by argmax_k cos(f(x), v_k).

PyTorch gets its best, as in bench/pytorch_pipeline.py's tuned form
(docs/performance.md, "PyTorch at its best"): the channels-last memory
format (--no-channels-last to turn it off), the shifts made for a whole
batch at once, and the trained model passed through
torch.jit.optimize_for_inference for the test (--no-optimize-inference).

Run with Debian's python3-torch: /usr/bin/python3 bench/pytorch_classifier.py
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_pipeline import AUTHOR_LABELS, cosine, default_data_dir, read_idx


def make_model(arch):
    second = ([nn.Conv2d(32, 32, 3, padding=1), nn.ReLU()]
              if arch == "deep-classifier" else [])
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), *second, nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(),
        nn.Linear(128, 25))
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model


def shifted(x, shift, generator):
    """Each image moved by whole pixels in [-shift, shift], zeros in: image
    i is the 28 x 28 window of its padded copy at offset d[i], all images
    gathered at once by index tensors."""
    if shift == 0:
        return x
    n = x.shape[0]
    padded = torch.nn.functional.pad(x, (shift, shift, shift, shift))
    d = torch.randint(0, 2 * shift + 1, (n, 2), generator=generator)
    pixels = torch.arange(28)
    rows = (d[:, 0, None] + pixels)[:, :, None]
    columns = (d[:, 1, None] + pixels)[:, None, :]
    return padded[torch.arange(n)[:, None, None], 0, rows,
                  columns].unsqueeze(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=default_data_dir())
    parser.add_argument("--arch", default="deep-classifier",
                        choices=("deep-classifier", "classifier"))
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--weight-decay", type=float, default=0.0001)
    parser.add_argument("--warmup", type=float, default=0.1)
    parser.add_argument("--augment", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the weights, shuffles and shifts")
    parser.add_argument("--no-channels-last", dest="channels_last",
                        action="store_false",
                        help="keep torch's default NCHW memory format")
    parser.add_argument("--no-optimize-inference", dest="optimize_inference",
                        action="store_false",
                        help="test the model as trained, without "
                        "torch.jit.optimize_for_inference")
    parser.add_argument("--eval-batch", type=int, default=1000,
                        help="test images per forward pass (default 1000)")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.eval_batch < 1:
        parser.error("--eval-batch: at least 1")
    layout = (torch.channels_last if args.channels_last
              else torch.contiguous_format)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    start = time.perf_counter()
    train_x = torch.from_numpy(read_idx(args.data, "train-images-idx3-ubyte")
                               .astype(np.float32) / 255.0).unsqueeze(1)
    train_y = torch.from_numpy(read_idx(args.data, "train-labels-idx1-ubyte")
                               .astype(np.int64))
    test_x = torch.from_numpy(read_idx(args.data, "t10k-images-idx3-ubyte")
                              .astype(np.float32) / 255.0).unsqueeze(1)
    test_y = torch.from_numpy(read_idx(args.data, "t10k-labels-idx1-ubyte")
                              .astype(np.int64))
    labels = torch.tensor(AUTHOR_LABELS, dtype=torch.float32)
    loaded = time.perf_counter()

    model = make_model(args.arch).to(memory_format=layout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr,
                                  betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=args.weight_decay)
    n, bs = train_x.shape[0], args.batch_size
    batches = (n + bs - 1) // bs
    steps = batches * args.epochs
    warm = args.warmup * steps

    def rate(step):
        t = step + 1.0
        if t <= warm:
            return args.lr * t / warm
        return args.lr * 0.5 * (1 + math.cos(math.pi * (t - warm) /
                                             (steps - warm + 1.0)))

    step = 0
    for _ in range(args.epochs):
        order = torch.randperm(n, generator=generator)
        for b in range(batches):
            index = order[b * bs:(b + 1) * bs]
            x = shifted(train_x[index], args.augment, generator)
            x = x.contiguous(memory_format=layout)
            target = labels[train_y[index]]
            for group in optimizer.param_groups:
                group["lr"] = rate(step)
            loss = (1.0 - cosine(model(x), target)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
    trained = time.perf_counter()

    # Preparing the model for inference counts as evaluation time.
    model.eval()
    if args.optimize_inference:
        model = torch.jit.optimize_for_inference(torch.jit.script(model))
    correct = 0
    batch = args.eval_batch
    with torch.no_grad():
        for first in range(0, test_x.shape[0], batch):
            x = test_x[first:first + batch].contiguous(memory_format=layout)
            out = model(x)
            scores = torch.stack([cosine(out, labels[k].expand_as(out))
                                  for k in range(10)], dim=1)
            correct += int((scores.argmax(dim=1) ==
                            test_y[first:first + batch]).sum())
    end = time.perf_counter()
    result = {"torch": torch.__version__, "threads": args.threads,
              "channels_last": args.channels_last,
              "optimize_inference": args.optimize_inference,
              "eval_batch": args.eval_batch,
              "test": {"correct": correct, "total": int(test_x.shape[0])},
              "time_s": {"load": loaded - start, "train": trained - loaded,
                         "eval": end - trained, "total": end - start}}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()
