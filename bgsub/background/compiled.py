"""The bodies of the compiled kernels (Numba), defined by :func:`define` for the loader in
:mod:`bgsub.background.kernels`, which compiles, checks and hands them out (and documents what each replaces).
Each does the float arithmetic of the whole-array code it replaces, in the same order: the same values. Only the
loader imports this module, after Numba has been imported."""

from __future__ import annotations

import numpy as np


def define(numba, *, cache: bool) -> dict:
    """name -> the njit-compiled kernel (``cache``: compiled code kept on disk, see the loader)."""
    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def kth_rows(s, x, k, out, buf):  # pragma: no cover - compiled (tested through kth_smallest_rows)
        # s (n, R, w), x (R, w), out (R, w): out[r, j] = the k-th smallest |s[:, r, j] - x[r, j]|;
        # buf (k + 1, w) scratch: rows 0..k-1 the sorted running minima, row k the value being inserted
        n, R, w = s.shape
        for r in range(R):
            xr = x[r]
            if k == 2:  # the default (#min = 2): both minima in one fused loop a sample
                m1 = buf[0]
                m2 = buf[1]
                for j in range(w):
                    m1[j] = np.inf
                    m2[j] = np.inf
                for m in range(n):
                    sm = s[m, r]
                    for j in range(w):
                        b = abs(sm[j] - xr[j])
                        a = m1[j]
                        m1[j] = min(a, b)
                        m2[j] = min(m2[j], max(a, b))
                o = out[r]
                for j in range(w):
                    o[j] = m2[j]
                continue
            for q in range(k):
                for j in range(w):
                    buf[q, j] = np.inf
            d = buf[k]
            for m in range(n):
                sm = s[m, r]
                for j in range(w):
                    d[j] = abs(sm[j] - xr[j])
                for q in range(k):  # insert d into the sorted minima; the larger of each pair carries on
                    mq = buf[q]
                    for j in range(w):
                        a = mq[j]
                        b = d[j]
                        mq[j] = min(a, b)
                        d[j] = max(a, b)
            last = buf[k - 1]
            o = out[r]
            for j in range(w):
                o[j] = last[j]

    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def band_drop(inner, x, bg, off, ys, xs, R, thr, rr):  # pragma: no cover - compiled (tested through refine)
        # inner (h, w) uint8 0/1, x and bg (C, h, w) float32, off (C,) float64, ys/xs (P,) band pixels:
        # whether each band pixel is dropped (bgsub.background.boundary.refine's rule, its arithmetic in its order:
        # the integral image of [inner, x * inner] in float64 row by row as OpenCV's, box sums as
        # ((D - B) - C) + A, channel sums left to right)
        C, h, w = x.shape
        ii = np.empty((C + 1, h + 1, w + 1), np.float64)  # plane 0: the interior; 1..C: the frame on it
        for c in range(C + 1):  # zero above and left of the frame (the rest is written below)
            for q in range(w + 1):
                ii[c, 0, q] = 0.0
            for y in range(h):
                ii[c, y + 1, 0] = 0.0
        if C == 3:  # the colour frame: the four running row sums in one loop over the row, so that their four
            # chains of dependent additions overlap (each sum alone waits on its previous addition: 0.25 ms a frame
            # at 320 x 240 plane by plane); each is the same sum in the same order
            for y in range(h):
                ic = inner[y]
                x0, x1, x2 = x[0, y], x[1, y], x[2, y]
                i0, i1, i2, i3 = ii[0, y], ii[1, y], ii[2, y], ii[3, y]
                o0, o1, o2, o3 = ii[0, y + 1], ii[1, y + 1], ii[2, y + 1], ii[3, y + 1]
                s0 = 0.0
                s1 = 0.0
                s2 = 0.0
                s3 = 0.0
                for q in range(w):
                    m = np.float32(ic[q])
                    s0 += np.float64(m)
                    s1 += np.float64(x0[q] * m)
                    s2 += np.float64(x1[q] * m)
                    s3 += np.float64(x2[q] * m)
                    o0[q + 1] = i0[q + 1] + s0
                    o1[q + 1] = i1[q + 1] + s1
                    o2[q + 1] = i2[q + 1] + s2
                    o3[q + 1] = i3[q + 1] + s3
        else:
            for y in range(h):
                s0 = 0.0
                for q in range(w):
                    s0 += np.float64(np.float32(inner[y, q]))
                    ii[0, y + 1, q + 1] = ii[0, y, q + 1] + s0
                for c in range(C):
                    xc = x[c, y]
                    ic = inner[y]
                    sc = 0.0
                    for q in range(w):
                        sc += np.float64(xc[q] * np.float32(ic[q]))
                        ii[c + 1, y + 1, q + 1] = ii[c + 1, y, q + 1] + sc
        P = ys.shape[0]
        drop = np.zeros(P, np.bool_)
        sums = np.empty(C + 1, np.float64)
        for i in range(P):
            py, pxx = ys[i], xs[i]
            ya, yb = max(py - R, 0), min(py + R + 1, h)
            xa, xb = max(pxx - R, 0), min(pxx + R + 1, w)
            for c in range(C + 1):
                sums[c] = ii[c, yb, xb] - ii[c, ya, xb] - ii[c, yb, xa] + ii[c, ya, xa]
            count = sums[0]
            if not count > 0.5:
                continue
            den = max(count, 1.0)
            dxo = 0.0
            dxb = 0.0
            far = False
            for c in range(C):
                o = sums[c + 1] / den
                p = np.float64(x[c, py, pxx])
                b = np.float64(bg[c, py, pxx]) + off[c]
                dxo += (p - o) ** 2
                dxb += (p - b) ** 2
                if abs(o - b) > thr:
                    far = True
            drop[i] = far and dxb < rr * dxo
        return drop

    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def grey_texture(xt, out):  # pragma: no cover - compiled (tested through working_and_texture)
        # xt (T, C, th, tw) float32 -> out (T, th, tw): the texture before its area average
        # (bgsub.background.texture.texture_of on bgsub.background.working.channel_mean's grey, their arithmetic
        # in their order: the channels added in order and divided in float64; half |differences|; left + right,
        # + above, + below)
        T, C, th, tw = xt.shape
        g = np.empty((th, tw), np.float32)
        hy = np.zeros((th + 1, tw), np.float32)  # hy[y]: half |g[y] - g[y - 1]|, 0 outside the frame
        hx = np.zeros(tw + 1, np.float32)
        half = np.float32(0.5)
        for t in range(T):
            for y in range(th):
                gy = g[y]
                if C == 1:
                    for q in range(tw):
                        gy[q] = xt[t, 0, y, q]
                elif C == 3:
                    x0, x1, x2 = xt[t, 0, y], xt[t, 1, y], xt[t, 2, y]
                    for q in range(tw):
                        gy[q] = np.float32(np.float64((x0[q] + x1[q]) + x2[q]) / 3.0)
                else:
                    for q in range(tw):
                        s = xt[t, 0, y, q] + xt[t, 1, y, q]
                        for c in range(2, C):
                            s = s + xt[t, c, y, q]
                        gy[q] = np.float32(np.float64(s) / C)
                if y > 0:
                    gp, hr = g[y - 1], hy[y]
                    for q in range(tw):
                        hr[q] = abs(gy[q] - gp[q]) * half
            for y in range(th):
                gy = g[y]
                for q in range(1, tw):
                    hx[q] = abs(gy[q] - gy[q - 1]) * half
                o, up, dn = out[t, y], hy[y], hy[y + 1]
                for q in range(tw):
                    o[q] = ((hx[q] + hx[q + 1]) + up[q]) + dn[q]
        return out

    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def fit_inliers(a, b, B0, xs, ksig, ok, out):  # pragma: no cover - compiled (tested through gain_compensated)
        # out[p] = ok[p] and |(a[c] B0[c, p] + b[c]) - xs[c, p]| <= ksig[p] for every channel c (float32, as
        # bgsub.background.illumination.gain_compensated's inliers)
        # (a channel at a time over the pixels, the tests and-ed in: loops LLVM vectorises, 3x faster than a
        # loop over the channels inside each pixel's with an early exit; the same tests)
        C, P = B0.shape
        for p in range(P):
            out[p] = ok[p]
        for c in range(C):
            ac = a[c]
            bc = b[c]
            Bc = B0[c]
            xc = xs[c]
            for p in range(P):
                out[p] = out[p] & (abs((ac * Bc[p] + bc) - xc[p]) <= ksig[p])
        return out

    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def nn_spread_at(s, k, lo, hi, mode, wgt, ci, cj, out):  # pragma: no cover - compiled (tested through nn_spread)
        # s (n, C, P) float32 without NaNs -> out (P,): over the samples, the percentile (sorted positions lo, hi
        # and the weight wgt: mode 0 from the lower value, 1 from the upper, as bgsub.background.stats.percentile0;
        # mode 2 the mean of the two, as median0 for an even count) of each sample's
        # distance to its k-th nearest other sample, max over channels (bgsub.background.stats.knn_distance: in
        # sorted order the least reach of the k + 1 windows of k + 1 consecutive values that hold it).
        # The sorts are a sorting network (compare-exchanges ci[e] < cj[e], the same for every pixel: no
        # branches), applied to a block of pixels at a time with the pixels innermost, so every step is one
        # vectorised pass over the block. Ties may be ordered differently than a stable sort, but equal values
        # have equal distances: the same values.
        n, C, P = s.shape
        B = 256
        v = np.empty((n, B), np.float32)
        ix = np.empty((n, B), np.int32)
        best = np.empty((n, B), np.float32)
        d = np.empty((n, B), np.float32)
        E = ci.shape[0]
        for p0 in range(0, P, B):
            m = min(B, P - p0)
            for j in range(n):
                for p in range(m):
                    d[j, p] = -np.inf
            for c in range(C):
                for j in range(n):
                    for p in range(m):
                        v[j, p] = s[j, c, p0 + p]
                        ix[j, p] = j
                for e in range(E):
                    a = ci[e]
                    b = cj[e]
                    for p in range(m):
                        x = v[a, p]
                        y = v[b, p]
                        ia = ix[a, p]
                        ib = ix[b, p]
                        sw = x > y
                        v[a, p] = y if sw else x
                        v[b, p] = x if sw else y
                        ix[a, p] = ib if sw else ia
                        ix[b, p] = ia if sw else ib
                for q in range(n):
                    for p in range(m):
                        best[q, p] = np.inf
                    for t in range(k + 1):
                        a = q - t
                        b = a + k
                        if a >= 0 and b <= n - 1:
                            for p in range(m):
                                r = max(v[q, p] - v[a, p], v[b, p] - v[q, p])
                                best[q, p] = min(best[q, p], r)
                for q in range(n):
                    for p in range(m):
                        j = ix[q, p]
                        d[j, p] = max(d[j, p], best[q, p])
            for e in range(E):  # the distances sorted (the network's loop is written out in each kernel: a jitted
                #                 helper taken from this closure would change Numba's cache key every run)
                a = ci[e]
                b = cj[e]
                for p in range(m):
                    x = d[a, p]
                    y = d[b, p]
                    d[a, p] = min(x, y)
                    d[b, p] = max(x, y)
            for p in range(m):
                prev = d[lo, p]
                nxt = d[hi, p]
                diff = nxt - prev
                if mode == 2:
                    out[p0 + p] = (prev + nxt) / np.float32(2.0)
                elif mode == 1:
                    out[p0 + p] = nxt - diff * wgt
                else:
                    out[p0 + p] = prev + diff * wgt
        return out

    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def median_cols(a, ci, cj, out):  # pragma: no cover - compiled (tested through stats.median0)
        # a (n, P) float32 without NaNs -> out (P,): each column's median as bgsub.background.stats.median0 (the
        # middle value, or the two middle ones' sum halved in float32), sorted by the network (ci, cj) a block
        # of columns at a time, the columns innermost
        n, P = a.shape
        B = 512
        v = np.empty((n, B), np.float32)
        E = ci.shape[0]
        for p0 in range(0, P, B):
            m = min(B, P - p0)
            for j in range(n):
                for p in range(m):
                    v[j, p] = a[j, p0 + p]
            for e in range(E):
                x0 = ci[e]
                y0 = cj[e]
                for p in range(m):
                    x = v[x0, p]
                    y = v[y0, p]
                    v[x0, p] = min(x, y)
                    v[y0, p] = max(x, y)
            h = n // 2
            if n % 2:
                for p in range(m):
                    out[p0 + p] = v[h, p]
            else:
                for p in range(m):
                    out[p0 + p] = (v[h - 1, p] + v[h, p]) / np.float32(2.0)
        return out

    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def motion_parts(p0, p1, p2, floor, d, r):  # pragma: no cover - compiled (tested through frame_motion)
        # three consecutive frames (C, h, w) float32 -> d (h, w): the middle frame's larger difference to its
        # neighbours, max over channels (stats._motion with box 1), and r (h, w): d over the middle frame's
        # gradient magnitude (central differences, 0 on the outer rows / columns, max over channels), the
        # gradient floored at ``floor`` (stats._displacement), in one pass with the same float32 arithmetic
        # Row by row, each channel's row in loops over the pixels (vectorised by LLVM; a loop over the channels
        # inside each pixel's was not: 116 -> 45 us a 160 x 120 colour frame); each pixel's maxima over the
        # channels are taken in the same order from the same float32 values
        C, h, w = p1.shape
        half = np.float32(0.5)
        zero = np.float32(0.0)
        gm = np.empty(w, np.float32)
        for y in range(h):
            dm = d[y]
            for x in range(w):
                dm[x] = zero
                gm[x] = zero
            for c in range(C):
                a0 = p0[c, y]
                a1 = p1[c, y]
                a2 = p2[c, y]
                for x in range(w):
                    dm[x] = max(dm[x], max(abs(a1[x] - a0[x]), abs(a2[x] - a1[x])))
                if 0 < y < h - 1:
                    up = p1[c, y - 1]
                    dn = p1[c, y + 1]
                    for x in range(1, w - 1):
                        gy = half * (dn[x] - up[x])
                        gx = half * (a1[x + 1] - a1[x - 1])
                        gm[x] = max(gm[x], np.sqrt(gx * gx + gy * gy))
                    for x in (0, w - 1):  # the outer columns: no horizontal difference (both: x = 0 when w = 1)
                        gy = half * (dn[x] - up[x])
                        gm[x] = max(gm[x], np.sqrt(zero * zero + gy * gy))
                else:  # the outer rows: no vertical difference
                    for x in range(1, w - 1):
                        gx = half * (a1[x + 1] - a1[x - 1])
                        gm[x] = max(gm[x], np.sqrt(gx * gx + zero * zero))
                    for x in (0, w - 1):
                        gm[x] = max(gm[x], np.sqrt(zero * zero + zero * zero))
            ry = r[y]
            for x in range(w):
                ry[x] = dm[x] / max(gm[x], floor)

    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def drawn(bg, r, below):  # pragma: no cover - compiled (tested through update.diffuse)
        # the flat indices, in order, of the pixels where bg and r < below (np.flatnonzero(bg & (r < below)))
        fb = bg.reshape(-1)
        fr = r.reshape(-1)
        out = np.empty(fb.size, np.int64)
        m = 0
        for i in range(fb.size):
            if fb[i] and fr[i] < below:
                out[m] = i
                m += 1
        return out[:m]

    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def put(samples, x, j, dst, src):  # pragma: no cover - compiled (tested through update.diffuse)
        # samples (n, C, P) [j[i], :, dst[i]] = x (C, P) [:, src[i]] for i in order (a later entry wins)
        C = x.shape[0]
        for i in range(j.shape[0]):
            for c in range(C):
                samples[j[i], c, dst[i]] = x[c, src[i]]

    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def keep_stiller(mm, stiller, wm, worst, vals, mot, src, idx, mapped):  # pragma: no cover - compiled
        # (tested through bgsub.background.stable.StableSearch.step) the stable search's update, per pixel p of
        # the P searched: where mm[p] < wm[p] * stiller (float32), the least still kept value (worst[p]) becomes
        # the frame's, src[:, idx[p] if mapped else p], its motion mm[p], and the pixel's least still kept frame
        # is found again (np.argmax's: the first largest motion, the first NaN if any). Returns how many changed.
        n, C, P = vals.shape
        changed = 0
        for p in range(P):
            if not mm[p] < wm[p] * stiller:
                continue
            changed += 1
            j = worst[p]
            col = idx[p] if mapped else p
            for c in range(C):
                vals[j, c, p] = src[c, col]
            mot[j, p] = mm[p]
            bi = 0
            best = mot[0, p]
            if best == best:  # (a NaN is np.argmax's answer as soon as it is met)
                for i in range(1, n):
                    v = mot[i, p]
                    if v != v:
                        bi = i
                        break
                    if v > best:
                        best = v
                        bi = i
            worst[p] = bi
            wm[p] = mot[bi, p]
        return changed

    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def shadow_test(xc, zmax, bg, sigma, k, smin, smax, tex, ts, tsig, textured, m, alpha, sh, cd):  # pragma: no cover
        # (compiled; tested through bgsub.background.shadow.shadowed) the cast-shadow test at the pixels with
        # zmax > k: xc, bg (C, P), zmax, sigma (P,), tex, tsig (P,), ts (n, P) float32; k, smin, smax float32 (NumPy
        # compares float32 arrays with Python floats cast to float32); m the texture's order statistic (1 <= m
        # <= n). alpha (P,) float32 (1 where not a shadow), sh (P,) bool, cd (P,) float32 (0 where not) written;
        # returns how many pixels are shadows. The arithmetic of shadowed's NumPy steps in their order: the
        # channel sums left to right, the largest |x - a b| over the channels, the m-th smallest texture distance
        # (an order statistic: the same value as the running minima's)
        C, P = xc.shape
        n = ts.shape[0]
        one = np.float32(1.0)
        eps = np.float32(1e-6)
        mins = np.empty(m, np.float32)
        found = 0
        for p in range(P):
            alpha[p] = one
            sh[p] = False
            cd[p] = np.float32(0.0)
            if not zmax[p] > k:
                continue
            s1 = xc[0, p] * bg[0, p]
            s2 = bg[0, p] * bg[0, p]
            for c in range(1, C):
                s1 = s1 + xc[c, p] * bg[c, p]
                s2 = s2 + bg[c, p] * bg[c, p]
            a = s1 / (s2 if (s2 > eps or s2 != s2) else eps)  # (np.maximum's: a NaN carries on)
            cm = abs(xc[0, p] - a * bg[0, p])
            for c in range(1, C):
                cm = max(cm, abs(xc[c, p] - a * bg[c, p]))
            cv = cm / sigma[p]
            if not (a >= smin and a < smax and cv <= k):
                continue
            if textured:
                v = tex[p] / a
                for i in range(m):
                    mins[i] = np.inf
                for j in range(n):  # insert |ts_j - v| into the m sorted smallest
                    d = abs(ts[j, p] - v)
                    for i in range(m):
                        lo = mins[i]
                        if d < lo:
                            mins[i] = d
                            d = lo
                if mins[m - 1] / tsig[p] > k:
                    continue
            sh[p] = True
            alpha[p] = a
            cd[p] = cv
            found += 1
        return found

    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def unit_planes(img, lut, out):  # pragma: no cover - compiled (tested through bgsub.io.frames._convert)
        # img (H, W, 3) uint8 BGR as OpenCV decodes it -> out (3, H, W) float32 RGB: out[c, y, x] =
        # lut[img[y, x, 2 - c]], lut (256,) each 8-bit value over 255 as np.divide computes it in float32
        H, W = img.shape[:2]
        for y in range(H):
            r = img[y]
            o0 = out[0, y]
            o1 = out[1, y]
            o2 = out[2, y]
            for x in range(W):
                o0[x] = lut[r[x, 2]]
                o1[x] = lut[r[x, 1]]
                o2[x] = lut[r[x, 0]]
        return out

    @numba.njit(cache=cache, nogil=True, boundscheck=False, fastmath=False)
    def ghost_counts(x, last, bg, fg, thr, count, moved, quiet, off):  # pragma: no cover - compiled (ghost.counts)
        # per pixel p of (C, P) frames: off = fg or max_c |x - bg| > thr; unchanged = max_c |x - last| <= thr;
        # moved |= changed; count + 1 where unchanged and off, else 0; quiet + 1 where not off, else 0 (in place).
        # The channels outermost, the pixels innermost: each loop a straight pass LLVM vectorises
        C, P = x.shape
        db = np.zeros(P, np.float32)
        dl = np.zeros(P, np.float32)
        for c in range(C):
            xc, bc, lc = x[c], bg[c], last[c]
            for p in range(P):
                db[p] = max(db[p], abs(xc[p] - bc[p]))
                dl[p] = max(dl[p], abs(xc[p] - lc[p]))
        for p in range(P):
            o = fg[p] | (db[p] > thr[p])
            same = dl[p] <= thr[p]
            off[p] = o
            moved[p] = moved[p] | (not same)
            count[p] = (count[p] + 1) * (same & o)
            quiet[p] = (quiet[p] + 1) * (not o)

    return {"kth_rows": kth_rows, "band_drop": band_drop, "grey_texture": grey_texture, "fit_inliers": fit_inliers,
            "nn_spread_at": nn_spread_at, "median_cols": median_cols, "motion_parts": motion_parts, "drawn": drawn,
            "put": put, "unit_planes": unit_planes, "keep_stiller": keep_stiller, "shadow_test": shadow_test,
            "ghost_counts": ghost_counts}
