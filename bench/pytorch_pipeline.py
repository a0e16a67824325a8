#!/usr/bin/python3
"""The article's MNIST pipeline in PyTorch, as the reference for the race
against cosnet-mnist (bench/race.sh): the same network, initialisation,
optimiser, label table, data, batch order, epochs and evaluation work.

Run with Debian's python3-torch: /usr/bin/python3 bench/pytorch_pipeline.py

By default it is the straightforward PyTorch program: one process, the
digits trained one after another on --threads intra-op threads, the
models in eval mode under no_grad. The options are what PyTorch offers to
make the same work faster (bench/race.sh uses them for its "tuned" run;
docs/performance.md, "PyTorch at its best", says what each gives):
--channels-last (the NHWC memory format, oneDNN's preferred one, for
training and evaluation), --optimize-inference (each trained model
scripted, frozen and passed through torch.jit.optimize_for_inference for
the evaluation) and --processes N (N worker processes, --threads divided
among them: the digits trained N at once, as cosnet-mnist trains one digit
per thread, and each set's images evaluated in N parts at once).
"""
import argparse
import gzip
import json
import multiprocessing
import os
import sys
import time

import numpy as np
import torch
from torch import nn

# The article's label_vectors() table, digit k in row k.
AUTHOR_LABELS = [
    [0.0788, 0.1254, 0.0268, 0.2183, 0.3003, 0.3279, 0.0510, 0.0439, 0.3552,
     0.0749, 0.0862, 0.3351, 0.0506, 0.1168, 0.1643, 0.1960, 0.2681, 0.2267,
     0.1867, 0.3841, 0.0528, 0.1355, 0.0233, 0.0842, 0.2447],
    [0.0751, 0.1258, 0.2656, 0.0132, 0.0048, 0.0459, 0.0123, 0.0921, 0.0722,
     0.4720, 0.0563, 0.0858, 0.1946, 0.0289, 0.0549, 0.0889, 0.0180, 0.0328,
     0.2810, 0.0050, 0.2128, 0.0508, 0.6535, 0.0418, 0.2278],
    [0.2016, 0.2286, 0.0246, 0.0350, 0.0284, 0.0113, 0.5795, 0.0695, 0.0989,
     0.0515, 0.5213, 0.0253, 0.2721, 0.0178, 0.0095, 0.0061, 0.0243, 0.0309,
     0.1076, 0.0285, 0.2499, 0.1712, 0.0729, 0.3033, 0.0366],
    [0.0282, 0.1384, 0.0564, 0.0931, 0.0529, 0.0337, 0.1164, 0.1348, 0.0838,
     0.0159, 0.3105, 0.0114, 0.1378, 0.0378, 0.0598, 0.7858, 0.0471, 0.1663,
     0.0565, 0.0347, 0.0680, 0.2686, 0.0610, 0.2588, 0.0746],
    [0.0368, 0.1348, 0.6532, 0.1854, 0.0323, 0.1109, 0.1187, 0.0222, 0.0124,
     0.1473, 0.2992, 0.0402, 0.0864, 0.2666, 0.0860, 0.0477, 0.2516, 0.2643,
     0.0793, 0.1082, 0.3297, 0.0828, 0.0344, 0.0016, 0.1499],
    [0.4528, 0.1523, 0.0251, 0.0511, 0.1991, 0.0561, 0.1557, 0.6983, 0.0731,
     0.1860, 0.0884, 0.0276, 0.1971, 0.1252, 0.1858, 0.0104, 0.0453, 0.1107,
     0.0252, 0.0585, 0.0470, 0.1628, 0.1336, 0.0263, 0.1031],
    [0.1442, 0.0414, 0.0260, 0.1051, 0.1011, 0.0484, 0.0940, 0.0715, 0.0459,
     0.5043, 0.0312, 0.0336, 0.1456, 0.5837, 0.2772, 0.0289, 0.4086, 0.0950,
     0.1037, 0.0274, 0.0142, 0.0024, 0.0353, 0.2247, 0.0419],
    [0.0253, 0.0100, 0.0521, 0.1290, 0.1214, 0.1809, 0.0092, 0.0036, 0.0223,
     0.0029, 0.0192, 0.0209, 0.5189, 0.1902, 0.2108, 0.0400, 0.0302, 0.1245,
     0.4193, 0.0728, 0.0449, 0.5350, 0.2411, 0.1886, 0.0111],
    [0.1489, 0.7321, 0.0011, 0.0065, 0.0215, 0.0462, 0.1617, 0.0958, 0.1073,
     0.0546, 0.0956, 0.0459, 0.0222, 0.1168, 0.2183, 0.0008, 0.0317, 0.0330,
     0.0749, 0.3990, 0.0605, 0.1267, 0.3394, 0.1195, 0.0142],
    [0.5247, 0.0227, 0.2495, 0.0037, 0.1025, 0.2442, 0.0776, 0.0051, 0.0561,
     0.0639, 0.0168, 0.1553, 0.1897, 0.0241, 0.0676, 0.1564, 0.0050, 0.0364,
     0.0179, 0.0769, 0.0420, 0.0796, 0.2302, 0.5864, 0.2758],
]

EPS = 1e-6


def default_data_dir():
    if os.environ.get("COSNET_DATA"):
        return os.environ["COSNET_DATA"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "cosnet", "mnist")


def read_idx(folder, name):
    """An IDX file (raw, or NAME.gz when the raw one is absent) as numpy."""
    path = os.path.join(folder, name)
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
    else:
        with gzip.open(path + ".gz", "rb") as f:
            data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    dims = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big")
             for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8,
                         offset=4 + 4 * dims).reshape(shape)


def cosine(a, b):
    """The article's torch-form cosine along dim 1: a.b / sqrt(max(|a|^2
    |b|^2, eps^2)) (not F.cosine_similarity, whose clamping differs)."""
    w12 = (a * b).sum(dim=1)
    w1 = (a * a).sum(dim=1)
    w2 = (b * b).sum(dim=1)
    return w12 / torch.sqrt(torch.clamp(w1 * w2, min=EPS * EPS))


def make_model():
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 8, 3, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 1, 3, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten())
    for layer in model:
        if isinstance(layer, nn.Conv2d):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model


def train_digit(images, target, args):
    model = new_model(args)
    if args.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    # torch's AdamW first decays (w -= lr*wd*w), then subtracts the Adam
    # step; Optax/Axon (and libcosnet) subtract lr*(adam_step + wd*w) in one
    # go. Equal in exact arithmetic but rounded differently, so close to,
    # not bit-identical with, the article's optimiser; the work is the same.
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01,
                                  betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=0.01)
    n = images.shape[0]
    bs = args.batch_size
    loss_value = 0.0
    for _ in range(args.epochs):
        epoch_loss = 0.0
        # The article's order: from the last slice to the first.
        for b in reversed(range(args.batches)):
            x = images[b * bs:(b + 1) * bs]
            loss = (1.0 - cosine(model(x), target.expand(bs, -1))).sum() / bs
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item() * bs / n
        loss_value = epoch_loss
    return model, loss_value


def evaluate(models, labels, images, digits, batch, channels_last=False):
    """Counts of the seed rule (s_k = cos(f_k(x), v_y)) and the own-label
    rule (s_k = cos(f_k(x), v_k)); argmax keeps the first maximum."""
    seed_correct = own_correct = 0
    with torch.no_grad():
        for start in range(0, images.shape[0], batch):
            # np.array copies: torch wants a writable buffer.
            x = torch.from_numpy(np.array(images[start:start + batch]))
            x = x.float().div_(255).unsqueeze(1)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y = torch.from_numpy(digits[start:start + batch].astype(np.int64))
            outputs = [m(x) for m in models]
            true_vectors = labels[y]
            seed = torch.stack([cosine(o, true_vectors) for o in outputs], 1)
            own = torch.stack([cosine(o, labels[k].expand_as(o))
                               for k, o in enumerate(outputs)], 1)
            seed_correct += int((seed.argmax(1) == y).sum())
            own_correct += int((own.argmax(1) == y).sum())
    return seed_correct, own_correct


def train_one(k, train_x, train_y, labels, args):
    """Digit k's model (its own seeded shuffle of the digit's images, not
    libcosnet's) and final epoch loss."""
    per_digit = args.batches * args.batch_size
    rng = np.random.default_rng(args.seed * 1000003 + 100 + k)
    indices = np.flatnonzero(train_y == k)
    chosen = rng.permutation(indices)[:per_digit]
    images = torch.from_numpy(train_x[chosen]).float().div_(255)
    torch.manual_seed(args.seed * 1000003 + k)
    return train_digit(images.unsqueeze(1), labels[k], args)


# A worker process's copy of the data, set by its initializer.
worker_data = None


def worker_start(data, threads):
    global worker_data
    worker_data = data
    torch.set_num_threads(threads)


def worker_train(k):
    """train_one in a worker: the model goes back as its parameters."""
    sets, labels, args = worker_data
    train_x, train_y = sets[0]
    model, loss = train_one(k, train_x, train_y, labels, args)
    return model.state_dict(), loss


def new_model(args, state=None):
    """A fresh model in the memory format of args, with these parameters if
    given."""
    model = make_model()
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if state is not None:
        model.load_state_dict(state)
    return model


def worker_evaluate(task):
    """Counts of part `part` of `parts` of set `which` (0 training, 1 test)
    through the models with these parameters."""
    states, which, part, parts = task
    sets, labels, args = worker_data
    images, digits = sets[which]
    first = len(images) * part // parts
    end = len(images) * (part + 1) // parts
    models = [for_inference(new_model(args, state), args) for state in states]
    return evaluate(models, labels, images[first:end], digits[first:end],
                    args.eval_batch, args.channels_last)


def run_workers(sets, labels, args):
    """Training and evaluation in args.processes workers, forked before this
    process runs any parallel torch operation so each starts with its own
    thread pool: the ten models' final losses and both sets' counts."""
    threads = max(1, args.threads // args.processes)
    context = multiprocessing.get_context("fork")
    with context.Pool(args.processes, initializer=worker_start,
                      initargs=((sets, labels, args), threads)) as pool:
        results = pool.map(worker_train, range(10), chunksize=1)
        trained = time.perf_counter()
        states = [state for state, _ in results]
        tasks = [(states, which, part, args.processes)
                 for which in (0, 1) for part in range(args.processes)]
        parts = pool.map(worker_evaluate, tasks, chunksize=1)
    counts = [tuple(sum(c) for c in zip(*parts[which * args.processes:
                                               (which + 1) * args.processes]))
              for which in (0, 1)]
    return [loss for _, loss in results], trained, counts[0], counts[1]


def for_inference(model, args):
    """The model as the evaluation runs it."""
    model.eval()
    if args.optimize_inference:
        model = torch.jit.optimize_for_inference(torch.jit.script(model))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_data_dir())
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batches", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eval-batch", type=int, default=1000,
                        help="images per forward pass in the evaluation "
                        "(default 1000, as the article's test)")
    parser.add_argument("--channels-last", action="store_true",
                        help="models and images in the channels-last "
                        "(NHWC) memory format")
    parser.add_argument("--optimize-inference", action="store_true",
                        help="evaluate each model scripted, frozen and "
                        "optimised by torch.jit.optimize_for_inference")
    parser.add_argument("--processes", type=int, default=1,
                        help="train the digits and evaluate parts of the "
                        "images in this many processes at once, each with "
                        "--threads / N threads (default 1)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if min(args.epochs, args.batches, args.batch_size, args.threads,
           args.eval_batch, args.processes) < 1:
        parser.error("--epochs, --batches, --batch-size, --threads, "
                     "--eval-batch, --processes: each at least 1")

    start = time.perf_counter()
    train_x = read_idx(args.data, "train-images-idx3-ubyte")
    train_y = read_idx(args.data, "train-labels-idx1-ubyte")
    test_x = read_idx(args.data, "t10k-images-idx3-ubyte")
    test_y = read_idx(args.data, "t10k-labels-idx1-ubyte")
    labels = torch.tensor(AUTHOR_LABELS, dtype=torch.float32)
    loaded = time.perf_counter()

    # Checked here, not in the workers, so a short digit stops the program.
    per_digit = args.batches * args.batch_size
    for k in range(10):
        count = int(np.count_nonzero(train_y == k))
        if count < per_digit:
            sys.exit(f"pytorch_pipeline: digit {k} has {count} images, "
                     f"{per_digit} needed")
    if args.processes > 1:
        losses, trained, train_counts, test_counts = run_workers(
            ((train_x, train_y), (test_x, test_y)), labels, args)
    else:
        torch.set_num_threads(args.threads)
        results = [train_one(k, train_x, train_y, labels, args)
                   for k in range(10)]
        losses = [loss for _, loss in results]
        trained = time.perf_counter()
        # Preparing the models for inference counts as evaluation time.
        models = [for_inference(model, args) for model, _ in results]
        train_counts = evaluate(models, labels, train_x, train_y,
                                args.eval_batch, args.channels_last)
        test_counts = evaluate(models, labels, test_x, test_y,
                               args.eval_batch, args.channels_last)
    end = time.perf_counter()

    result = {
        "torch": torch.__version__,
        "threads": args.threads,
        "config": {"labels": "author", "seed": args.seed,
                   "epochs": args.epochs, "batches": args.batches,
                   "batch_size": args.batch_size,
                   "eval_batch": args.eval_batch,
                   "channels_last": args.channels_last,
                   "optimize_inference": args.optimize_inference,
                   "processes": args.processes},
        "seed_rule": {
            "train": {"correct": train_counts[0], "total": len(train_y)},
            "test": {"correct": test_counts[0], "total": len(test_y)}},
        "own_label_rule": {
            "train": {"correct": train_counts[1], "total": len(train_y)},
            "test": {"correct": test_counts[1], "total": len(test_y)}},
        "final_loss": losses,
        "time_s": {"load": loaded - start, "train": trained - loaded,
                   "eval": end - trained, "total": end - start},
    }
    tuning = [name for name, on in (
        ("channels-last", args.channels_last),
        ("optimize-inference", args.optimize_inference),
        (f"{args.processes} processes", args.processes > 1)) if on]
    print(f"pytorch {torch.__version__}, {args.threads} threads"
          + (f"; {', '.join(tuning)}" if tuning else ""))
    for name, key in (("seed rule", "seed_rule"),
                      ("own-label rule", "own_label_rule")):
        r = result[key]
        print(f"{name}: train {r['train']['correct']}/{r['train']['total']}"
              f" | test {r['test']['correct']}/{r['test']['total']}")
    t = result["time_s"]
    print(f"time: load {t['load']:.2f} s | train {t['train']:.2f} s | "
          f"evaluation {t['eval']:.2f} s | total {t['total']:.2f} s")
    if args.json:
        temporary = args.json + ".tmp"
        with open(temporary, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        os.replace(temporary, args.json)


if __name__ == "__main__":
    main()
