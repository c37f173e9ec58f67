"""The reference U-Net in PyTorch, shared by the benchmarks' PyTorch peers (bench/torch_unet.py
for training, bench/torch_predict.py for inference): the same architecture as gapseg's, per
level two 3x3 conv (no bias) + batch norm + ReLU, 2x2 max-pool, 2x2 stride-2 transposed convs,
skip concatenation [up, skip], 1x1 head. Its state_dict names are the ones bench/predict.ts maps
gapseg's weights to.
"""
import torch
from torch import nn
import torch.nn.functional as F


def block(cin, cout, eps=1e-5):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout, eps=eps),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout, eps=eps),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    def __init__(self, in_channels, num_classes, depth, base_width, eps=1e-5):
        super().__init__()
        widths = [base_width * 2**i for i in range(depth + 1)]
        self.enc = nn.ModuleList()
        c = in_channels
        for i in range(depth):
            self.enc.append(block(c, widths[i], eps))
            c = widths[i]
        self.mid = block(c, widths[depth], eps)
        # up[j] and dec[j] serve level depth-1-j (deepest first).
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth)))
        self.dec = nn.ModuleList(block(2 * widths[i], widths[i], eps) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x):
        skips = []
        for b in self.enc:
            x = b(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.mid(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([up(x), skip], 1))
        return self.head(x)


def bench_args(ap):
    """The flags every PyTorch training peer takes: threads, batch, size, timed and warm-up steps, memory format."""
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--format", choices=["contiguous", "channels_last"], default="contiguous")
    return ap


def read_tensors(manifest):
    """The tensors gapseg wrote (bench/torchWeights.ts: a float32 file and its index), by name."""
    with open(manifest["weights"], "rb") as f:
        blob = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
    tensors = {}
    for t in manifest["tensors"]:
        n = 1
        for d in t["shape"]:
            n *= d
        start = t["offset"] // 4
        tensors[t["name"]] = blob[start : start + n].clone().reshape(t["shape"])
    return tensors


def load_gapseg_weights(net, manifest):
    """Load the weights gapseg wrote under the reference UNet's names into net."""
    state = read_tensors(manifest)
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"weights do not fit the PyTorch U-Net: missing {missing}, unexpected {unexpected}")


def read_f32(path, count):
    """count float32 values from a file that holds exactly them."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != 4 * count:
        raise SystemExit(f"{path}: {len(data)} bytes, expected {4 * count}")
    return torch.frombuffer(bytearray(data), dtype=torch.float32)


def fused_for_inference(net):
    """The network as a user of PyTorch deploys it on a CPU: eval mode, batch norm folded into the convolutions."""
    from torch.fx.experimental.optimization import fuse

    return fuse(net.eval())
