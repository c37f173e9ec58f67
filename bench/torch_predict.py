#!/usr/bin/env python3
"""PyTorch side of `npm run bench:predict`.

Builds the reference U-Net in PyTorch (the same architecture as gapseg's: per level two
3x3 conv (no bias) + batch norm + ReLU, 2x2 max-pool, 2x2 stride-2 transposed convs, skip
concatenation [up, skip], 1x1 head), loads the weights gapseg wrote (so both run the same
network), checks its output against gapseg's on a test input, times eager inference (batch
norm folded, the faster of the two memory formats, as a PyTorch user deploys it), and
writes PyTorch's own ONNX export for ONNX Runtime to run. Prints one JSON object.

Needs torch (Debian: apt-get install python3-torch, then run with /usr/bin/python3).
"""
import argparse
import copy
import json
import statistics
import sys
import time

import torch

from torch_unet_model import UNet, fused_for_inference, load_gapseg_weights, read_f32


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
    load_gapseg_weights(net, m)
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

        # Eager as a PyTorch user deploys it: batch norm folded, in the faster memory format.
        fused = fused_for_inference(copy.deepcopy(net))
        out["check_fused_max_abs_diff"] = float((fused(x).reshape(-1) - ref).abs().max())
        x = torch.randn(args.batch, 3, args.size, args.size)
        per_format = {}
        for fmt, mf in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
            model = copy.deepcopy(fused).to(memory_format=mf)
            xf = x.contiguous(memory_format=mf)
            for _ in range(2):
                model(xf)
            rates = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                for _ in range(args.iters):
                    model(xf)
                rates.append(args.batch * args.iters / (time.perf_counter() - t0))
            per_format[fmt] = rates
        best = max(per_format, key=lambda f: statistics.median(per_format[f]))
        out["eager_per_format"] = {f: statistics.median(r) for f, r in per_format.items()}
        out["eager_format"] = best
        out["eager_images_per_s"] = per_format[best]
        out["eager_median"] = statistics.median(per_format[best])

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
