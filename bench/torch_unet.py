"""PyTorch reference for gapseg's training benchmark: the same U-Net, batch and loss.

Network: encoder widths 16-32-64-128, 256-wide bottleneck, two 3x3 conv (no bias) + batch
norm + ReLU per level, 2x2 max-pool, 2x2 stride-2 transposed convolutions, skip
concatenation, 1x1 head with 2 outputs. Loss: softmax cross-entropy averaged over labelled
pixels (void = -1 is ignored). Optimiser: Adam.

Prints one JSON object on stdout: median step time, forward-only rate, peak RSS, and the
loss curve on the shared synthetic task (read from --task, written by bench/train.ts).
"""
import argparse
import json
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from torch_unet_model import UNet


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--task", help="synthetic task file from bench/train.ts")
    ap.add_argument("--task-steps", type=int, default=30)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, s = args.batch, args.size

    model = UNet(3, 2, depth=4, base_width=16)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    x = torch.randn(n, 3, s, s)
    y = torch.randint(0, 2, (n, s, s))
    y[torch.rand(n, s, s) < 0.1] = -1  # some void pixels

    def step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb, ignore_index=-1)
        loss.backward()
        opt.step()
        return loss.item()

    model.train()
    for _ in range(args.warmup):
        step(x, y)
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t0)
    train_rss = peak_rss_mb()

    model.eval()
    ftimes = []
    with torch.no_grad():
        for _ in range(args.warmup):
            model(x)
        for _ in range(args.steps):
            t0 = time.perf_counter()
            model(x)
            ftimes.append(time.perf_counter() - t0)

    curve = []
    if args.task:
        raw = np.fromfile(args.task, dtype=np.float32)
        count = int(raw[0])
        img = raw[1 : 1 + count * s * s * 3].reshape(count, s, s, 3).transpose(0, 3, 1, 2).copy()
        lab = raw[1 + count * s * s * 3 :].reshape(count, s, s).astype(np.int64)
        torch.manual_seed(0)
        model = UNet(3, 2, depth=4, base_width=16)
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
        model.train()
        for i in range(args.task_steps):
            idx = [(i * n + b) % count for b in range(n)]
            curve.append(step(torch.from_numpy(img[idx]), torch.from_numpy(lab[idx])))

    json.dump(
        {
            "engine": "pytorch",
            "version": torch.__version__,
            "threads": torch.get_num_threads(),
            "stepSeconds": statistics.median(times),
            "stepTimes": times,
            "trainImagesPerSecond": n / statistics.median(times),
            "forwardImagesPerSecond": n / statistics.median(ftimes),
            "peakRssMB": max(train_rss, peak_rss_mb()),
            "trainPeakRssMB": train_rss,
            "lossCurve": curve,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
