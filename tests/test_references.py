"""The solvers, proximal operators and Eq. 7 against independent references (issue 11): the equations written
literally in NumPy float64, a textbook IALM, NumPy's SVD, finite differences. Nothing here compares the code
with itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgsub.losses import polish_loss, prox_l1, prox_nuclear
from bgsub.prox import soft, svt
from bgsub.solvers.ialm import ialm
from bgsub.solvers.pfb import pfb

# ---- NumPy float64 references ---------------------------------------------------------------------------------


def np_soft(x: np.ndarray, t: float) -> np.ndarray:
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


def np_svt(x: np.ndarray, t: float) -> np.ndarray:
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    return (u * np.maximum(s - t, 0.0)) @ vt


def np_pfb(D: np.ndarray, *, lam: float, lam_star: float, alpha: float, iters: int) -> list[tuple]:
    """Eqs. 4-5 literally: R = D - L - S; L <- svt(L + alpha R, alpha lam_star); S <- soft(S + alpha R, alpha lam)."""
    L, S, out = np.zeros_like(D), np.zeros_like(D), []
    for _ in range(iters):
        R = D - L - S
        L, S = np_svt(L + alpha * R, alpha * lam_star), np_soft(S + alpha * R, alpha * lam)
        out.append((L, S))
    return out


def np_ialm(D: np.ndarray, *, lam: float, iters: int, rho: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Lin, Chen, Ma (2010), Algorithm 5, with the reference code's initialisation."""
    norm2 = np.linalg.norm(D, 2)
    Y = D / max(norm2, np.abs(D).max() / lam)
    mu, S = 1.25 / norm2, np.zeros_like(D)
    mu_bar = mu * 1e7
    for _ in range(iters):
        L = np_svt(D - S + Y / mu, 1.0 / mu)
        S = np_soft(D - L + Y / mu, lam / mu)
        Y = Y + mu * (D - L - S)
        mu = min(rho * mu, mu_bar)
    return L, S


def lowrank_plus_sparse(m: int, n: int, r: int, seed: int, density: float = 0.05):
    rng = np.random.default_rng(seed)
    L0 = rng.standard_normal((m, r)) @ rng.standard_normal((r, n))
    S0 = np.where(rng.random((m, n)) < density, 10 * rng.standard_normal((m, n)), 0.0)
    return L0, S0


# ---- solvers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("svd", ["full", "auto"])
def test_pfb_follows_eqs_4_5_step_by_step(svd):
    L0, S0 = lowrank_plus_sparse(120, 15, 2, seed=0)
    D = L0 + S0
    lam, lam_star, alpha = 0.08, 1.0, 0.5
    ref = np_pfb(D, lam=lam, lam_star=lam_star, alpha=alpha, iters=6)
    for k, (Lr, Sr) in enumerate(ref, start=1):
        L, S, info = pfb(torch.from_numpy(D), lam=lam, lam_star=lam_star, alpha=alpha, max_iter=k, tol=1e-300,
                         svd=svd)
        assert info.iterations == k
        np.testing.assert_allclose(L.numpy(), Lr, rtol=0, atol=1e-9 * np.abs(D).max())
        np.testing.assert_allclose(S.numpy(), Sr, rtol=0, atol=1e-9 * np.abs(D).max())


@pytest.mark.parametrize("svd", ["full", "auto", "gram"])
def test_ialm_follows_the_textbook_algorithm(svd):
    L0, S0 = lowrank_plus_sparse(400, 20, 3, seed=1)
    D = L0 + S0
    lam = 1 / np.sqrt(400)
    for k in (1, 3, 8):
        Lr, Sr = np_ialm(D, lam=lam, iters=k)
        L, S, info = ialm(torch.from_numpy(D), lam=lam, max_iter=k, tol=1e-300, svd=svd)
        assert info.iterations == k
        scale = np.abs(D).max()
        np.testing.assert_allclose(L.numpy(), Lr, rtol=0, atol=1e-7 * scale)
        np.testing.assert_allclose(S.numpy(), Sr, rtol=0, atol=1e-7 * scale)
    # and to convergence (tol 1e-7), where the textbook iterates are too
    L, S, info = ialm(torch.from_numpy(D), lam=lam, svd=svd)
    Lr, _ = np_ialm(D, lam=lam, iters=info.iterations)
    assert info.converged and np.linalg.norm(L.numpy() - Lr) / np.linalg.norm(Lr) < 1e-6


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("svd", ["auto", "full", "gram"])
def test_ialm_reports_the_rank_of_the_returned_L(svd, dtype):
    # 3000 x 40, planted rank 3: svd="gram" used to report 22 (singular values it had itself dropped)
    L0, S0 = lowrank_plus_sparse(3000, 40, 3, seed=0)
    L, S, info = ialm(torch.from_numpy(L0 + S0).to(dtype), svd=svd)
    s = np.linalg.svd(L.double().numpy(), compute_uv=False)
    numpy_rank = int((s > 1e-4 * s[0]).sum())
    assert numpy_rank == 3
    assert info.rank == numpy_rank


@pytest.mark.parametrize("svd", ["auto", "full", "gram"])
def test_pfb_reports_the_rank_of_the_returned_L(svd):
    L0, S0 = lowrank_plus_sparse(3000, 40, 3, seed=0)
    L, S, info = pfb(torch.from_numpy(L0 + S0).float(), svd=svd, max_iter=200, tol=1e-5)
    s = np.linalg.svd(L.double().numpy(), compute_uv=False)
    assert info.rank == int((s > 1e-4 * s[0]).sum())


# ---- proximal operators -------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(50, 7), (7, 50), (12, 12), (400, 30)])
@pytest.mark.parametrize("method", ["auto", "full"])
def test_svt_matches_numpy_svd(shape, method):
    rng = np.random.default_rng(3)
    Q = rng.standard_normal(shape) @ np.diag(np.logspace(0, -4, shape[1]))  # spread singular values
    s = np.linalg.svd(Q, compute_uv=False)
    for tau in (0.0, s[len(s) // 2], 0.5 * s[-1], s[0] * 1.01):
        want = np_svt(Q, tau)
        got64 = svt(torch.from_numpy(Q), float(tau), method=method).numpy()
        np.testing.assert_allclose(got64, want, rtol=0, atol=1e-10 * s[0])
        got32 = svt(torch.from_numpy(Q).float(), float(tau), method=method).double().numpy()
        np.testing.assert_allclose(got32, want, rtol=0, atol=2e-5 * s[0])


def test_soft_matches_the_literal_formula():
    x = np.linspace(-3, 3, 61)
    for t in (0.0, 0.5, 2.0, 5.0):
        np.testing.assert_array_equal(soft(torch.from_numpy(x), t).numpy(), np_soft(x, t))


# ---- Eq. 7: gradients by finite differences of the Moreau envelopes --------------------------------------------


def env_nuclear(Q: np.ndarray, t: float) -> float:
    """min_X t ||X||_* + 1/2 ||X - Q||^2 = sum_i h(s_i), h(s) = t (s - t/2) above t, s^2/2 below."""
    s = np.linalg.svd(Q, compute_uv=False)
    return float(np.where(s > t, t * (s - t / 2), s * s / 2).sum())


def env_l1(Q: np.ndarray, t: float) -> float:
    a = np.abs(Q)
    return float(np.where(a > t, t * (a - t / 2), a * a / 2).sum())


def _fd(f, X: np.ndarray, E: np.ndarray, h: float = 1e-6) -> float:
    return (f(X + h * E) - f(X - h * E)) / (2 * h)


@pytest.mark.parametrize("shape", [(30, 6), (6, 30)])
def test_prox_nuclear_gradient_matches_finite_differences_of_the_envelope(shape):
    rng = np.random.default_rng(4)
    Q = rng.standard_normal(shape)
    t = float(np.median(np.linalg.svd(Q, compute_uv=False)))  # some singular values above t, some below
    Qt = torch.from_numpy(Q).requires_grad_()
    v = prox_nuclear(Qt, t)
    assert v.item() == pytest.approx(env_nuclear(Q, t), rel=1e-10)
    v.backward()
    for seed in range(3):
        E = np.random.default_rng(10 + seed).standard_normal(shape)
        assert float((Qt.grad.numpy() * E).sum()) == pytest.approx(_fd(lambda X: env_nuclear(X, t), Q, E),
                                                                    rel=1e-6, abs=1e-8)


def test_prox_l1_gradient_matches_finite_differences_of_the_envelope():
    rng = np.random.default_rng(5)
    Q = rng.standard_normal((20, 5))
    t = 0.6
    Qt = torch.from_numpy(Q).requires_grad_()
    v = prox_l1(Qt, t)
    assert v.item() == pytest.approx(env_l1(Q, t), rel=1e-12)
    v.backward()
    E = rng.standard_normal(Q.shape)
    assert float((Qt.grad.numpy() * E).sum()) == pytest.approx(_fd(lambda X: env_l1(X, t), Q, E), rel=1e-6)


def test_eq7_gradient_in_S_theta_matches_finite_differences():
    """d/dS_theta of lam_* e_nuc(L + a (S - S_theta)) + lam_1 e_l1(S_theta + a (S - S_theta)), in NumPy."""
    rng = np.random.default_rng(6)
    N, H, W = 5, 6, 7
    D = rng.random((N, 1, H, W))
    S_th = 0.1 * rng.standard_normal((N, 1, H, W))
    L, S = D - S_th + 0.01 * rng.standard_normal(D.shape), S_th + 0.01 * rng.standard_normal(D.shape)
    a, lam_star, lam_1 = 0.5, 1.0, 0.05

    def mat(x):  # (N, 1, H, W) -> (m, N), one column per frame
        return x.reshape(N, -1).T

    def f(st):
        Qn = mat(L) + a * (mat(S) - mat(st))
        Q1 = mat(st) + a * (mat(S) - mat(st))
        return lam_star * env_nuclear(Qn, a * lam_star) + lam_1 * env_l1(Q1, a * lam_1)

    St = torch.from_numpy(S_th).float().requires_grad_()
    loss, _ = polish_loss(torch.from_numpy(D).float(), St, torch.from_numpy(L).float(), torch.from_numpy(S).float(),
                          alpha=a, lam_star=lam_star, lam_1=lam_1)
    assert loss.item() == pytest.approx(f(S_th.astype(np.float32).astype(np.float64)), rel=1e-5)
    loss.backward()
    for seed in range(3):
        E = np.random.default_rng(20 + seed).standard_normal(S_th.shape)
        assert float((St.grad.double().numpy() * E).sum()) == pytest.approx(_fd(f, S_th, E, h=1e-5), rel=1e-4)


def eq7_literal(D, St, L, S, *, a, lam_star, lam_1) -> float:
    """Eq. 7 with the true norms, NumPy float64: lam_* ||L + a(S - St)||_* + lam_1 ||St + a(S - St)||_1."""
    N = D.shape[0]
    m = lambda x: x.reshape(N, -1).T.astype(np.float64)  # noqa: E731
    Qn = m(L) + a * (m(S) - m(St))
    Q1 = m(St) + a * (m(S) - m(St))
    return lam_star * np.linalg.svd(Qn, compute_uv=False).sum() + lam_1 * np.abs(Q1).sum()


def test_polishing_steps_lower_the_literal_eq7_objective():
    from bgsub.config import Config, load_config
    from bgsub.losses import lam_1_for
    from bgsub.polishing import polish_model
    from bgsub.training import build_model

    cfg = load_config(None, ["model.reference=false", "input.grayscale=true", "train.device=cpu",
                             "polish.steps=1", "polish.lr=1e-4", "train.channels_last=false"],
                      base=Config())
    torch.manual_seed(0)
    D = torch.rand(8, 1, 16, 16) * 0.2 + torch.linspace(0, 0.8, 16).view(1, 1, 1, 16)
    D[3:5, :, 4:9, 4:9] = 1.0  # a small "object" in two frames
    model = build_model(cfg, seed=0)
    lam_1 = lam_1_for(cfg, D[0].numel(), D.shape[0])
    a, lam_star = cfg.polish.alpha, cfg.train.lam_star
    for _ in range(3):
        model.train()
        with torch.no_grad():
            S0 = model(D).float().numpy()
        L0 = D.numpy() - S0
        before = eq7_literal(D.numpy(), S0, L0, S0, a=a, lam_star=lam_star, lam_1=lam_1)
        polish_model(model, D, cfg, progress=False)
        model.train()
        with torch.no_grad():
            S1 = model(D).float().numpy()
        after = eq7_literal(D.numpy(), S1, L0, S0, a=a, lam_star=lam_star, lam_1=lam_1)
        assert after < before, (before, after)
