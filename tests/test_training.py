"""Training loop, checkpoints, resume, polishing, and safe loading."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from bgsub.config import load_config
from bgsub.errors import BgsubError
from bgsub.polishing import polish_model
from bgsub.training import TrainState, build_model, load_checkpoint, save_checkpoint, train_model, write_history

# The paper's network (model.reference false) with the previous defaults of the training loop; the default
# reference-conditioned network is tested in tests/test_reference.py.
PAPER_NET = ["model.reference=false", "model.convs=2", "input.grayscale=true", "train.pool=0", "train.crop=0",
             "train.schedule=constant", "train.lr=3e-4", "train.frames=50", "train.epochs=300"]

TINY = PAPER_NET + ["model.base_channels=4", "model.depth=2", "train.frames=6", "train.lr=1e-2", "train.save_every=2",
        "train.seed=3", "train.device=cpu"]


def _pool(n=10, h=20, w=28, seed=0):
    g = torch.Generator().manual_seed(seed)
    bg = torch.rand(1, 1, h, w, generator=g)
    clip = bg.repeat(n, 1, 1, 1) + 0.01 * torch.randn(n, 1, h, w, generator=g)
    for t in range(n):
        clip[t, :, 5:10, 2 + 2 * t : 6 + 2 * t] = 1.0
    return clip.clamp(0, 1)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("extra", [[], ["train.crop=12", "train.pool=10", "train.schedule=cosine"]])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, extra):
    cfg = load_config(None, TINY + extra + ["train.epochs=6"])
    pool = _pool()
    full = build_model(cfg)
    train_model(full, pool, cfg, progress=False)

    part = build_model(cfg)
    ck = tmp_path / "m.pt"

    def stop(epoch, row):
        if epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(part, pool, cfg, checkpoint=ck, progress=False, on_step=stop)
    model, saved, state = load_checkpoint(ck)
    assert state.epoch == 2  # the last checkpoint before the interruption (save_every = 2)
    assert saved.to_dict() == cfg.to_dict()
    state = train_model(model, pool, saved, state=state, checkpoint=ck, progress=False)
    assert state.epoch == 6 and [r["epoch"] for r in state.history] == list(range(1, 7))
    assert _same(_weights(model), _weights(full))
    again, _, st2 = load_checkpoint(ck)
    assert _same(_weights(again), _weights(full)) and st2.epoch == 6


def test_checkpoint_round_trip(tmp_path):
    cfg = load_config(None, TINY + ["train.epochs=2"])
    model = build_model(cfg)
    state = train_model(model, _pool(), cfg, progress=False)
    state.frames = [1, 5, 9]
    save_checkpoint(tmp_path / "a.pt", model, cfg, state)
    m2, cfg2, st2 = load_checkpoint(tmp_path / "a.pt")
    assert _same(_weights(m2), _weights(model))
    assert cfg2.to_dict() == cfg.to_dict()
    assert st2.frames == [1, 5, 9] and st2.epoch == 2 and len(st2.history) == 2
    assert not m2.training
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp.pt")]  # atomic write left nothing behind


def test_training_decreases_the_loss_and_leaves_the_mode_alone():
    cfg = load_config(None, TINY + ["train.epochs=25"])
    model = build_model(cfg).eval()
    state = train_model(model, _pool(), cfg, progress=False)
    h = state.history
    assert h[-1]["loss"] < 0.8 * h[0]["loss"]
    assert all(abs(r["loss"] - r["nuclear"] - r["l1"]) < 1e-3 * r["loss"] for r in h)
    assert not model.training


def test_cosine_schedule_and_crop_size():
    cfg = load_config(None, TINY + ["train.epochs=4", "train.schedule=cosine", "train.crop=8", "train.lr=0.1"])
    model = build_model(cfg)
    shapes = []
    model.register_forward_hook(lambda mod, inp, out: shapes.append(tuple(inp[0].shape)))
    state = train_model(model, _pool(), cfg, progress=False)
    assert [round(r["lr"], 6) for r in state.history] == [0.1, round(0.1 * 0.5 * (1 + 0.7071067811865476), 6),
                                                          0.05, round(0.1 * 0.5 * (1 - 0.7071067811865476), 6)]
    assert shapes and all(s == (6, 1, 8, 8) for s in shapes)


def test_channel_mismatch_is_a_one_line_error():
    cfg = load_config(None, TINY)
    with pytest.raises(BgsubError, match="channel"):
        train_model(build_model(cfg), torch.rand(4, 3, 16, 16), cfg, progress=False)


def test_polish_changes_weights_by_tiny_steps_and_reports_eq7():
    cfg = load_config(None, TINY + ["train.epochs=5", "polish.steps=3", "polish.lr=1e-4"])
    model = build_model(cfg)
    train_model(model, _pool(), cfg, progress=False)
    before = _weights(model)
    hist = polish_model(model, _pool()[:6], cfg, progress=False)
    assert len(hist) == 3 and all(r["loss"] > 0 and r["nuclear"] > 0 for r in hist)
    after = _weights(model)
    diff = max((after[k].float() - before[k].float()).abs().max().item() for k in before if "weight" in k)
    assert 0 < diff <= 3 * 1e-4 * 1.01  # Adam moves each weight by at most ~lr per step


def test_history_files(tmp_path):
    hist = [{"epoch": i + 1, "loss": 10.0 / (i + 1), "nuclear": 8.0 / (i + 1), "l1": 2.0 / (i + 1), "lr": 1e-3,
             "seconds": 0.1} for i in range(5)]
    files = write_history(tmp_path / "model", hist)
    assert [f.name for f in files] == ["model.history.csv", "model.history.png"]
    lines = files[0].read_text().splitlines()
    assert lines[0] == "epoch,loss,nuclear,l1,lr,seconds" and len(lines) == 6
    assert files[1].read_bytes()[:4] == b"\x89PNG"


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_CHECKPOINT",))


def test_unsafe_corrupt_and_foreign_checkpoints_give_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pt"
    torch.save({"format": "bgsub-unet", "x": _Evil()}, evil)
    with pytest.raises(BgsubError, match="evil.pt") as e:
        load_checkpoint(evil)
    assert not (tmp_path / "PWNED_BY_CHECKPOINT").exists()
    assert "\n" not in str(e.value)

    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(BgsubError):
        load_checkpoint(raw)
    assert not (tmp_path / "PWNED_BY_CHECKPOINT").exists()

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(BgsubError, match="bad.pt"):
        load_checkpoint(bad)

    cfg = load_config(None, TINY)
    good = tmp_path / "good.pt"
    save_checkpoint(good, build_model(cfg), cfg, TrainState())
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(good.read_bytes()[:200])
    with pytest.raises(BgsubError, match="trunc.pt"):
        load_checkpoint(trunc)

    foreign = tmp_path / "foreign.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), foreign)
    with pytest.raises(BgsubError, match="not a bgsub U-Net checkpoint"):
        load_checkpoint(foreign)

    other = tmp_path / "other.pt"
    data = torch.load(good, weights_only=True)
    data["spec"]["base_channels"] = 8  # weights of a 4-channel network under an 8-channel description
    torch.save(data, other)
    with pytest.raises(BgsubError, match="do not fit the architecture") as e:
        load_checkpoint(other)
    assert "\n" not in str(e.value)


def test_precise_norm_averages_the_batch_statistics_of_its_draws():
    """After pretraining, batch norm's statistics are the plain average of the batch means and (unbiased) batch
    variances over ``batches`` draws, not the exponential average of the last steps: checked against NumPy on two
    "videos" whose batches are their whole pools (no crop, as many frames as the pool), the draws' videos taken
    from a generator seeded as the function seeds its own."""
    import numpy as np

    from bgsub.pretraining import precise_norm

    cfg = load_config(None, ["train.frames=3", "train.crop=0", "train.bf16=false"])
    g = torch.Generator().manual_seed(5)
    pools = [torch.rand(3, 2, 5, 4, generator=g), 3.0 + 2.0 * torch.rand(3, 2, 6, 5, generator=g)]
    weights = torch.tensor([1.0, 3.0])
    bn = torch.nn.BatchNorm2d(2)
    bn.running_mean.fill_(7.0)  # what the training's moving average left: replaced, not averaged in
    model = torch.nn.Sequential(bn)
    precise_norm(model, pools, weights, cfg, batches=40, seed=2, device=torch.device("cpu"),
                 fmt=torch.contiguous_format)
    gen = torch.Generator().manual_seed(2 + 7919)
    drawn = [int(torch.multinomial(weights, 1, generator=gen)) for _ in range(40)]
    assert 0 < sum(drawn) < 40  # both videos drawn
    data = [p.numpy().transpose(1, 0, 2, 3).reshape(2, -1).astype(np.float64) for p in pools]
    mean = np.mean([data[v].mean(axis=1) for v in drawn], axis=0)
    var = np.mean([data[v].var(axis=1, ddof=1) for v in drawn], axis=0)
    assert np.allclose(bn.running_mean.numpy(), mean, atol=1e-5) and np.allclose(bn.running_var.numpy(), var, atol=1e-5)
    assert bn.momentum == 0.1 and model.training
