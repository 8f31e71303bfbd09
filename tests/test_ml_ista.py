"""ML-ISTA / ML-FISTA (Sulam et al.) against an independent solution of (P), and the unrolled ML-ISTA network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bgsub.models.ml_ista import MLISTANet
from bgsub.solvers.ml_ista import default_steps, ml_bp_primal_dual, ml_fista, ml_ista, ml_objective

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def numpy_reference(y: np.ndarray, Ds: list[np.ndarray], lams: list[float], iters: int = 40000) -> float:
    """F_opt of (P) by plainly written Chambolle-Pock / Condat-Vu on the stacked analysis operator
    K = [D_(2,L); ...; D_(L,L); I] with g(Kx) = sum_i lam_i ||.||_1 and f(x) = 1/2 ||y - D_(1,L) x||^2
    (independent of the library: numpy, its own step rule, averaged over nothing, run long)."""
    n = Ds[-1].shape[1]
    blocks = []
    prod = np.eye(n)
    for D in reversed(Ds[1:]):
        prod = D @ prod
        blocks.insert(0, prod)  # D_(i+1, L)
    A = Ds[0] @ (blocks[0] if blocks else np.eye(n))
    K = np.vstack(blocks + [np.eye(n)])
    w = np.concatenate([np.full(b.shape[0], lam) for b, lam in zip(blocks + [np.eye(n)], lams)])
    La, Lk = np.linalg.norm(A, 2) ** 2, np.linalg.norm(K, 2)
    sigma = 1.0 / Lk
    tau = 0.95 / (La / 2 + sigma * Lk**2)
    x, u = np.zeros(n), np.zeros(K.shape[0])
    for _ in range(iters):
        x_new = x - tau * (A.T @ (A @ x - y) + K.T @ u)
        u = np.clip(u + sigma * K @ (2 * x_new - x), -w, w)
        x = x_new
    F_val = 0.5 * np.sum((y - A @ x) ** 2) + np.sum(w * np.abs(K @ x))
    return float(F_val)


def _problem(layers=(20, 30, 40), seed=0, B=1):
    g = torch.Generator().manual_seed(seed)
    Ds = [torch.randn(a, b, generator=g, dtype=torch.float64) / a**0.5 for a, b in zip(layers[:-1], layers[1:])]
    y = torch.randn(B, layers[0], generator=g, dtype=torch.float64)
    return y, Ds


def test_one_layer_ml_ista_is_ista_and_reaches_the_lasso_optimum_exactly():
    y, Ds = _problem(layers=(15, 25))
    F_opt = numpy_reference(y[0].numpy(), [D.numpy() for D in Ds], [0.2], iters=10000)
    g, _ = ml_ista(y, Ds, [0.2], max_iter=3000, trace=False)
    gf, _ = ml_fista(y, Ds, [0.2], max_iter=1000, trace=False)
    assert abs(ml_objective(g[-1], y, Ds, [0.2]) - F_opt) < 1e-8
    assert abs(ml_objective(gf[-1], y, Ds, [0.2]) - F_opt) < 1e-8


@pytest.mark.parametrize("layers,lams", [((20, 30, 40), [0.1, 0.1]), ((12, 18, 24, 30), [0.05, 0.05, 0.1])])
def test_ml_ista_and_ml_fista_reach_the_optimum_of_P_within_the_theorems_O_mu_gap(layers, lams):
    y, Ds = _problem(layers=layers, seed=1)
    F_opt = numpy_reference(y[0].numpy(), [D.numpy() for D in Ds], lams, iters=20000)

    def gap(solver, scale, iters):
        g, _ = solver(y, Ds, lams, steps=[s * scale for s in default_steps(Ds)], max_iter=iters, trace=False)
        return (ml_objective(g[-1], y, Ds, lams) - F_opt) / F_opt

    big, small = gap(ml_fista, 1.0, 2000), gap(ml_fista, 0.1, 2000)
    assert min(big, small) > -1e-9  # F_opt is the minimum
    # the limit is within O(mu) of F_opt (Theorem: F - F_opt <= eta eps + (beta + kappa t) mu): 10x smaller steps,
    # about 10x smaller gap, and a small one in relative terms
    assert small < 0.3 * big and small < 1e-3
    # ML-ISTA (no momentum) goes to the same limit, more slowly
    ista = gap(ml_ista, 1.0, 10000 if len(Ds) > 2 else 3000)
    assert abs(ista - big) < 0.1 * big + 1e-6


def test_ml_fista_gets_there_in_fewer_iterations_than_ml_ista():
    y, Ds = _problem(seed=2)
    lams = [0.1, 0.1]
    _, ista = ml_ista(y, Ds, lams, max_iter=3000)
    _, fista = ml_fista(y, Ds, lams, max_iter=3000)
    F_lim = min(min(ista.objective), min(fista.objective))
    target = F_lim + 1e-3 * abs(F_lim)

    def first(obj):
        return next(k for k, v in enumerate(obj) if v <= target)

    assert first(fista.objective) < first(ista.objective) / 2


def test_library_primal_dual_agrees_with_the_numpy_reference():
    y, Ds = _problem(layers=(10, 14, 18), seed=3)
    lams = [0.1, 0.2]
    x, info = ml_bp_primal_dual(y, Ds, lams, max_iter=50000)
    F_ref = numpy_reference(y[0].numpy(), [D.numpy() for D in Ds], lams)
    assert abs(ml_objective(x, y, Ds, lams) - F_ref) < 1e-7 * abs(F_ref)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_solvers_batched_dtype_and_device(device, dtype):
    y, Ds = _problem(B=4)
    y, Ds = y.to(device, dtype), [D.to(device, dtype) for D in Ds]
    gam, info = ml_fista(y, Ds, [0.1, 0.1], max_iter=50)
    assert [g.shape for g in gam] == [(4, 30), (4, 40)]
    assert all(g.dtype == dtype and g.device.type == device for g in gam)
    torch.testing.assert_close(gam[1] @ Ds[1].mT, gam[0])  # codes obey the model g_1 = D_2 g_2
    assert len(info.objective) == 50 and info.objective[-1] < info.objective[0]


def test_unroll_one_is_the_plain_feed_forward_cnn_with_relu():
    torch.manual_seed(0)
    net = MLISTANet(layers=((4, 6, 2), (6, 6, 2), (8, 4, 1)), unroll=1)
    x = torch.rand(3, 1, 28, 28)
    h = x
    for W, b, c, s in zip(net.weights, net.biases, net.steps, (2, 2, 1)):
        h = F.relu(c * F.conv2d(h, W, stride=s) + b)
    torch.testing.assert_close(net(x), net.classifier(h.flatten(1)))


def test_unrolled_net_shares_parameters_and_runs_ml_ista_on_the_conv_dictionaries():
    torch.manual_seed(0)
    nets = [MLISTANet(layers=((4, 6, 2), (6, 6, 2)), unroll=k) for k in (1, 2, 4)]
    for n in nets[1:]:
        n.load_state_dict(nets[0].state_dict())
    counts = {sum(p.numel() for p in n.parameters()) for n in nets}
    assert len(counts) == 1
    x = torch.rand(2, 1, 28, 28)
    assert not torch.allclose(nets[0](x), nets[1](x))
    # one extra iteration, written out with explicit matrices (the dense operators of the convolutions)
    net = nets[1]
    W1, W2 = net.weights
    n0, n1 = 28 * 28, 4 * 12 * 12
    D1 = torch.autograd.functional.jacobian(lambda v: F.conv_transpose2d(v.reshape(1, 4, 12, 12), W1, stride=2).reshape(-1), torch.zeros(n1))
    D2 = torch.autograd.functional.jacobian(lambda v: F.conv_transpose2d(v.reshape(1, 6, 4, 4), W2, stride=2).reshape(-1), torch.zeros(6 * 16))
    b1 = net.biases[0].expand(1, 4, 12, 12).reshape(-1)
    b2 = net.biases[1].expand(1, 6, 4, 4).reshape(-1)
    c1, c2 = net.steps
    y = x[0].reshape(-1)
    g1 = F.relu(c1 * D1.T @ y + b1)
    g2 = F.relu(c2 * D2.T @ g1 + b2)
    h1 = D2 @ g2
    g1n = F.relu(h1 - c1 * D1.T @ (D1 @ h1 - y) + b1)
    g2n = F.relu(g2 - c2 * D2.T @ (D2 @ g2 - g1n) + b2)
    torch.testing.assert_close(net.codes(x[:1])[-1].reshape(-1), g2n, atol=1e-5, rtol=1e-4)
