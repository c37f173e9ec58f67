"""PyTorch peer of bench/trainMobile.ts: torchvision's mobilenet_v2().features as the encoder
(batch norm after each conv, as torchvision trains it), taps at strides 2, 4, 8, 16, 32 (the
expansions of blocks 1, 3, 6, 13 and the last conv), and gapseg's decoder: per level a 2x2
stride-2 transposed conv, the concatenation with the tap, two 3x3 conv + batch norm + ReLU; a
1x1 head. Random weights (speed only). One memory format per run (--format), as bench/trainMobile.ts
runs each in its own process and keeps the faster; inference with batch norm folded.

Prints one JSON object: median step time, forward rate, peak RSS, the convolution weights'
count and the logits' shape (which the benchmark compares with gapseg's network).

With --check MANIFEST (written by bench/trainMobile.ts) it only checks that PyTorch computes
gapseg's network itself from gapseg's tensors: the folded encoder (conv + bias + ReLU6,
TensorFlow's 'same' padding) and the decoder, inference logits and the training-mode loss.
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

from torch_unet_model import bench_args, fused_for_inference, read_f32, read_tensors


# MobileNetV2's blocks from its (t, c, n, s) table, as src/nets/mobilenetV2/encoder.ts builds them.
BLOCKS = [(t, c, s if i == 0 else 1) for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)] for i in range(n)]
TAP_BLOCKS = (1, 3, 6, 13)


def tf_same(x, k, s):
    """Pad as TensorFlow's 'same' does: the odd pixel at the bottom and right."""

    def pads(n):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        return total // 2, total - total // 2

    top, bottom = pads(x.shape[2])
    left, right = pads(x.shape[3])
    return F.pad(x, (left, right, top, bottom))


class GapsegTwin:
    """gapseg's MobileNetV2 U-Net computed by PyTorch from gapseg's tensors (TensorFlow layouts)."""

    def __init__(self, p, widths, eps):
        self.p, self.widths, self.eps = p, widths, eps

    def conv(self, x, name, stride=1, relu6=True):
        k = self.p[name + "/kernel"]
        y = F.conv2d(tf_same(x, k.shape[0], stride), k.permute(3, 2, 0, 1), self.p[name + "/bias"], stride)
        return F.relu6(y) if relu6 else y

    def encoder(self, x):
        taps = []
        h = self.conv(x, "enc_stem", 2)
        for i, (t, c, s) in enumerate(BLOCKS):
            inp = h
            if t != 1:
                h = self.conv(h, f"enc_b{i}_expand")
                if i in TAP_BLOCKS:
                    taps.append(h)
            k = self.p[f"enc_b{i}_dw/depthwise_kernel"]
            h = F.relu6(F.conv2d(tf_same(h, 3, s), k.permute(2, 3, 0, 1), self.p[f"enc_b{i}_dw/bias"], s, groups=k.shape[2]))
            h = self.conv(h, f"enc_b{i}_project", relu6=False)
            if s == 1 and inp.shape[1] == c:
                h = h + inp
        taps.append(self.conv(h, "enc_top"))
        return taps

    def block(self, x, level, n, training):
        """3x3 conv, batch norm (batch statistics when training, else the moving ones), ReLU."""
        p, bn = self.p, f"dec{level}_bn{n}"
        y = F.conv2d(x, p[f"dec{level}_conv{n}/kernel"].permute(3, 2, 0, 1), None, 1, 1)
        mean, var = (None, None) if training else (p[bn + "/moving_mean"], p[bn + "/moving_variance"])
        return F.relu(F.batch_norm(y, mean, var, p[bn + "/gamma"], p[bn + "/beta"], training=training, eps=self.eps))

    def __call__(self, x, training):
        taps = self.encoder(x)
        h = taps[4]
        for j in range(len(self.widths)):
            h = F.conv_transpose2d(h, self.p[f"dec{j}_up/kernel"].permute(3, 2, 0, 1), self.p[f"dec{j}_up/bias"], stride=2)
            if j < 4:
                h = torch.cat([h, taps[3 - j]], 1)
            h = self.block(self.block(h, j, 1, training), j, 2, training)
        return F.conv2d(h, self.p["head/kernel"].permute(3, 2, 0, 1), self.p["head/bias"])


def check(manifest_file):
    """Logits and training-mode loss of gapseg's tensors, to compare with gapseg's own."""
    m = json.load(open(manifest_file))
    p = read_tensors(m)
    cfg = m["config"]
    twin = GapsegTwin(p, cfg["decoderWidths"], cfg["bnEpsilon"])
    c, b, k = m["check"], m["batch"], cfg["numClasses"]
    out = {}
    with torch.no_grad():
        xc = read_f32(c["input"], 3 * c["height"] * c["width"]).reshape(1, 3, c["height"], c["width"])
        want = read_f32(c["logits"], k * c["height"] * c["width"])
        out["logitsMaxAbsDiff"] = float((twin(xc, False).reshape(-1) - want).abs().max())
        out["logitsMaxAbs"] = float(want.abs().max())
        xb = read_f32(b["images"], b["n"] * 3 * b["size"] * b["size"]).reshape(b["n"], 3, b["size"], b["size"])
        yb = read_f32(b["labels"], b["n"] * b["size"] * b["size"]).reshape(b["n"], b["size"], b["size"]).long()
        out["loss"] = float(F.cross_entropy(twin(xb, True), yb, ignore_index=-1))
    return out


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
    ap = bench_args(argparse.ArgumentParser())
    ap.add_argument("--widths", default="128,64,48,32,16")
    ap.add_argument("--check", help="gapseg's tensors and check values (bench/trainMobile.ts); only check")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.check:
        json.dump(check(args.check), sys.stdout)
        return
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
