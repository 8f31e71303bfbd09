"""scripts/probe_lbsp.py (issue 18's pattern probe): its pattern against a literal loop, and the separation it
reports on a hand-made clip (a flat patch in front of a swaying checkerboard)."""

from __future__ import annotations

import numpy as np

from conftest import load_script  # tests/ is on sys.path (rootdir conftest, no __init__.py)


def test_the_pattern_against_a_literal_loop():
    """Bit i at (y, x): |img[reflect(y + dy_i), reflect(x + dx_i)] - img[y, x]| > tr * max(img[y, x], 10) + 3, the
    frame's edges mirrored without repeating the edge pixel (OpenCV's BORDER_REFLECT_101)."""
    P = load_script("probe_lbsp")
    rng = np.random.default_rng(2)
    img = (rng.random((7, 9)) * 200).astype(np.float32)
    got = P.lbsp(img, 0.2)
    assert got.shape == (12, 7, 9) and len(set(P.RING)) == 12

    def refl(i, n):
        i = abs(i)
        return 2 * (n - 1) - i if i > n - 1 else i

    for b, (dy, dx) in enumerate(P.RING):
        for y in range(7):
            for x in range(9):
                nb = img[refl(y + dy, 7), refl(x + dx, 9)]
                want = abs(nb - img[y, x]) > 0.2 * max(img[y, x], 10.0) + 3.0
                assert got[b, y, x] == want, (b, y, x)


def test_a_flat_patch_on_a_swaying_checkerboard_is_far_from_its_samples():
    """A checkerboard of 2-pixel cells (100 / 160 grey levels) shifted by a pixel from frame to frame, a flat patch
    of 130 over part of it in the later frames: the patch's interior patterns (no bit set) are far from the
    board's (many bits), the board's own pixels near their samples."""
    P = load_script("probe_lbsp")
    h, w, T, first = 24, 32, 20, 10
    yy, xx = np.mgrid[0:h, 0:w]
    g = np.empty((T, h, w), np.float32)
    m = np.zeros((T, h, w), bool)
    for t in range(T):
        g[t] = np.where(((yy // 2) + ((xx + t % 2) // 2)) % 2 == 0, 100.0, 160.0)
        if t >= first:
            g[t, 6:18, 8:20] = 130.0
            m[t, 6:18, 8:20] = True
    fg, bg = P.separation(g, m, first, 0.1)
    assert fg.size and bg.size
    assert np.mean(fg >= 6) > 0.9 and np.mean(bg >= 6) < 0.05
