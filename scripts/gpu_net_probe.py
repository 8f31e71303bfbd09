"""The shipped network's forward pass alone on the device ``auto`` picks (CUDA when available), batched, in
float32 and in half precision: frames per second at the network's pixel budget (160 x 120, what a 320 x 240 frame
is given), the number to hold against issue 19's 2000 frames/s. The rest of ``segment`` (the background model's
step, about 3 ms a frame on one CPU core) is measured by ``segment`` itself (``scripts/gpu_check.sh``).

    python scripts/gpu_net_probe.py [--batch 256] [--seconds 3]
"""

from __future__ import annotations

import argparse
import time

import torch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args(argv)
    from bgsub.devices import resolve_device
    from bgsub.models.unet import fuse_for_inference
    from bgsub.weights import load_network

    device = resolve_device("auto")
    net = fuse_for_inference(load_network()[0]).to(device)
    fmt = torch.channels_last
    net = net.to(memory_format=fmt)
    x = torch.rand(a.batch, net.spec.in_channels, 120, 160, device=device).contiguous(memory_format=fmt)
    dtypes = [None] + ([torch.float16, torch.bfloat16] if device.type == "cuda" else [torch.bfloat16])
    for dt in dtypes:
        with torch.inference_mode(), torch.autocast(device.type, dtype=dt or torch.float32, enabled=dt is not None):
            net(x)  # warm-up (cuDNN's choice of algorithms)
            if device.type == "cuda":
                torch.cuda.synchronize()
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < a.seconds:
                net(x)
                n += a.batch
            if device.type == "cuda":
                torch.cuda.synchronize()
            dt_s = time.perf_counter() - t0
        name = "float32" if dt is None else str(dt).replace("torch.", "")
        print(f"{device} {name} batch {a.batch}: {n / dt_s:.0f} frames/s (160 x 120)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
