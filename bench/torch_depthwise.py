"""PyTorch peer of bench/depthwise.ts: depthwise 3x3 conv forward, input gradient and filter
gradient on the given layers, NCHW and channels_last, at a fixed thread count.

The gradients are timed one at a time through aten's convolution_backward with an output
mask, as the wasm kernels compute them. Padding 1 on both sides gives TensorFlow's 'same'
output sizes (TensorFlow pads stride-2 layers at the bottom and right only; the work is the
same). Prints {"nchw": [...], "channelsLast": [...]} with ms per call (fastest of 15).
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


def fastest_ms(f, reps=15):
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append((time.perf_counter() - t0) * 1000)
    return min(ts)


def layer_times(batch, hw, c, s, channels_last):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(batch, c, hw, hw).to(memory_format=fmt)
    w = torch.randn(c, 1, 3, 3).to(memory_format=fmt)
    dy = torch.randn(batch, c, hw // s, hw // s).to(memory_format=fmt)
    args = ([s, s], [1, 1], [1, 1], False, [0, 0], c)

    def grad(mask):
        return lambda: torch.ops.aten.convolution_backward(dy, x, w, None, *args, mask)

    with torch.no_grad():
        return {
            'fwd': fastest_ms(lambda: F.conv2d(x, w, None, s, 1, 1, c)),
            'dx': fastest_ms(grad([True, False, False])),
            'dw': fastest_ms(grad([False, True, False])),
        }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--layers', required=True, help='JSON list of [size, channels, stride, count]')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    layers = json.loads(a.layers)
    out = {
        key: [layer_times(a.batch, hw, c, s, cl) for hw, c, s, _ in layers]
        for key, cl in (('nchw', False), ('channelsLast', True))
    }
    print(json.dumps(out))


if __name__ == '__main__':
    main()
