"""A few labelled frames: choosing them, reading their CDnet labels, the masked supervised loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from bgsub.errors import BgsubError
from bgsub.io.labels import load_label_masks, pick_label_frames
from bgsub.losses import masked_bce


def test_picked_frames_are_spread_one_per_share_and_seeded():
    frames = list(range(470, 1701))
    picked = pick_label_frames(frames, 5, seed=3)
    assert picked == sorted(picked) and len(set(picked)) == 5
    shares = np.array_split(np.array(frames), 5)
    assert all(p in share for p, share in zip(picked, shares))
    assert pick_label_frames(frames, 5, seed=3) == picked
    assert pick_label_frames(frames, 5, seed=4) != picked
    assert pick_label_frames(reversed(frames), 5, seed=3) == picked  # order of the input does not matter


def test_picked_frames_edge_cases():
    assert pick_label_frames([5, 6, 7], 0, seed=0) == []
    assert pick_label_frames([7, 5, 6, 6], 3, seed=0) == [5, 6, 7]
    with pytest.raises(BgsubError):
        pick_label_frames([1, 2], 3, seed=0)


def _sequence(tmp_path, labels_by_frame, roi=None):
    seq = tmp_path / "seq"
    (seq / "groundtruth").mkdir(parents=True)
    (seq / "input").mkdir()
    for n, lab in labels_by_frame.items():
        Image.fromarray(lab.astype(np.uint8), mode="L").save(seq / "groundtruth" / f"gt{n:06d}.png")
    (seq / "temporalROI.txt").write_text("1 10\n")
    if roi is not None:
        Image.fromarray(roi.astype(np.uint8), mode="L").save(seq / "ROI.bmp")
    return seq


def test_cdnet_label_values_give_target_and_ignore_mask(tmp_path):
    lab = np.array([[0, 50, 85, 170, 255, 255]] * 2)
    roi = np.full(lab.shape, 255)
    roi[1, 4] = 0  # one positive pixel outside the ROI
    seq = _sequence(tmp_path, {3: lab, 7: 255 - lab * 0}, roi=roi)
    masks = load_label_masks(seq, [3, 7])
    assert masks.numbers == [3, 7] and masks.target.shape == (2, 1, 2, 6) and masks.target.dtype == torch.bool
    t, v = masks.target[0, 0], masks.valid[0, 0]
    assert t[0].tolist() == [False, False, False, False, True, True]
    assert v[0].tolist() == [True, True, False, False, True, True]  # 85 and 170 ignored, 0 and 50 negative
    assert v[1].tolist() == [True, True, False, False, False, True]  # outside the ROI ignored
    assert bool(masks.target[1].all())


def test_masks_resized_only_on_request_and_missing_frame_named(tmp_path):
    lab = np.zeros((4, 6))
    lab[:2, :3] = 255
    seq = _sequence(tmp_path, {1: lab})
    small = load_label_masks(seq, [1], size=(2, 3))
    assert small.target.shape == (1, 1, 2, 3) and bool(small.target[0, 0, 0, 0]) and not bool(small.target[0, 0, 1, 2])
    with pytest.raises(BgsubError, match="frame 2"):
        load_label_masks(seq, [2])


def test_masked_bce_ignores_invalid_pixels():
    logits = torch.tensor([[4.0, -4.0, 9.0, -9.0]], requires_grad=True)
    target = torch.tensor([[1, 0, 0, 1]], dtype=torch.bool)
    valid = torch.tensor([[True, True, False, False]])
    loss = masked_bce(logits, target, valid)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, :2], target[:, :2].float())
    torch.testing.assert_close(loss, ref)
    loss.backward()
    assert logits.grad[0, 2:].abs().sum() == 0  # wrong but ignored pixels pass no gradient
    none_valid = masked_bce(logits, target, torch.zeros_like(valid))
    assert float(none_valid) == 0.0


def test_foreground_logits_feed_masked_bce_and_push_S_up_on_labelled_foreground():
    from bgsub.losses import foreground_logits

    S = torch.zeros(1, 3, 2, 2, requires_grad=True)
    target = torch.tensor([[[[True, False], [False, False]]]])
    logits = foreground_logits(S, tau=0.1, temperature=0.05)
    assert logits.shape == (1, 1, 2, 2) and torch.allclose(logits, torch.full_like(logits, -2.0))
    masked_bce(logits, target, torch.ones_like(target)).backward()
    # the labelled foreground pixel asks for a larger |S| (gradient of |S| at 0 is 0 by convention in torch,
    # so check on the logit itself)
    lg = logits.detach().requires_grad_(True)
    masked_bce(lg, target, torch.ones_like(target)).backward()
    assert lg.grad[0, 0, 0, 0] < 0 and (lg.grad[0, 0].flatten()[1:] > 0).all()
