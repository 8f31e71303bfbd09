#!/usr/bin/env python
"""Reproduce the two sparse-coding seed papers on the MNIST digits that are here (mnist-t10k).

    python scripts/reproduce_sparse_layers.py [--quick] [--json] [--data PATH] [--out DIR] [--threads N]

1. Koch & Corso (Fig. 3): a curtailed LeNet (MatConvNet's cnn_mnist: conv5x5 -> maxpool -> conv5x5 -> maxpool ->
   fc -> ReLU -> fc, channels scaled down for a CPU) against the same net with a CSF first layer, an SF layer in
   place of fc + ReLU, and both; trained on 100 / 300 / 600 labelled images drawn from the training pool (images
   0-4999), several label subsets each, tested on images 5000-9999 (all of them, or the first 1000 with --quick).
   The replaced layers have no bias in the baseline either, so the four nets have exactly equal parameter counts.
   Semi-supervised variant (Eq. 14): the sparse nets also see unlabelled batches from the rest of the pool through
   the Eq. 12 loss of each sparse layer, mu stepped down 0.8, 0.5, 0.3, 0 over equal quarters of training.
2. Sulam: ML-ISTA vs ML-FISTA on (P) for two dictionaries and 16 test digits: F - F_opt per iteration (F_opt from
   the primal-dual solver), saved as OUT/ml_fista_vs_ml_ista.png; ML-ISTA networks with K = 1, 2, 4 unrolled
   iterations (same parameters) trained on the same digits: test accuracy against K.

Everything is seeded. Results: a JSON object (stdout with --json, always OUT/results.json) and a Markdown
summary on stderr. Not comparable with results trained on the 60,000-image MNIST training set. If the data folder
is absent the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

try:  # run from a checkout without installing
    import bgsub  # noqa: F401
except ModuleNotFoundError:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bgsub.losses import mu_schedule, semi_supervised_loss, sparse_layer_loss
from bgsub.models.ml_ista import MLISTANet
from bgsub.models.sparse import ConvSparseFactorization, SparseFactorization
from bgsub.solvers.ml_ista import default_steps, ml_bp_primal_dual, ml_fista, ml_ista

VARIANTS = ("lenet", "csf", "sf", "csf+sf")


_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:6.0f} s] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ data
def load_mnist(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(10000, 1, 28, 28) float32 in [0, 1] and (10000,) int64 labels from the IDX files."""
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as f:
        raw = f.read()
    n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, rows, cols)
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64))


def label_subset(labels: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """``count`` indices from the training pool (0-4999), class-balanced (count/10 per digit), seeded."""
    g = torch.Generator().manual_seed(seed)
    pool = labels[:5000]
    per = count // 10
    out = []
    for c in range(10):
        idx = (pool == c).nonzero().squeeze(1)
        out.append(idx[torch.randperm(len(idx), generator=g)[:per]])
    return torch.cat(out)


# ------------------------------------------------------------------------------------------------ nets
class DigitNet(nn.Module):
    """The curtailed LeNet and its sparse variants. ``sparse_terms(x)`` gives (layer, input, output) per sparse
    layer for the Eq. 12 loss (the logits come along)."""

    def __init__(self, variant: str, c1: int, c2: int, hidden: int, lam_csf: float, lam_sf: float, lam2: float):
        super().__init__()
        self.variant = variant
        self.conv1 = (ConvSparseFactorization(1, c1, 5, lam1=lam_csf, lam2=lam2) if "csf" in variant
                      else nn.Conv2d(1, c1, 5, bias=False))
        self.conv2 = nn.Conv2d(c1, c2, 5)
        feat = c2 * 4 * 4
        self.fc1 = (SparseFactorization(feat, hidden, lam1=lam_sf, lam2=lam2) if variant in ("sf", "csf+sf")
                    else nn.Linear(feat, hidden, bias=False))
        self.fc2 = nn.Linear(hidden, 10)

    def _run(self, x):
        terms = []
        h = self.conv1(x)
        if isinstance(self.conv1, ConvSparseFactorization):
            terms.append((self.conv1, x, h))
        h = F.max_pool2d(self.conv2(F.max_pool2d(h, 2)), 2).flatten(1)
        z = self.fc1(h)
        if isinstance(self.fc1, SparseFactorization):
            terms.append((self.fc1, h, z))
        else:
            z = F.relu(z)
        return self.fc2(z), terms

    def forward(self, x):
        return self._run(x)[0]

    def sparse_terms(self, x):
        return self._run(x)


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def accuracy(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    was = net.training
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(X), batch):
            correct += int((net(X[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    net.train(was)
    return 100.0 * correct / len(X)


def train(net: nn.Module, X: torch.Tensor, y: torch.Tensor, *, steps: int, batch: int, lr: float, seed: int,
          unlabelled: torch.Tensor | None = None, propagate: bool = False) -> dict:
    """Adam on cross-entropy (plus, with ``unlabelled``, Eq. 14 with the Eq. 12 losses and the mu step-down).

    propagate: let the Eq. 12 gradient flow into the layers below each sparse layer (Eq. 15). Off by default:
    for an SF layer on learned features it has a trivial minimiser (the layers below output 0, every code is 0,
    and the SF layer, with an empty active set, passes no gradient any more); measured, it collapses to chance.
    Off, the unsupervised term trains the dictionaries only, which is Eq. 14 as the paper writes it (on grad_P)."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    t0 = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(len(X), (min(batch, len(X)),), generator=g)
        loss = F.cross_entropy(net(X[idx]), y[idx])
        if unlabelled is not None:
            mu = mu_schedule(step, steps)
            if mu > 0:
                u = unlabelled[torch.randint(len(unlabelled), (batch,), generator=g)]
                _, terms = net.sparse_terms(u)
                unsup = sum(sparse_layer_loss(layer, inp if propagate else inp.detach(), out)
                            for layer, inp, out in terms)
                loss = semi_supervised_loss(loss, unsup, mu)
        opt.zero_grad()
        loss.backward()
        opt.step()  # the sparse layers' dictionaries are projected back to the unit ball by their step hook
    return {"seconds": time.perf_counter() - t0}


def mean_std(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "runs": values}


# ------------------------------------------------------------------------------------------------ part 1
def koch_corso(images, labels, cfg, seeds) -> dict:
    X_test, y_test = images[5000:5000 + cfg["test"]], labels[5000:5000 + cfg["test"]]
    out: dict = {"params": {}, "supervised": {}, "semi_supervised": {}, "semi_supervised_propagated": {}}
    for v in VARIANTS:
        torch.manual_seed(0)
        out["params"][v] = n_params(DigitNet(v, **cfg["net"]))
    for count in cfg["labels"]:
        for v in VARIANTS:
            for semi in ("", "semi_supervised", "semi_supervised_propagated"):
                if semi and (v == "lenet" or count not in cfg["semi_labels"]):
                    continue
                if semi == "semi_supervised_propagated" and v != "sf":
                    continue  # (CSF's input is the image: nothing below it to propagate into)
                accs, secs = [], []
                for seed in seeds:
                    idx = label_subset(labels, count, seed)
                    rest = torch.ones(5000, dtype=torch.bool)
                    rest[idx] = False
                    torch.manual_seed(1000 + seed)
                    net = DigitNet(v, **cfg["net"])
                    info = train(net, images[idx], labels[idx], steps=cfg["steps"], batch=cfg["batch"], lr=cfg["lr"],
                                 seed=seed, unlabelled=images[:5000][rest] if semi else None,
                                 propagate=semi == "semi_supervised_propagated")
                    accs.append(accuracy(net, X_test, y_test))
                    secs.append(info["seconds"])
                key = semi or "supervised"
                out[key].setdefault(v, {})[str(count)] = mean_std(accs) | {"train_seconds": statistics.fmean(secs)}
                log(f"  {key:15s} {v:7s} {count:4d} labels: {statistics.fmean(accs):6.2f} +- "
                    f"{(statistics.stdev(accs) if len(accs) > 1 else 0):.2f}  ({statistics.fmean(secs):.1f} s/run)")
    base = out["supervised"]["lenet"]
    out["gain_over_lenet"] = {v: {c: out["supervised"][v][c]["mean"] - base[c]["mean"] for c in base}
                              for v in VARIANTS if v != "lenet"}
    return out


# ------------------------------------------------------------------------------------------------ part 2
def _plot_png(path: Path, curves: dict[str, list[float]], title: str) -> None:
    """A log10(F - F_opt) vs iteration plot drawn with OpenCV (no matplotlib)."""
    import cv2

    from bgsub.io.masks import write_png

    W, H, m = 640, 420, 60
    img = np.full((H, W, 3), 255, np.uint8)
    vals = [math.log10(max(v, 1e-12)) for c in curves.values() for v in c]
    lo, hi = math.floor(min(vals)), math.ceil(max(vals))
    n = max(len(c) for c in curves.values())
    X = lambda k: int(m + (W - 2 * m) * k / max(n - 1, 1))  # noqa: E731
    Y = lambda v: int(H - m - (H - 2 * m) * (v - lo) / max(hi - lo, 1e-9))  # noqa: E731
    cv2.rectangle(img, (m, m), (W - m, H - m), (0, 0, 0), 1)
    for d in range(lo, hi + 1):
        cv2.line(img, (m - 4, Y(d)), (m, Y(d)), (0, 0, 0), 1)
        cv2.putText(img, f"1e{d}", (5, Y(d) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for k in np.linspace(0, n - 1, 5).astype(int):
        cv2.putText(img, str(int(k) + 1), (X(k) - 10, H - m + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    colors = [(200, 80, 0), (0, 0, 220), (0, 150, 0)]
    for (name, c), col in zip(curves.items(), colors):
        pts = np.array([[X(k), Y(math.log10(max(v, 1e-12)))] for k, v in enumerate(c)], np.int32)
        cv2.polylines(img, [pts], False, col, 2, cv2.LINE_AA)
        cv2.putText(img, name, (W - m - 150, m + 20 + 20 * list(curves).index(name)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5, col, 1, cv2.LINE_AA)
    cv2.putText(img, title, (m, m - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "iteration", (W // 2 - 30, H - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    write_png(path, img)


def sulam_convergence(images, cfg, out_dir: Path) -> dict:
    """ML-ISTA vs ML-FISTA on (P): D_1 (784 x 256), D_2 (256 x 512), random Gaussian with unit columns, 16 test
    digits, lam = (0.1, 0.1), default steps; F - F_opt per iteration."""
    g = torch.Generator().manual_seed(0)
    D1 = torch.randn(784, 256, generator=g, dtype=torch.float64)
    D2 = torch.randn(256, 512, generator=g, dtype=torch.float64)
    D1, D2 = D1 / D1.norm(dim=0), D2 / D2.norm(dim=0)
    y = images[5000:5016].reshape(16, -1).double()
    lams = [0.1, 0.1]
    _, ref = ml_bp_primal_dual(y, [D1, D2], lams, max_iter=cfg["pd_iter"], tol=cfg["pd_tol"])
    F_opt = ref.objective[-1]
    _, ista = ml_ista(y, [D1, D2], lams, max_iter=cfg["ml_iter"])
    _, fista = ml_fista(y, [D1, D2], lams, max_iter=cfg["ml_iter"])
    F_opt = min(F_opt, min(ista.objective), min(fista.objective))  # the reference is the minimum, up to its tol
    gaps = {"ML-ISTA": [v - F_opt for v in ista.objective], "ML-FISTA": [v - F_opt for v in fista.objective]}
    path = out_dir / "ml_fista_vs_ml_ista.png"
    _plot_png(path, gaps, "(F - F_opt) on 16 digits, D1 784x256, D2 256x512")

    def first(c, tau):
        return next((k + 1 for k, v in enumerate(c) if v <= tau * abs(F_opt)), None)

    return {
        "F_opt": F_opt, "primal_dual_iterations": ref.iterations, "primal_dual_residual": ref.residual,
        "steps": default_steps([D1, D2]), "final_gap_rel": {k: c[-1] / abs(F_opt) for k, c in gaps.items()},
        "iterations_to_rel_gap": {str(t): {k: first(c, t) for k, c in gaps.items()} for t in (1e-1, 3e-2, 1e-2, 5e-3)},
        "gap_rel_at": {str(k): {n: c[k - 1] / abs(F_opt) for n, c in gaps.items()}
                       for k in (1, 10, 20, 50, 100, 200, 300) if k <= len(gaps["ML-ISTA"])},
        "plot": str(path),
    }


def sulam_networks(images, labels, cfg, seeds) -> dict:
    X_test, y_test = images[5000:5000 + cfg["test"]], labels[5000:5000 + cfg["test"]]
    out: dict = {}
    for count in cfg["ml_labels"]:
        for K in (1, 2, 4):
            accs = []
            for seed in seeds:
                idx = label_subset(labels, count, seed) if count < 5000 else torch.arange(5000)
                torch.manual_seed(2000 + seed)
                net = MLISTANet(layers=cfg["ml_layers"], unroll=K)
                train(net, images[idx], labels[idx], steps=cfg["ml_steps"], batch=cfg["batch"], lr=cfg["lr"], seed=seed)
                accs.append(accuracy(net, X_test, y_test))
            out.setdefault(str(count), {})[f"K={K}"] = mean_std(accs)
            log(f"  ML-ISTA net K={K} {count:4d} labels: {statistics.fmean(accs):6.2f}")
    torch.manual_seed(0)
    out["params"] = {f"K={K}": n_params(MLISTANet(layers=cfg["ml_layers"], unroll=K)) for K in (1, 2, 4)}
    return out


# ------------------------------------------------------------------------------------------------ main
FULL = {
    "net": {"c1": 10, "c2": 20, "hidden": 100, "lam_csf": 0.1, "lam_sf": 0.1, "lam2": 0.01},
    "labels": [100, 300, 600], "semi_labels": [100], "seeds": 3, "steps": 300, "batch": 32, "lr": 2e-3,
    "test": 5000, "pd_iter": 20000, "pd_tol": 1e-10, "ml_iter": 300, "ml_labels": [600], "ml_steps": 400,
    "ml_layers": [(16, 6, 2), (32, 6, 2), (64, 4, 1)],
}
QUICK = {
    "net": {"c1": 6, "c2": 12, "hidden": 48, "lam_csf": 0.1, "lam_sf": 0.1, "lam2": 0.01},
    "labels": [100, 300, 600], "semi_labels": [100], "seeds": 2, "steps": 40, "batch": 32, "lr": 3e-3,
    "test": 500, "pd_iter": 4000, "pd_tol": 1e-7, "ml_iter": 150, "ml_labels": [600], "ml_steps": 80,
    "ml_layers": [(8, 6, 2), (16, 6, 2), (32, 4, 1)],
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller nets, fewer steps, 1000 test images (< 3 min)")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object on stdout")
    ap.add_argument("--data", default="../shared/data/mnist-t10k", help="folder with the mnist-t10k IDX files")
    ap.add_argument("--out", default="/tmp/reproduce_sparse_layers", help="where results.json and the PNG go")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--seeds", type=int, default=None, help="label subsets per setting (default 3)")
    ap.add_argument("--parts", default="koch,convergence,mlnets",
                    help="comma list of koch (Koch & Corso), convergence (ML-FISTA vs ML-ISTA), mlnets (K = 1, 2, 4)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    if not (data / "t10k-images-idx3-ubyte.gz").is_file():
        msg = f"{data}: no mnist-t10k files here; skipping (pass --data PATH)"
        log(msg)
        if args.json:
            print(json.dumps({"skipped": msg}))
        return 0
    cfg = dict(QUICK if args.quick else FULL)
    if args.seeds:
        cfg["seeds"] = args.seeds
    seeds = list(range(cfg["seeds"]))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    images, labels = load_mnist(data)
    res: dict = {"mode": "quick" if args.quick else "full", "config": cfg, "threads": args.threads,
                 "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
                 "data_note": "mnist-t10k: train pool = images 0-4999, test = 5000-9999 (not the 60k MNIST split)"}
    parts = args.parts.split(",")
    if "koch" in parts:
        log("Koch & Corso: LeNet vs CSF vs SF vs CSF+SF")
        res["koch_corso"] = koch_corso(images, labels, cfg, seeds)
        (out_dir / "results.json").write_text(json.dumps(res, indent=2, default=str))  # partial, in case
    if "convergence" in parts:
        log("Sulam: ML-ISTA vs ML-FISTA on (P)")
        res["sulam_convergence"] = sulam_convergence(images, cfg, out_dir)
    if "mlnets" in parts:
        log("Sulam: ML-ISTA nets, K = 1, 2, 4")
        res["sulam_networks"] = sulam_networks(images, labels, cfg, seeds)
    res["seconds"] = time.perf_counter() - t0
    (out_dir / "results.json").write_text(json.dumps(res, indent=2, default=str))
    log(f"done in {res['seconds']:.0f} s; {out_dir / 'results.json'}")
    if args.json:
        print(json.dumps(res, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
