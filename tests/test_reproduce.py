"""The I2R airport loader and scripts/reproduce_paper.py, end to end on a small synthetic folder with the real
file names (airportNNNN.bmp, gt_new_airportNNNN.bmp for the 20 labelled frames)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from bgsub.errors import BgsubError
from bgsub.io import i2r
from bgsub.io.frames import frame_number
from bgsub.synth import iter_synth

from conftest import load_script  # tests/ is on sys.path (rootdir conftest, no __init__.py)

H, W = 48, 64
HALF = 3  # frames kept on each side of a labelled frame


def make_i2r(folder: Path, *, gt_subfolder: bool = False, seed: int = 3) -> list[int]:
    """A synthetic "airport" folder: the 20 labelled frames and HALF frames either side of each (140 frames),
    colour BMPs named like the real data set, ground truth as 0/255 BMPs for the labelled frames."""
    numbers = sorted({n + k for n in i2r.LABELLED for k in range(-HALF, HALF + 1)})
    folder.mkdir(parents=True)
    gt_dir = folder / "gt" if gt_subfolder else folder
    gt_dir.mkdir(exist_ok=True)
    for n, (_, img, mask) in zip(numbers, iter_synth(height=H, width=W, frames=len(numbers), seed=seed)):
        bgr = cv2.cvtColor((img * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(folder / f"airport{n}.bmp"), bgr)
        if n in i2r.LABELLED:
            cv2.imwrite(str(gt_dir / f"gt_new_airport{n}.bmp"), mask.astype(np.uint8) * 255)
    return numbers


@pytest.fixture(scope="module")
def airport(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("i2r") / "Hall"
    make_i2r(folder)
    return folder


def test_names_pair_by_number():
    assert frame_number("airport2926.bmp") == frame_number("gt_new_airport2926.bmp") == 2926
    assert len(i2r.LABELLED) == 20 and i2r.TEST_FRAME in i2r.LABELLED


def test_loader_indexes_frames_and_ground_truth(airport, tmp_path):
    seq = i2r.find_i2r(airport)
    assert len(seq.frames) == 140 and list(seq.truth) == list(i2r.LABELLED)
    assert seq.notes and "full data set has 3584" in seq.notes[0]
    clip = i2r.read_frames(seq, [2926, 2927])
    assert clip.frames.shape == (2, 1, H, W) and clip.numbers == [2926, 2927]
    assert 0 <= float(clip.frames.min()) and float(clip.frames.max()) <= 1
    gt = i2r.read_truth(seq, 2926)
    assert gt.shape == (H, W) and gt.dtype == bool and gt.any()
    # ground truth in a sub-folder is found too
    other = tmp_path / "Hall2"
    make_i2r(other, gt_subfolder=True)
    assert list(i2r.find_i2r(other).truth) == list(i2r.LABELLED)
    with pytest.raises(BgsubError, match="frame 1000 missing"):
        i2r.find_i2r(airport, strict=True)


def test_loader_errors_name_the_missing_file(tmp_path, airport):
    with pytest.raises(BgsubError, match="no airportNNNN.bmp frames"):
        i2r.find_i2r(tmp_path)
    with pytest.raises(BgsubError, match=r"ground truth for frame 4433 missing \(gt_new_airport4433.bmp\)"):
        i2r.find_i2r(airport, labelled=list(i2r.LABELLED) + [4433])  # a frame without ground truth
    with pytest.raises(BgsubError, match=r"labelled frame 999 missing \(airport999.bmp\)"):
        i2r.find_i2r(airport, labelled=[999])


def test_windows_and_training_draw(airport):
    seq = i2r.find_i2r(airport)
    w = i2r.window_around(seq, 2926, 6)
    assert len(w) == 6 and 2926 in w and w == sorted(w)
    assert i2r.window_around(seq, seq.numbers[0], 6) == seq.numbers[:6]  # shifted at the ends
    a = i2r.training_numbers(seq, 10, seed=0)
    assert a == i2r.training_numbers(seq, 10, seed=0) and len(set(a)) == 10
    assert not set(a) & set(i2r.LABELLED)
    with pytest.raises(BgsubError, match="only 120 unlabelled"):
        i2r.training_numbers(seq, 500, seed=0)


def _script():
    return load_script("reproduce_paper")


def test_protocol_config_is_the_papers():
    cfg = _script().build_config(None, False, [])
    assert (cfg.train.lam_star, cfg.train.lam_1, cfg.train.lr, cfg.train.epochs, cfg.train.frames) == (
        1.0, 5e-3, 3e-4, 2000, 50)
    assert (cfg.polish.steps, cfg.polish.lr, cfg.polish.alpha) == (3000, 3e-8, 0.5)
    assert cfg.input.grayscale and cfg.rpca.window == 50
    quick = _script().build_config(None, True, ["train.epochs=7"])
    assert quick.train.epochs == 7 and quick.polish.steps == 30


def test_reproduce_end_to_end_quick(airport, tmp_path, capsys):
    from bgsub.methods.base import available

    rpca = "rpca-pfb" if "rpca-pfb" in available() else None
    if rpca is None:
        pytest.skip("rpca-pfb is not registered yet")
    out = tmp_path / "out"
    code = _script().main([str(airport), "-o", str(out), "--quick", "--train-frames", "8", "--threads", "1",
                           "--set", "train.epochs=2", "--set", "polish.steps=1", "--set", "rpca.window=6",
                           "--set", "rpca.max_iter=50", "--set", "train.device=cpu", "--set", "segment.device=cpu",
                           "--no-progress", "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "results.json").read_text())
    for key in ("unet", "rpca"):
        r = saved[key]
        assert r["test"]["frame"] == 2926 and len(r["per_frame"]) == 20
        for part in ("test", "all"):
            assert 0 <= r[part]["precision"] <= 1 and 0 <= r[part]["recall"] <= 1
        assert r["paper"] == {"unet": {"precision": 0.958, "recall": 0.632},
                              "rpca": {"precision": 0.965, "recall": 0.496}}[key]
        assert printed[key]["all"] == r["all"]
        assert len(list((out / key).glob("bin*.png"))) == 20
    assert 2926 not in saved["unet"]["train_frames"] and len(saved["unet"]["train_frames"]) == 8
    assert (out / "model.pt").is_file() and (out / "contact_2926.png").is_file()
    assert saved["environment"]["config"]["train"]["lam_1"] == 5e-3
    # RPCA finds the moving objects of the synthetic scene: its recall is far from zero
    assert saved["rpca"]["all"]["recall"] > 0.2


def test_script_reports_a_missing_folder(tmp_path, capsys):
    code = _script().main([str(tmp_path / "nope"), "-o", str(tmp_path / "o")])
    assert code == 1 and "no such folder" in capsys.readouterr().err
