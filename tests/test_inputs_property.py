"""A property-based sweep of bad inputs (issue 11): random and truncated images, zero-byte videos, frames of
mixed sizes and channel counts, 16-bit PNGs, ground truth with gaps or extra files, malformed temporalROI.txt
and ROI.bmp, YAML with wrong types, NaN/inf in overrides. Each gives one line, exit 1 (2 for usage errors), no
traceback, and nothing half-written."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import typing
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from bgsub.config import Config, load_config
from bgsub.errors import BgsubError
from bgsub.io.frames import read_clip
from bgsub.io.layout import read_labels
from bgsub.synth import synth
from conftest import run_cli  # tests/ is on sys.path (rootdir conftest, no __init__.py)

# Few examples, no shrinking: each example runs a command; a failure prints its example as found.
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.reuse, Phase.generate], print_blob=True)

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # the broken images are on purpose

H, W, N = 24, 32, 8


_ROOT: list[Path] = []


def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="bgsub-prop-", dir=_ROOT[0] if _ROOT else None))


@pytest.fixture(scope="module", autouse=True)
def _tmp_root(tmp_path_factory):
    _ROOT[:] = [tmp_path_factory.mktemp("examples")]  # pytest cleans it up like any tmp_path
    yield
    _ROOT.clear()


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("inputs") / "seq"
    synth(out, height=H, width=W, frames=N, seed=7)
    return out


@pytest.fixture(scope="module")
def pred(base, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pred") / "pred"
    r = run_cli("rpca", base, "-o", out, "--max-iter", "20")
    assert r.code == 0, r.stderr
    return out


def _copy(src: Path) -> Path:
    d = _tmp()
    shutil.copytree(src, d / src.name)
    return d / src.name


def assert_one_line(r, code: int = 1, *needles: str) -> None:
    assert r.code == code, (r.code, r.stdout[-300:], r.stderr[-600:])
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    if code == 1:
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("bgsub: error: ")]
        assert len(errors) == 1 and errors[0] == lines[-1], r.stderr
        for n in needles:
            assert n in errors[0], errors[0]


def _no_temporaries(root: Path) -> None:
    assert not [p for p in root.rglob(".*") if p.is_file()]


# ---- image files --------------------------------------------------------------------------------------------

_png = cv2.imencode(".png", (np.arange(H * W).reshape(H, W) % 256).astype(np.uint8))[1].tobytes()
_jpg = cv2.imencode(".jpg", (np.arange(H * W).reshape(H, W) % 256).astype(np.uint8))[1].tobytes()

def _decodable(data: bytes) -> bool:
    """Whether OpenCV (frames) or Pillow (masks) can read all of ``data`` (a cut after the last pixel byte still
    reads: such a file is not broken)."""
    import io

    from PIL import Image

    if data and cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is not None:
        return True
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
        return True
    except Exception:
        return False


broken_images = st.one_of(
    st.binary(max_size=400),  # random bytes
    st.integers(0, len(_png) - 1).map(lambda k: _png[:k]),  # a PNG cut short
    st.integers(0, 40).map(lambda k: _jpg[:k]),  # a JPEG cut inside its header
)


@SETTINGS
@given(data=broken_images, which=st.integers(1, N))
def test_a_broken_input_frame(base, data, which):
    assume(not _decodable(data))
    clip = _copy(base)
    bad = clip / "input" / f"in{which:06d}.png"
    bad.write_bytes(data)
    out = clip.parent / "out"
    r = run_cli("rpca", clip, "-o", out, "--max-iter", "3")
    assert_one_line(r, 1, str(bad) if which != 1 else "in000001.png")
    assert not out.exists()  # the bad frame is in the first window: nothing was written
    _no_temporaries(clip.parent)


@SETTINGS
@given(data=broken_images, where=st.sampled_from(["pred", "gt", "roi"]))
def test_a_broken_mask_ground_truth_or_roi(base, pred, data, where):
    assume(not _decodable(data))
    clip, p = _copy(base), _copy(pred)
    target = {"pred": p / "bin000005.png", "gt": clip / "groundtruth" / "gt000005.png", "roi": clip / "ROI.bmp"}[where]
    target.write_bytes(data)
    r = run_cli("evaluate", p, "--gt", clip)
    assert_one_line(r, 1, str(target))


@pytest.mark.parametrize("ext", [".avi", ".mp4", ".mkv"])
@pytest.mark.parametrize("command", ["rpca", "train", "segment", "evaluate-pred"])
def test_a_zero_byte_video(tmp_path, ext, command, cli):
    video = tmp_path / f"empty{ext}"
    video.write_bytes(b"")
    out = tmp_path / "out"
    args = {"rpca": ["rpca", video, "-o", out], "train": ["train", video, "-o", out / "m.pt"],
            "segment": ["segment", video, "-m", tmp_path / "no.pt", "-o", out],
            "evaluate-pred": ["evaluate", video, "--gt", tmp_path]}[command]
    r = cli(*args)
    assert_one_line(r, 1, str(video) if command != "segment" else "no.pt")
    assert not out.exists() or not any(out.rglob("*"))


frame_kinds = st.tuples(st.sampled_from([(H, W), (H, W), (H + 2, W), (H, W - 4)]), st.sampled_from([1, 3, 4]),
                        st.sampled_from([np.uint8, np.uint16]))


@SETTINGS
@given(kinds=st.lists(frame_kinds, min_size=N, max_size=N), seed=st.integers(0, 2**16))
def test_frames_of_mixed_sizes_channel_counts_and_depths(kinds, seed):
    rng = np.random.default_rng(seed)
    folder = _tmp() / "frames"
    folder.mkdir()
    ref = []
    for i, ((h, w), c, dt) in enumerate(kinds, start=1):
        top = 255 if dt is np.uint8 else 65535
        a = rng.integers(0, top + 1, size=(h, w) if c == 1 else (h, w, c)).astype(dt)
        assert cv2.imwrite(str(folder / f"f{i}.png"), a)
        # reference: grey in [0, 1], float64 (OpenCV's luminance weights for colour)
        g = a.astype(np.float64) / top
        if c > 1:
            b, gg, rr = g[..., 0], g[..., 1], g[..., 2]
            g = 0.114 * b + 0.587 * gg + 0.299 * rr
        ref.append(g)
    sizes = {k[0] for k in kinds}
    if len(sizes) > 1:
        with pytest.raises(BgsubError, match=r"f\d+\.png: frame is \d+x\d+ but f1\.png is \d+x\d+; all frames"):
            read_clip(folder)
        r = run_cli("rpca", folder, "-o", folder.parent / "out", "--max-iter", "2")
        assert_one_line(r, 1, "all frames of a video must have one size")
        assert not (folder.parent / "out").exists()
    else:
        clip = read_clip(folder)
        assert clip.frames.shape == (N, 1, H, W)
        for i, g in enumerate(ref):  # 8- and 16-bit, grey and colour, all scaled to [0, 1]
            np.testing.assert_allclose(clip.frames[i, 0].numpy(), g, atol=2 / 255)


def test_a_16_bit_png_reads_as_its_value_over_65535(tmp_path):
    a = np.array([[0, 1, 257, 32768, 65534, 65535]], np.uint16).repeat(3, 0)
    for i in (1, 2):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), a)
    got = read_clip(tmp_path).frames[0, 0].double().numpy()
    np.testing.assert_allclose(got, a / 65535.0, rtol=0, atol=1e-7)


# ---- ground truth layout ------------------------------------------------------------------------------------


@SETTINGS
@given(drop=st.sets(st.integers(1, N)), extra_numbered=st.sets(st.integers(N + 1, 3 * N), max_size=3),
       extra_named=st.lists(st.sampled_from(["notes.txt", "README", "gt.png", "Thumbs.db", ".hidden.png"]),
                            max_size=3, unique=True))
def test_ground_truth_with_gaps_and_extra_files(base, pred, drop, extra_numbered, extra_named):
    clip = _copy(base)
    gt = clip / "groundtruth"
    for n in drop:
        (gt / f"gt{n:06d}.png").unlink()
    for n in extra_numbered:  # ground truth for frames the video does not have
        shutil.copy(base / "groundtruth" / "gt000001.png", gt / f"gt{n:06d}.png")
    for name in extra_named:
        (gt / name).write_bytes(b"not an image")
    a, b = (int(x) for x in (clip / "temporalROI.txt").read_text().split())
    scored = [n for n in range(1, 3 * N + 1) if a <= n <= b and (gt / f"gt{n:06d}.png").exists()]
    r = run_cli("evaluate", pred, "--gt", clip, "--json")
    if not [n for n in scored if n <= N]:
        assert_one_line(r, 1)  # nothing to score in common
        return
    assert r.code == 0, r.stderr
    import json

    j = json.loads(r.stdout)
    assert j["frames"] == len(scored)
    assert j["missing"] == len([n for n in scored if n > N])  # no prediction: counted as empty masks
    # NumPy reference of the CDnet counts
    roi = read_labels(clip / "ROI.bmp") > 127
    tp = fp = fn = tn = 0
    for n in scored:
        g = read_labels(gt / f"gt{n:06d}.png")
        pp = pred / f"bin{n:06d}.png"
        p = read_labels(pp) > 127 if pp.exists() else np.zeros(g.shape, bool)
        v = np.isin(g, (0, 50, 255)) & roi
        pos = g == 255
        tp += int((p & pos & v).sum()); fp += int((p & ~pos & v).sum())  # noqa: E702
        fn += int((~p & pos & v).sum()); tn += int((~p & ~pos & v).sum())  # noqa: E702
    assert j["counts"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


@SETTINGS
@given(text=st.one_of(st.text(max_size=20), st.tuples(st.integers(-5, 3 * N), st.integers(-5, 3 * N)).map(
    lambda t: f"{t[0]} {t[1]}")))
def test_temporal_roi_text(base, pred, text):
    clip = _copy(base)
    (clip / "temporalROI.txt").write_text(text, encoding="utf-8", errors="surrogateescape")
    r = run_cli("evaluate", pred, "--gt", clip, "--json")
    parts = text.split()
    ok = len(parts) == 2 and all(p.isdigit() and p.isascii() for p in parts)
    if ok and int(parts[0]) <= int(parts[1]) and int(parts[0]) <= N and int(parts[1]) >= 1:
        assert r.code == 0, r.stderr
    else:
        assert_one_line(r, 1)
        if not ok:
            assert "temporalROI.txt: expected two frame numbers" in r.stderr


@SETTINGS
@given(h=st.integers(1, 40), w=st.integers(1, 40), channels=st.sampled_from([1, 3]))
def test_roi_of_another_size(base, pred, h, w, channels):
    assume((h, w) != (H, W))
    clip = _copy(base)
    cv2.imwrite(str(clip / "ROI.bmp"), np.full((h, w) if channels == 1 else (h, w, 3), 255, np.uint8))
    r = run_cli("evaluate", pred, "--gt", clip)
    assert_one_line(r, 1, "ROI.bmp", f"{w}x{h}")
    out = clip.parent / "bench"
    r = run_cli("benchmark", clip, "-m", "mog2", "-o", out, "--contact", "0")
    assert_one_line(r, 1, "ROI.bmp", "resize ROI.bmp")
    assert not out.exists()


# ---- configuration ------------------------------------------------------------------------------------------


def _fields() -> list[tuple[str, str, typing.Any]]:
    out = []
    for sec in dataclasses.fields(Config):
        hints = typing.get_type_hints(sec.type if isinstance(sec.type, type) else type(getattr(Config(), sec.name)))
        for k, t in hints.items():
            out.append((sec.name, k, t))
    return out


FIELDS = _fields()


def _accepts(t, v) -> bool:
    args = typing.get_args(t)
    if args:  # Optional[X], or a choice of types (segment.prescan: true / false or a word)
        return (v is None and type(None) in args) or any(_accepts(a, v) for a in args if a is not type(None))
    if t is float:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
    if t is int:
        return isinstance(v, int) and not isinstance(v, bool)
    if t is bool:
        return isinstance(v, bool)
    if t is str:
        return isinstance(v, str)
    return True


yaml_values = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.floats(allow_nan=True, allow_infinity=True),
                        st.text(max_size=8), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                                                  st.integers(), max_size=2))


@SETTINGS
@given(field=st.sampled_from(FIELDS), value=yaml_values)
def test_yaml_values_of_the_wrong_type(field, value):
    import yaml

    sec, key, typ = field
    d = _tmp()
    path = d / "c.yaml"
    path.write_text(yaml.safe_dump({sec: {key: value}}))
    if _accepts(typ, value):
        load_config(path)
        return
    with pytest.raises(BgsubError) as e:
        load_config(path)
    assert f"{sec}.{key}" in str(e.value) and "\n" not in str(e.value)
    r = run_cli("rpca", d / "nothing", "-o", d / "out", "--config", path)
    assert_one_line(r, 1, f"{sec}.{key}")
    assert not (d / "out").exists()


@SETTINGS
@given(text=st.text(max_size=60))
def test_yaml_files_of_any_text(text):
    d = _tmp()
    (d / "c.yaml").write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        load_config(d / "c.yaml")
    except BgsubError as e:
        assert "\n" not in str(e)


FLOATS = [(s, k) for s, k, t in FIELDS if float in (t, *typing.get_args(t))]


@pytest.mark.parametrize("value", ["nan", ".nan", "NaN", "inf", ".inf", "-.inf", "-inf", "1e999", "-1e999"])
def test_nan_and_inf_overrides_are_refused(value):
    for sec, key in FLOATS:
        with pytest.raises(BgsubError, match=rf"{sec}\.{key}: expected a (finite )?number"):
            load_config(None, [f"{sec}.{key}={value}"])


@pytest.mark.parametrize("args", [["rpca", "--lam", "nan"], ["rpca", "--tol", "inf"], ["rpca", "--scale", "inf"],
                                  ["train", "--lr", "nan"], ["polish", "--alpha", "-inf"]])
def test_nan_and_inf_options_are_refused(tmp_path, base, args, cli):
    cmd, opt, v = args
    out = tmp_path / "out"
    if cmd == "polish":
        r = cli("polish", tmp_path / "m.pt", base, "-o", out / "p.pt", opt, v)
    elif cmd == "train":
        r = cli("train", base, "-o", out / "m.pt", opt, v)
    else:
        r = cli(cmd, base, "-o", out, opt, v)
    assert_one_line(r, 1, "expected a finite number")
    assert not out.exists() or not any(out.rglob("*"))


def test_usage_errors_exit_2_without_traceback(tmp_path, base, cli):
    for args in (["train", base, "-o", tmp_path / "m.pt", "--epochs", "abc"], ["rpca"], ["evaluate"],
                 ["rpca", base, "-o", tmp_path / "o", "--no-such-option"]):
        r = cli(*args)
        assert_one_line(r, 2)
