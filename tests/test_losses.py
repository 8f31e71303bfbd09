"""Losses: the nuclear norm's value and gradient (U V^T), the proximal-gradient functions of Eq. 7, Eq. 6."""

from __future__ import annotations

import math

import pytest
import torch

from bgsub.losses import (as_matrix, default_lam_1, l1_norm, lowrank_sparse_loss, nuclear_norm, polish_loss,
                          prox_l1, prox_nuclear)
from bgsub.prox import soft, svt


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("shape", [(40, 6), (6, 40), (9, 9)])
def test_nuclear_norm_value_is_the_sum_of_singular_values(shape):
    X = _rand(*shape)
    assert nuclear_norm(X).item() == pytest.approx(torch.linalg.svdvals(X).sum().item(), rel=1e-10)


@pytest.mark.parametrize("shape", [(30, 5), (5, 30)])
def test_nuclear_norm_gradient_is_U_Vt_on_a_full_rank_matrix(shape):
    X = _rand(*shape, seed=1).requires_grad_()
    nuclear_norm(X).backward()
    U, _, Vh = torch.linalg.svd(X.detach(), full_matrices=False)
    torch.testing.assert_close(X.grad, U @ Vh, rtol=1e-9, atol=1e-10)


def test_nuclear_norm_gradcheck_float64():
    X = _rand(12, 4, seed=2).requires_grad_()
    assert torch.autograd.gradcheck(nuclear_norm, (X,), eps=1e-6, atol=1e-6)


def test_nuclear_norm_backward_is_finite_with_repeated_and_zero_singular_values():
    # rank 2 with two equal singular values and three zero ones: the minimum-norm subgradient U_r V_r^T
    U, _ = torch.linalg.qr(_rand(50, 5, seed=3))
    V, _ = torch.linalg.qr(_rand(5, 5, seed=4))
    X = (U[:, :2] * 3.0) @ V[:, :2].T
    X.requires_grad_()
    val = nuclear_norm(X)
    val.backward()
    assert val.item() == pytest.approx(6.0, rel=1e-7)  # the Gram path resolves sigma down to ~1e-8 sigma_max
    assert torch.isfinite(X.grad).all()
    torch.testing.assert_close(X.grad, U[:, :2] @ V[:, :2].T, rtol=1e-6, atol=1e-7)


def test_nuclear_norm_float32_tall_matrix_matches_float64():
    X = _rand(5000, 20, seed=5)
    X32 = X.float().requires_grad_()
    nuclear_norm(X32).backward()
    assert X32.grad.dtype == torch.float32
    U, _, Vh = torch.linalg.svd(X, full_matrices=False)
    torch.testing.assert_close(X32.grad.double(), U @ Vh, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(30, 6), (6, 30)])
def test_prox_nuclear_gradient_is_exactly_Q_minus_svt(shape):
    Q = _rand(*shape, seed=6).requires_grad_()
    tau = 1.3
    prox_nuclear(Q, tau).backward()
    assert torch.equal(Q.grad, Q.detach() - svt(Q.detach(), tau))


def test_prox_l1_gradient_is_exactly_Q_minus_soft():
    Q = _rand(20, 7, seed=7).requires_grad_()
    tau = 0.4
    prox_l1(Q, tau).backward()
    assert torch.equal(Q.grad, Q.detach() - soft(Q.detach(), tau))
    # and that is the clipped value
    torch.testing.assert_close(Q.grad, Q.detach().clamp(-tau, tau))


def test_prox_functions_gradcheck_float64():
    Q = _rand(10, 4, seed=8).requires_grad_()
    assert torch.autograd.gradcheck(lambda q: prox_nuclear(q, 0.7), (Q,), eps=1e-6, atol=1e-6)
    q = _rand(6, 5, seed=9)
    q = torch.where(((q.abs() - 0.5).abs() < 1e-3), q + 0.01, q).requires_grad_()  # away from the kinks
    assert torch.autograd.gradcheck(lambda x: prox_l1(x, 0.5), (q,), eps=1e-6, atol=1e-6)


def test_prox_values_are_the_moreau_envelopes():
    Q = _rand(15, 4, seed=10)
    tau = 0.9
    s = torch.linalg.svdvals(Q)
    expect = torch.where(s > tau, tau * (s - tau) + tau**2 / 2, s**2 / 2).sum()
    assert prox_nuclear(Q, tau).item() == pytest.approx(expect.item(), rel=1e-10)
    a = Q.abs()
    expect1 = torch.where(a > tau, tau * (a - tau) + tau**2 / 2, a**2 / 2).sum()
    assert prox_l1(Q, tau).item() == pytest.approx(expect1.item(), rel=1e-10)


def test_eq6_loss_terms_and_default_lambda():
    D = _rand(5, 1, 8, 6, seed=11).float()
    S = torch.zeros_like(D)
    loss, nuc, l1 = lowrank_sparse_loss(D, S)
    assert l1.item() == 0
    assert nuc.item() == pytest.approx(torch.linalg.svdvals(as_matrix(D).double()).sum().item(), rel=1e-5)
    assert default_lam_1(48, 5) == pytest.approx(1 / math.sqrt(48))
    S = torch.full_like(D, 0.5)
    _, _, l1 = lowrank_sparse_loss(D, S, lam_1=0.1)
    assert l1.item() == pytest.approx(0.1 * 0.5 * D.numel(), rel=1e-6)
    assert as_matrix(D).shape == (48, 5)
    assert torch.equal(as_matrix(D)[:, 2], D[2].reshape(-1))
    assert l1_norm(torch.tensor([-1.0, 2.0])).item() == 3.0


def test_eq7_gradient_pulls_S_theta_towards_the_next_rpca_iterate():
    D = _rand(6, 1, 5, 4, seed=12)
    S_theta = (0.3 * _rand(6, 1, 5, 4, seed=13)).requires_grad_()
    L, S = (D - S_theta).detach(), S_theta.detach()
    alpha, lam_star, lam_1 = 0.5, 1.0, 0.2
    loss, terms = polish_loss(D, S_theta, L, S, alpha=alpha, lam_star=lam_star, lam_1=lam_1)
    loss.backward()
    Lm, Sm = as_matrix(L).float(), as_matrix(S).float()
    g_nuc = -alpha * lam_star * (Lm - svt(Lm, alpha * lam_star))  # d/dS_theta of Q = L + alpha (S - S_theta)
    g_l1 = (1 - alpha) * lam_1 * (Sm - soft(Sm, alpha * lam_1))
    expect = (g_nuc + g_l1).mT.reshape(S_theta.shape).double()
    torch.testing.assert_close(S_theta.grad, expect, rtol=1e-5, atol=1e-6)
    assert terms["nuclear"] == pytest.approx(torch.linalg.svdvals(as_matrix(L)).sum().item(), rel=1e-5)
    assert terms["l1"] == pytest.approx(lam_1 * as_matrix(S).abs().sum().item(), rel=1e-5)
