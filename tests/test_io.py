"""Reading frames from folders and videos; writing masks atomically."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from bgsub.errors import BgsubError
from bgsub.io import frame_number, iter_chunks, iter_frames, list_frames, probe, read_clip, write_mask
from bgsub.io.masks import write_image


def _folder(tmp_path: Path, names, shape=(6, 8)) -> Path:
    d = tmp_path / "frames"
    d.mkdir()
    for i, name in enumerate(names):
        img = np.full(shape + (3,), (10 * i) % 256, np.uint8)
        img[..., 2] = 200  # red channel in BGR
        assert cv2.imwrite(str(d / name), img)
    return d


@pytest.mark.parametrize(
    "name, n",
    [("frame_2.jpg", 2), ("in000123.jpg", 123), ("gt_new_airport1656.bmp", 1656), ("x.png", None), ("a1b22.tif", 22)],
)
def test_frame_number(name, n):
    assert frame_number(name) == n


def test_folder_sorted_by_integer_not_text(tmp_path):
    d = _folder(tmp_path, ["frame_10.png", "frame_2.png", "frame_1.png", "notes.txt.png"])
    (d / "readme.txt").write_text("ignored")
    assert [n for n, _ in iter_frames(d)] == [1, 2, 10]


def test_range_stride_and_numbers(tmp_path):
    d = _folder(tmp_path, [f"in{n:06d}.png" for n in range(1, 11)])
    assert list_frames(d, start=3, end=9, stride=2) == [3, 5, 7, 9]
    assert [n for n, _ in iter_frames(d, start=3, end=9, stride=2)] == [3, 5, 7, 9]
    assert [n for n, _ in iter_frames(d, numbers=[4, 8, 99])] == [4, 8]


def test_grayscale_colour_and_scale(tmp_path):
    d = _folder(tmp_path, ["f1.png"])
    (_, g), = iter_frames(d)
    assert g.shape == (1, 6, 8) and g.dtype == np.float32 and 0 <= g.min() <= g.max() <= 1
    (_, c), = iter_frames(d, grayscale=False)
    assert c.shape == (3, 6, 8)
    assert c[0, 0, 0] == pytest.approx(200 / 255)  # RGB order: red first
    (_, h), = iter_frames(d, scale=0.5)
    assert h.shape == (1, 3, 4)


def test_sequence_folder_resolves_to_input(small_clip):
    info = probe(small_clip)
    assert info.path.name == "input" and info.count == 40 and (info.height, info.width) == (48, 64)


def test_video_frames_numbered_from_one(tmp_path):
    path = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for i in range(12):
        w.write(np.full((24, 32, 3), i * 20, np.uint8))
    w.release()
    frames = list(iter_frames(path, start=3, stride=4))
    assert [n for n, _ in frames] == [3, 7, 11]
    assert frames[0][1].mean() == pytest.approx(40 / 255, abs=0.03)  # the third frame, not the first
    chunks = list(iter_chunks(path, chunk=5))
    assert [len(c.numbers) for c in chunks] == [5, 5, 2]
    assert tuple(chunks[0].frames.shape) == (5, 1, 24, 32)


def test_chunks_cover_all_frames_in_order(small_clip):
    nums = [n for c in iter_chunks(small_clip, chunk=16) for n in c.numbers]
    assert nums == list(range(1, 41))


@pytest.mark.parametrize("dtype, channels", [(np.uint8, 3), (np.uint16, 3), (np.uint8, 4), (np.uint8, 1)])
def test_chunks_hold_each_file_converted_as_numpy_would(tmp_path, dtype, channels):
    """Every frame of every chunk (the last one short) against a literal conversion: RGB order, channels first,
    divided by the type's peak; grayscale by OpenCV's luminance."""
    d = tmp_path / "f"
    d.mkdir()
    g = np.random.default_rng(0)
    peak = np.iinfo(dtype).max
    raw = []
    for i in range(7):
        img = g.integers(0, peak + 1, size=(5, 6, channels) if channels > 1 else (5, 6), dtype=dtype)
        assert cv2.imwrite(str(d / f"f{i + 1}.png"), img)
        raw.append(img)
    for grayscale in (False, True):
        chunks = list(iter_chunks(d, chunk=3, grayscale=grayscale))
        assert [c.numbers for c in chunks] == [[1, 2, 3], [4, 5, 6], [7]]
        got = np.concatenate([c.frames.numpy() for c in chunks])
        for img, frame in zip(raw, got):
            bgr = img[..., :3] if channels > 1 else np.repeat(img[..., None], 3, axis=2)
            if grayscale:
                want = (cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if channels > 1 else img)[None] / peak
            else:
                want = bgr[..., ::-1].transpose(2, 0, 1) / peak
            np.testing.assert_allclose(frame, want, rtol=0, atol=1e-7)
        first = next(iter_frames(d, grayscale=grayscale))[1]
        np.testing.assert_array_equal(first, got[0])  # one frame at a time: the same values


def test_read_clip_errors(tmp_path):
    with pytest.raises(BgsubError, match="no such file or folder"):
        read_clip(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BgsubError, match="no numbered image files"):
        read_clip(tmp_path / "empty")
    (tmp_path / "bad.mp4").write_bytes(b"garbage")
    with pytest.raises(BgsubError, match="not a video OpenCV can decode"):
        read_clip(tmp_path / "bad.mp4")
    d = _folder(tmp_path, ["f1.png"])
    with pytest.raises(BgsubError, match="stride must be >= 1"):
        read_clip(d, stride=0)
    with pytest.raises(BgsubError, match="no frames selected"):
        read_clip(d, start=5)


def test_unreadable_frame_named(tmp_path):
    d = _folder(tmp_path, ["f1.png"])
    (d / "f2.png").write_bytes(b"broken")
    with pytest.raises(BgsubError, match="f2.png: unreadable image"):
        read_clip(d)


def test_write_mask_name_values_and_resize(tmp_path):
    m = np.zeros((3, 4), bool)
    m[1, 2] = True
    p = write_mask(tmp_path, 123, m, size=(6, 8))
    assert p.name == "bin000123.png"
    a = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    assert a.shape == (6, 8) and a.dtype == np.uint8
    assert set(np.unique(a)) == {0, 255} and a[2:4, 4:6].min() == 255
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize("shape", [(24, 32), (1, 24, 32)])
def test_write_mask_of_a_bool_mask_writes_the_bytes_of_its_0_255_image(tmp_path, shape):
    """A bool mask (the pipeline's; its bytes read as 0/1 and scaled) and the same mask as 0/1 or 0..5 integers or
    floats (compared with 0) give byte-identical files: the PNG of (m > 0) as 0/255 uint8, encoded here with
    OpenCV's defaults."""
    rng = np.random.default_rng(len(shape))
    m = rng.random(shape) > 0.7
    want = cv2.imencode(".png", (m.reshape(24, 32) > 0).astype(np.uint8) * 255)[1].tobytes()
    for i, a in enumerate((m, m.astype(np.uint8), m * rng.integers(1, 6, shape), m.astype(np.float32))):
        assert write_mask(tmp_path, i, a).read_bytes() == want
    assert write_mask(tmp_path, 9, m[..., ::-1][..., ::-1]).read_bytes() == want  # a view of another's bytes


def test_written_files_get_the_permissions_of_a_plain_write(tmp_path):
    """Temporary files are created like open(path, "w") creates files (0o666 less the umask), not private
    (0o600) as tempfile.mkstemp makes them: masks and checkpoints can be shared."""
    from bgsub.io.atomic import atomic_save, atomic_write_bytes

    umask = os.umask(0o022)
    try:
        os.umask(umask)
        plain = tmp_path / "plain"
        plain.write_bytes(b"x")
        p = write_mask(tmp_path, 1, np.ones((2, 2)))
        q = atomic_write_bytes(tmp_path / "data.bin", b"data")
        r = atomic_save(tmp_path / "video.avi", lambda tmp: open(tmp, "wb").close())
        for f in (p, q, r):
            assert f.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o666 & ~umask
        assert q.read_bytes() == b"data"
    finally:
        os.umask(umask)


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    import bgsub.io.atomic as atomic

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(BgsubError, match="bin000001.png: cannot write \\(disk full\\)"):
        write_mask(tmp_path, 1, np.ones((2, 2)))
    assert list(tmp_path.iterdir()) == []


def test_write_image_normalize(tmp_path):
    p = write_image(tmp_path / "fg.png", np.array([[0.0, 0.5], [0.25, 0.1]]), normalize=True)
    a = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    assert a[0, 1] == 255 and a[0, 0] == 0 and a[1, 0] == 128
