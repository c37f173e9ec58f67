"""PyTorch peer of bench/trainMobile.ts: torchvision's mobilenet_v2().features as the encoder
(batch norm after each conv, as torchvision trains it), taps at strides 2, 4, 8, 16, 32 (the
expansions of blocks 1, 3, 6, 13 and the last conv), and gapseg's decoder: per level a 2x2
stride-2 transposed conv, the concatenation with the tap, two 3x3 conv + batch norm + ReLU; a
1x1 head. Random weights (speed only). One memory format per run (--format), as bench/trainMobile.ts
runs each in its own process and keeps the faster; inference with batch norm folded.

Prints one JSON object: median step time, forward rate, peak RSS, the convolution weights'
count and the logits' shape (which the benchmark compares with gapseg's network).
"""
import argparse
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from torch_unet_model import fused_for_inference


class Level(nn.Module):
    def __init__(self, cin, skip, w):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, w, 2, stride=2)
        self.c1 = nn.Sequential(nn.Conv2d(w + skip, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        self.c2 = nn.Sequential(nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))

    def forward(self, x, skip):
        x = self.up(x)
        if skip is not None:
            x = torch.cat([x, skip], 1)
        return self.c2(self.c1(x))


class MobileUNet(nn.Module):
    TAPS = (2, 4, 7, 14)  # features[i]: blocks 1, 3, 6, 13

    def __init__(self, classes, widths):
        super().__init__()
        self.features = torchvision.models.mobilenet_v2().features
        channels = [96, 144, 192, 576, 1280]
        cin = 1280
        self.levels = nn.ModuleList()
        for j, w in enumerate(widths):
            self.levels.append(Level(cin, channels[3 - j] if j < 4 else 0, w))
            cin = w
        self.head = nn.Conv2d(cin, classes, 1)

    def forward(self, x):
        f = self.features
        taps = []
        x = f[0](x)
        for i in range(1, 18):
            block = f[i]
            if i in self.TAPS:
                e = block.conv[0](x)
                taps.append(e)
                r = e
                for k in range(1, len(block.conv)):
                    r = block.conv[k](r)
                x = x + r if block.use_res_connect else r
            else:
                x = block(x)
        taps.append(f[18](x))
        h = taps[4]
        for j, level in enumerate(self.levels):
            h = level(h, taps[3 - j] if j < 4 else None)
        return self.head(h)


def conv_weights(model):
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--widths", default="128,64,48,32,16")
    ap.add_argument("--format", choices=["contiguous", "channels_last"], default="contiguous")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    mf = torch.channels_last if args.format == "channels_last" else torch.contiguous_format
    model = MobileUNet(2, [int(w) for w in args.widths.split(",")]).to(memory_format=mf)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n, s = args.batch, args.size
    x = torch.randn(n, 3, s, s).contiguous(memory_format=mf)
    y = torch.randint(0, 2, (n, s, s))
    y[torch.rand(n, s, s) < 0.1] = -1

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, ignore_index=-1)
        loss.backward()
        opt.step()

    model.train()
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    train_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    with torch.no_grad():
        fused = fused_for_inference(model).to(memory_format=mf)
        out_shape = list(fused(x).shape)
        ftimes = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            fused(x)
            ftimes.append(time.perf_counter() - t0)
    json.dump(
        {
            "version": torch.__version__,
            "format": args.format,
            "stepSeconds": statistics.median(times),
            "forwardImagesPerSecond": n / statistics.median(ftimes),
            "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "trainPeakRssMB": train_rss,
            "convWeights": conv_weights(model),
            "logitsShape": out_shape,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
