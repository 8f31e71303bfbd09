"""The RPCA solvers recover a synthetic low-rank + sparse matrix and agree with each other."""

from __future__ import annotations

import logging

import pytest
import torch

from bgsub.errors import BgsubError
from bgsub.solvers import SOLVERS, apg, ialm, pfb, solve

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def low_rank_plus_sparse(m=800, n=80, rank=3, corruption=0.05, amplitude=3.0, seed=0):
    """L0 (m, n) of rank 3 with entries ~N(0, 1), S0 with 5 % of its entries uniform in [-3, 3]; float64."""
    g = torch.Generator().manual_seed(seed)
    L0 = torch.randn(m, rank, generator=g, dtype=torch.float64) @ torch.randn(rank, n, generator=g,
                                                                               dtype=torch.float64) / rank ** 0.5
    mask = torch.rand(m, n, generator=g) < corruption
    S0 = torch.where(mask, (torch.rand(m, n, generator=g, dtype=torch.float64) * 2 - 1) * amplitude,
                     torch.zeros((), dtype=torch.float64))
    return L0, S0


def rel(a, b):
    a, b = a.detach().cpu().double(), b.detach().cpu().double()
    return float((a - b).norm() / b.norm())


@pytest.fixture(scope="module")
def problem():
    return low_rank_plus_sparse()


@pytest.fixture(scope="module")
def solutions(problem):
    L0, S0 = problem
    D = L0 + S0
    return {name: solve(name, D, tol=1e-7, max_iter=2000) for name in SOLVERS}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ialm_recovers_low_rank_plus_sparse_exactly(problem, dtype, device):
    L0, S0 = problem
    D = (L0 + S0).to(dtype).to(device)
    L, S, info = ialm(D)
    assert L.dtype == dtype and L.device == D.device
    assert info.converged and info.residual < 1e-7 and info.iterations < 60
    assert info.rank == 3
    # principal component pursuit recovers both parts (float32: to its resolution)
    assert rel(L, L0) < 1e-5
    assert rel(S, S0) < 1e-5
    assert rel(L + S, D) < 1e-6


@pytest.mark.parametrize("name", ["apg", "pfb"])
def test_eq1_solvers_recover_up_to_the_shrinkage_bias(solutions, problem, name):
    L0, S0 = problem
    L, S, info = solutions[name]
    assert info.converged and info.rank == 3
    # Eq. 1 (lam_* = 1) shrinks the singular values of L by ~lam_* and trades a Frobenius residual: ~1 % here
    assert rel(L, L0) < 2e-2
    assert rel(S, S0) < 4e-2


def test_the_three_solvers_agree(solutions):
    L_apg, L_pfb, L_ialm = solutions["apg"][0], solutions["pfb"][0], solutions["ialm"][0]
    assert rel(L_apg, L_pfb) < 1e-5  # same objective, same minimiser
    assert rel(L_apg, L_ialm) < 2e-2  # Eq. 1 with lam_* = 1 vs PCP: the shrinkage bias
    assert rel(solutions["apg"][1], solutions["pfb"][1]) < 1e-4


def test_momentum_is_faster_than_forward_backward(solutions):
    assert solutions["apg"][2].iterations * 2 < solutions["pfb"][2].iterations


def test_pfb_objective_decreases_monotonically(solutions):
    obj = torch.tensor(solutions["pfb"][2].objective, dtype=torch.float64)
    assert len(obj) == solutions["pfb"][2].iterations
    assert bool((obj[1:] <= obj[:-1] * (1 + 1e-12)).all())
    assert obj[-1] < obj[0]


def test_ialm_objective_trace_ends_at_the_pcp_objective(solutions):
    L, S, info = solutions["ialm"]
    nuc = float(torch.linalg.svdvals(L).sum())
    assert info.objective[-1] == pytest.approx(nuc + info.lam * float(S.abs().sum()), rel=1e-6)
    assert len(info.residuals) == info.iterations and info.residuals[-1] == info.residual


@pytest.mark.parametrize("solver", [ialm, apg, pfb])
def test_wide_input_gives_the_transposed_answer(solver):
    L0, S0 = low_rank_plus_sparse(m=300, n=40, seed=3)
    D = L0 + S0
    L, S, _ = solver(D, tol=1e-6)
    Lt, St, _ = solver(D.T.contiguous(), tol=1e-6)
    assert Lt.shape == (40, 300)
    assert rel(Lt.T, L) < 1e-8 and rel(St.T, S) < 1e-8


def test_max_iter_warns_and_reports_not_converged(problem, caplog):
    L0, S0 = problem
    with caplog.at_level(logging.WARNING, logger="bgsub"):
        _, _, info = ialm(L0 + S0, max_iter=3)
    assert info.iterations == 3 and not info.converged
    assert "max_iter=3" in caplog.text and "tol" in caplog.text


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_zero_matrix_is_zero_without_iterations(name):
    L, S, info = solve(name, torch.zeros(50, 10))
    assert info.converged and info.iterations == 0
    assert not L.any() and not S.any()


def test_bad_input_and_options_are_errors():
    with pytest.raises(BgsubError, match="matrix"):
        ialm(torch.ones(2, 3, 4))
    with pytest.raises(BgsubError, match="NaN"):
        ialm(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(BgsubError, match="alpha"):
        pfb(torch.ones(4, 3), alpha=0.7)
    with pytest.raises(BgsubError, match="unknown RPCA solver"):
        solve("svd", torch.ones(4, 3))
    with pytest.raises(BgsubError, match="tol"):
        apg(torch.ones(4, 3), tol=0)
