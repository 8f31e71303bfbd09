"""scripts/pretrain.py's short cuts (``--cuts N``): each cut lies inside its sequence, in its own frame numbers,
with a length in the stated range, and the same seed draws the same cuts."""

from __future__ import annotations

import cv2
import numpy as np

from conftest import load_script

pt = load_script("pretrain")


def _seq(path, numbers):
    (path / "input").mkdir(parents=True)
    for n in numbers:
        cv2.imwrite(str(path / "input" / f"in{n:06d}.png"), np.full((8, 8, 3), n % 256, np.uint8))
    return path


def test_short_cuts_lie_inside_each_sequence_with_lengths_in_range(tmp_path):
    a = _seq(tmp_path / "a", range(1, 61))  # 60 frames numbered 1..60
    b = _seq(tmp_path / "b", range(5, 105, 2))  # 50 frames numbered 5, 7, ..., 103
    cuts = pt.short_cuts([a, b], 6, longest=39, seed=0)
    assert [v for v, _ in cuts] == [a] * 6 + [b] * 6
    for v, (first, last) in cuts:
        numbers = list(range(1, 61)) if v == a else list(range(5, 105, 2))
        assert first in numbers and last in numbers
        length = numbers.index(last) - numbers.index(first) + 1
        assert 14 <= length <= 39
    assert len({c for _, c in cuts}) > 6  # drawn, not one cut repeated
    assert cuts == pt.short_cuts([a, b], 6, longest=39, seed=0)
    assert cuts != pt.short_cuts([a, b], 6, longest=39, seed=1)


def test_a_sequence_shorter_than_the_cut_gives_all_its_frames(tmp_path):
    c = _seq(tmp_path / "c", range(1, 11))  # 10 frames: shorter than the shortest cut
    assert pt.short_cuts([c], 2, longest=39, seed=0) == [(c, (1, 10)), (c, (1, 10))]
    assert pt.short_cuts([c], 0, longest=39, seed=0) == []
