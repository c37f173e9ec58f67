"""PyTorch reference for gapseg's training benchmark: the same U-Net, batch and loss.

Network: encoder widths 16-32-64-128, 256-wide bottleneck, two 3x3 conv (no bias) + batch
norm + ReLU per level, 2x2 max-pool, 2x2 stride-2 transposed convolutions, skip
concatenation, 1x1 head with 2 outputs. Loss: softmax cross-entropy averaged over labelled
pixels (void = -1 is ignored). Optimiser: Adam.

One run times one memory format (--format contiguous or channels_last): training steps, and
inference as a PyTorch user deploys it (batch norm folded into the convolutions); bench/train.ts
runs both, each in its own process (so each peak RSS is that configuration's own), and keeps
the faster. With --check MANIFEST (written by bench/train.ts) it only checks that it computes
gapseg's network: the same weights give the same inference logits and the same training-mode
loss on the reference batch.

Prints one JSON object on stdout: median step time, forward-only rate, peak RSS and the loss
curve on the shared synthetic task (read from --task, written by bench/train.ts), or the check.
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

from torch_unet_model import UNet, bench_args, fused_for_inference, load_gapseg_weights, read_f32


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def check(manifest_file):
    """Logits and training-mode loss of gapseg's weights, to compare with gapseg's own."""
    m = json.load(open(manifest_file))
    cfg = m["unet"]
    net = UNet(cfg["inChannels"], cfg["numClasses"], cfg["depth"], cfg["baseWidth"], cfg["bnEpsilon"])
    load_gapseg_weights(net, m)
    c = m["check"]
    out = {}
    net.eval()
    with torch.no_grad():
        xc = read_f32(c["input"], 3 * c["height"] * c["width"]).reshape(1, 3, c["height"], c["width"])
        want = read_f32(c["logits"], cfg["numClasses"] * c["height"] * c["width"])
        out["logitsMaxAbsDiff"] = float((net(xc).reshape(-1) - want).abs().max())
        out["logitsMaxAbs"] = float(want.abs().max())
    b = m["batch"]
    xb = read_f32(b["images"], b["n"] * 3 * b["size"] * b["size"]).reshape(b["n"], 3, b["size"], b["size"])
    yb = read_f32(b["labels"], b["n"] * b["size"] * b["size"]).reshape(b["n"], b["size"], b["size"]).long()
    net.train()
    out["loss"] = float(F.cross_entropy(net(xb), yb, ignore_index=-1))
    return out


def main():
    ap = bench_args(argparse.ArgumentParser())
    ap.add_argument("--task", help="synthetic task file from bench/train.ts")
    ap.add_argument("--task-steps", type=int, default=30)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--check", help="gapseg's weights and check values (bench/train.ts); only check")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.check:
        json.dump(check(args.check), sys.stdout)
        return
    mf = torch.channels_last if args.format == "channels_last" else torch.contiguous_format
    n, s = args.batch, args.size

    def trainer():
        torch.manual_seed(0)
        model = UNet(3, 2, depth=4, base_width=16).to(memory_format=mf)
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)

        def step(xb, yb):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb.contiguous(memory_format=mf)), yb, ignore_index=-1)
            loss.backward()
            opt.step()
            return loss.item()

        return model, step

    x = torch.randn(n, 3, s, s)
    y = torch.randint(0, 2, (n, s, s))
    y[torch.rand(n, s, s) < 0.1] = -1  # some void pixels
    model, step = trainer()
    model.train()
    for _ in range(args.warmup):
        step(x, y)
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t0)
    train_rss = peak_rss_mb()

    with torch.no_grad():
        fused = fused_for_inference(model).to(memory_format=mf)
        xf = x.contiguous(memory_format=mf)
        for _ in range(args.warmup):
            fused(xf)
        ftimes = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            fused(xf)
            ftimes.append(time.perf_counter() - t0)

    curve = []
    if args.task:
        raw = np.fromfile(args.task, dtype=np.float32)
        count = int(raw[0])
        img = raw[1 : 1 + count * s * s * 3].reshape(count, s, s, 3).transpose(0, 3, 1, 2).copy()
        lab = raw[1 + count * s * s * 3 :].reshape(count, s, s).astype(np.int64)
        model, step = trainer()
        model.train()
        for i in range(args.task_steps):
            idx = [(i * n + b) % count for b in range(n)]
            curve.append(step(torch.from_numpy(img[idx]), torch.from_numpy(lab[idx])))

    json.dump(
        {
            "engine": "pytorch",
            "version": torch.__version__,
            "threads": torch.get_num_threads(),
            "format": args.format,
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
