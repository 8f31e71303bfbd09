"""Sparse-factorization layers (Koch & Corso): forward accuracy, implicit backward, dictionary constraint, Eq. 12."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgsub.losses import elastic_net_loss, mu_schedule, semi_supervised_loss, sparse_layer_loss
from bgsub.models.sparse import ConvSparseFactorization, SparseFactorization
from bgsub.solvers.elastic_net import elastic_net, kkt_violation, sparse_factorize

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def numpy_ista(x: np.ndarray, P: np.ndarray, lam1: float, lam2: float, iters: int = 20000) -> np.ndarray:
    """Plain proximal gradient for one elastic-net problem, written independently of the library."""
    step = 1.0 / (np.linalg.norm(P, 2) ** 2 + lam2)
    a = np.zeros(P.shape[1])
    for _ in range(iters):
        z = a - step * (P.T @ (P @ a - x) + lam2 * a)
        a = np.sign(z) * np.maximum(np.abs(z) - step * lam1, 0.0)
    return a


def _problem(B=5, m=12, K=8, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    P = torch.randn(m, K, generator=g, dtype=dtype)
    P = P / P.norm(dim=0)
    X = torch.randn(B, m, generator=g, dtype=dtype)
    return X, P


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("device", DEVICES)
def test_forward_matches_independent_numpy_solver_and_meets_kkt_tolerance(dtype, device):
    X, P = _problem(dtype=dtype)
    X, P = X.to(device), P.to(device)
    A, info = elastic_net(X, P, 0.3, 0.05)
    assert info.converged and A.dtype == dtype and A.device.type == device
    C = X @ P
    assert float(kkt_violation(A, P.mT @ P, C, 0.3, 0.05).max()) <= info.tol * (1 + float(C.abs().max()))
    ref = np.stack([numpy_ista(x, P.cpu().double().numpy(), 0.3, 0.05) for x in X.cpu().double().numpy()])
    atol = 1e-4 if dtype == torch.float32 else 1e-9
    np.testing.assert_allclose(A.cpu().double().numpy(), ref, atol=atol)
    assert (A == 0).any()  # the l1 term is active: a sparse code, exact zeros


def test_overcomplete_lasso_without_l2_converges():
    X, P = _problem(B=20, m=10, K=30, seed=3)
    A, info = elastic_net(X, P, 0.2)
    assert info.converged and info.kkt <= 1e-10


def test_gradcheck_sparse_factorization_float64():
    X, P = _problem(B=3, m=7, K=5, seed=1)
    X.requires_grad_(True)
    P.requires_grad_(True)
    f = lambda X, P: sparse_factorize(X, P, 0.2, 0.1, tol=1e-13)  # noqa: E731
    assert (f(X, P) == 0).any() and (f(X, P) != 0).any()  # both sides of the kink are exercised
    assert torch.autograd.gradcheck(f, (X, P), eps=1e-6, atol=1e-6)


def test_gradcheck_conv_sparse_factorization_float64():
    torch.manual_seed(0)
    layer = ConvSparseFactorization(2, 4, 3, lam1=0.3, lam2=0.05, tol=1e-13, dtype=torch.float64)
    x = torch.randn(2, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    assert (layer(x) == 0).any()

    def f(x, P):
        cols = torch.nn.functional.unfold(x, 3).transpose(1, 2).reshape(-1, 18)
        return sparse_factorize(cols, P, 0.3, 0.05, tol=1e-13)

    P = layer.dictionary.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (x, P), eps=1e-6, atol=1e-6)
    # and through the module itself (the parameter's .grad)
    out = layer(x)
    w = torch.randn_like(out)
    (out * w).sum().backward()
    ref = torch.autograd.grad((f(x, P) * ConvSparseFactorization.codes_as_rows(w)).sum(), P)[0]
    torch.testing.assert_close(layer.dictionary.grad, ref)


def test_implicit_backward_matches_autograd_through_long_unrolled_ista():
    X, P = _problem(B=4, m=9, K=6, seed=2)
    lam1, lam2 = 0.25, 0.05
    w = torch.randn(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    Xi, Pi = X.clone().requires_grad_(True), P.clone().requires_grad_(True)
    (sparse_factorize(Xi, Pi, lam1, lam2, tol=1e-13) * w).sum().backward()

    Xu, Pu = X.clone().requires_grad_(True), P.clone().requires_grad_(True)
    step = 1.0 / (float(torch.linalg.matrix_norm(P, 2)) ** 2 + lam2)
    a = torch.zeros(4, 6, dtype=torch.float64)
    for _ in range(3000):  # plain ISTA, differentiated by autograd through every iteration
        z = a - step * ((a @ Pu.mT - Xu) @ Pu + lam2 * a)
        a = torch.sign(z) * torch.clamp(z.abs() - step * lam1, min=0)
    (a * w).sum().backward()
    torch.testing.assert_close(Xi.grad, Xu.grad, atol=1e-8, rtol=1e-6)
    torch.testing.assert_close(Pi.grad, Pu.grad, atol=1e-8, rtol=1e-6)


def test_conv_layer_factorizes_every_patch_like_nn_conv2d_lays_out_its_weights():
    torch.manual_seed(1)
    layer = ConvSparseFactorization(3, 5, 3, lam1=0.2, dtype=torch.float64)
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64)
    out = layer(x)
    assert out.shape == torch.nn.Conv2d(3, 5, 3)(x.float()).shape == (2, 5, 4, 5)
    b, r, c = 1, 2, 3
    patch = x[b, :, r:r + 3, c:c + 3].reshape(1, -1)  # channel-major, rows, columns (Conv2d's weight order)
    ref, _ = elastic_net(patch, layer.dictionary.detach(), 0.2)
    torch.testing.assert_close(out[b, :, r, c].detach(), ref[0])


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_dictionary_columns_stay_in_unit_ball_after_every_optimiser_step(opt):
    torch.manual_seed(0)
    sf = SparseFactorization(10, 6, lam1=0.05)
    csf = ConvSparseFactorization(1, 4, 3, lam1=0.05)
    params = list(sf.parameters()) + list(csf.parameters())
    o = torch.optim.SGD(params, lr=5.0) if opt == "sgd" else torch.optim.Adam(params, lr=0.5)
    grew = False
    for _ in range(5):
        o.zero_grad()
        loss = -(sf(torch.randn(8, 10) * 5).sum() + csf(torch.randn(2, 1, 6, 6) * 5).abs().sum())
        loss.backward()
        before = [p.detach().clone() for p in (sf.dictionary, csf.dictionary)]
        raw = [b - 5.0 * p.grad for b, p in zip(before, (sf.dictionary, csf.dictionary))] if opt == "sgd" else []
        grew |= any(bool((r.norm(dim=0) > 1.01).any()) for r in raw)
        o.step()
        for layer in (sf, csf):
            assert float(layer.dictionary.detach().norm(dim=0).max()) <= 1 + 1e-6
    if opt == "sgd":
        assert grew  # the plain step would have left the ball: the projection did the work


def test_projection_leaves_layers_of_other_optimisers_alone():
    a, b = SparseFactorization(4, 3, lam1=0.1), SparseFactorization(4, 3, lam1=0.1)
    with torch.no_grad():
        b.dictionary.mul_(3.0)  # deliberately outside the ball
    o = torch.optim.SGD(a.parameters(), lr=0.1)
    a(torch.randn(2, 4)).sum().backward()
    o.step()
    assert float(b.dictionary.detach().norm(dim=0).min()) > 2.9
    b.project_()
    assert float(b.dictionary.detach().norm(dim=0).max()) <= 1 + 1e-6


def test_eq12_gradient_is_the_envelope_gradient_eq13_by_finite_differences():
    X, P = _problem(B=3, m=8, K=5, seed=4)
    lam1, lam2 = 0.2, 0.1

    def value(Pm):  # Eq. 12 with a* recomputed for the perturbed dictionary
        A, _ = elastic_net(X, Pm, lam1, lam2, tol=1e-14)
        return float(elastic_net_loss(X, Pm, A, lam1, lam2, reduction="sum"))

    Pg = P.clone().requires_grad_(True)
    A, _ = elastic_net(X, P, lam1, lam2, tol=1e-14)
    elastic_net_loss(X, Pg, A, lam1, lam2, reduction="sum").backward()
    E = torch.randn(P.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    h = 1e-6
    fd = (value(P + h * E) - value(P - h * E)) / (2 * h)
    assert abs(fd - float((Pg.grad * E).sum())) < 1e-6 * max(1.0, abs(fd))
    eq13 = -((X - A @ P.mT).mT @ A)
    torch.testing.assert_close(Pg.grad, eq13)


def test_sparse_layer_loss_for_conv_layer_averages_over_patches():
    torch.manual_seed(0)
    layer = ConvSparseFactorization(1, 3, 3, lam1=0.1, dtype=torch.float64)
    x = torch.randn(2, 1, 5, 5, dtype=torch.float64)
    out = layer(x)
    total = 0.0
    for b in range(2):
        for r in range(3):
            for c in range(3):
                p = x[b, 0, r:r + 3, c:c + 3].reshape(-1)
                a = out[b, :, r, c].detach()
                total += 0.5 * float(((p - layer.dictionary.detach() @ a) ** 2).sum()) + 0.1 * float(a.abs().sum())
    assert abs(float(sparse_layer_loss(layer, x, out)) - total / 18) < 1e-10


def test_mu_step_down_schedule_and_eq14_combination():
    assert [mu_schedule(s, 8) for s in range(8)] == [0.8, 0.8, 0.5, 0.5, 0.3, 0.3, 0.0, 0.0]
    assert mu_schedule(100, 8) == 0.0
    sup, uns = torch.tensor(2.0), torch.tensor(10.0)
    assert float(semi_supervised_loss(sup, uns, 0.3)) == pytest.approx(0.7 * 2 + 0.3 * 10)
    with pytest.raises(ValueError):
        semi_supervised_loss(sup, uns, 1.5)


@pytest.mark.parametrize("device", DEVICES)
def test_layers_train_in_float32_on_device(device):
    torch.manual_seed(0)
    net = torch.nn.Sequential(ConvSparseFactorization(1, 4, 3, lam1=0.05), torch.nn.Flatten(),
                              SparseFactorization(4 * 4 * 4, 8, lam1=0.05), torch.nn.Linear(8, 2)).to(device)
    o = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = torch.rand(6, 1, 6, 6, device=device)
    y = torch.tensor([0, 1, 0, 1, 0, 1], device=device)
    for _ in range(3):
        o.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        o.step()
    assert torch.isfinite(loss)
    assert net[0].dictionary.device.type == device


def test_masked_solve_shared_and_per_row_paths_match_numpy():
    """Both paths of the support solve (one factorisation per distinct support, one per row) against a literal
    NumPy solve of each row's support system."""
    import numpy as np

    from bgsub.solvers.elastic_net import _masked_solve

    g = np.random.default_rng(5)
    K = 6
    P = g.normal(size=(10, K))
    M = P.T @ P + 0.01 * np.eye(K)
    for N, p_on in ((400, 0.9), (12, 0.5)):  # many rows on few supports (shared path); few rows (per row)
        on = (g.uniform(size=(N, K)) < p_on).astype(np.float64)
        rhs = g.normal(size=(N, K)) * on
        want = np.zeros((N, K))
        for n in range(N):
            S = on[n] > 0
            if S.any():
                want[n, S] = np.linalg.solve(M[np.ix_(S, S)], rhs[n, S])
        got = _masked_solve(torch.tensor(M), torch.tensor(on), torch.tensor(rhs)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
