#!/usr/bin/env python3
"""PyTorch side of `npm run bench:predict`.

Builds the reference U-Net in PyTorch (the same architecture as gapseg's: per level two
3x3 conv (no bias) + batch norm + ReLU, 2x2 max-pool, 2x2 stride-2 transposed convs, skip
concatenation [up, skip], 1x1 head), loads the weights gapseg wrote (so both run the same
network), checks its output against gapseg's on a test input, times eager inference, and
writes PyTorch's own ONNX export for ONNX Runtime to run. Prints one JSON object.

Needs torch (Debian: apt-get install python3-torch, then run with /usr/bin/python3).
"""
import argparse
import json
import statistics
import sys
import time

import torch

from torch_unet_model import UNet


def read_f32(path, count):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != 4 * count:
        raise SystemExit(f"{path}: {len(data)} bytes, expected {4 * count}")
    return torch.frombuffer(bytearray(data), dtype=torch.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True, help="JSON written by bench/predict.ts")
    ap.add_argument("--onnx-out", required=True)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=5, help="batches per round")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    m = json.load(open(args.manifest))
    cfg = m["unet"]
    net = UNet(cfg["inChannels"], cfg["numClasses"], cfg["depth"], cfg["baseWidth"], cfg["bnEpsilon"])
    with open(m["weights"], "rb") as f:
        blob = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    state = {}
    for t in m["tensors"]:
        n = 1
        for d in t["shape"]:
            n *= d
        start = t["offset"] // 4
        state[t["name"]] = blob[start : start + n].clone().reshape(t["shape"])
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"weights do not fit the PyTorch U-Net: missing {missing}, unexpected {unexpected}")
    net.eval()

    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    with torch.inference_mode():
        # Same network? Compare with gapseg's logits on gapseg's test input.
        c = m["check"]
        x = read_f32(c["input"], 1 * 3 * c["height"] * c["width"]).reshape(1, 3, c["height"], c["width"])
        ref = read_f32(c["logits"], cfg["numClasses"] * c["height"] * c["width"])
        y = net(x).reshape(-1)
        out["check_max_abs_diff"] = float((y - ref).abs().max())
        out["check_max_abs_logit"] = float(ref.abs().max())

        x = torch.randn(args.batch, 3, args.size, args.size)
        for _ in range(2):
            net(x)
        rates = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for _ in range(args.iters):
                net(x)
            rates.append(args.batch * args.iters / (time.perf_counter() - t0))
        out["eager_images_per_s"] = rates
        out["eager_median"] = statistics.median(rates)

    torch.onnx.export(
        net,
        torch.randn(1, 3, 64, 64),
        args.onnx_out,
        opset_version=17,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch", 2: "height", 3: "width"}},
        do_constant_folding=True,
    )
    out["onnx"] = args.onnx_out
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
