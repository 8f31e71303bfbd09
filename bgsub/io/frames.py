"""Turning a path into frames.

A *source* is either a video file (anything OpenCV decodes: mp4, avi, mpg, ...) or a folder of images
(bmp, png, jpg, jpeg, tif, tiff). Every frame keeps its *number* so outputs can be named after it:

- folder: the last integer in the file name (``frame_2.jpg`` -> 2, ``in000123.jpg`` -> 123,
  ``airport1656.bmp`` -> 1656); files are ordered by that number, so ``frame_2`` comes before ``frame_10``.
  Files without a number are an error (the user must know which frame is which).
- video: 1-based position in the stream (the first frame is number 1, as in CDnet's ``in000001.jpg``).

Frames are float32 arrays in [0, 1], shape (C, H, W): C = 1 with ``grayscale=True`` (the paper's preprocessing,
OpenCV's luminance conversion), C = 3 (RGB order) otherwise. ``scale`` resizes every frame (area interpolation
when shrinking, linear when enlarging) to ``round(H * scale) x round(W * scale)``.

Working size (``input.max_pixels``): frames larger than a pixel budget are read already reduced, by
``sqrt(max_pixels / (H W))`` (:func:`effective_scale`, :func:`working_size`); the methods then work at that size
and only the masks are written back at the native size. A JPEG file shrunk by half or more is decoded reduced by
libjpeg (``cv2.IMREAD_REDUCED_*_2/4/8``: the DCT is scaled, most of the decoding is skipped; a 4K frame decodes
about three times faster) and then area-resized to the exact working size. That path is not bit-exact with
decoding in full and area-resizing (the decoder's scaled IDCT is not an area average and it converts to grey from
YCbCr itself): tests hold it within 1/255 on average, 3/255 at the 99th percentile. Other formats, and any frame
not reduced by at least 2, take the full decode as before, so frames at their native size are byte-identical to
what they always were.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Optional

import cv2
import numpy as np

if TYPE_CHECKING:  # annotations only: importing this module does not import torch (bgsub.arrays)
    import torch

from bgsub.background.kernels import loaded_unit_planes
from bgsub.errors import BgsubError

IMAGE_EXTENSIONS = {".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}
_NUMBER = re.compile(r"(\d+)")


def frame_number(name: str | os.PathLike) -> Optional[int]:
    """The last integer in a file name's stem, or None. ``"gt_new_airport1656.bmp"`` -> 1656."""
    found = _NUMBER.findall(Path(name).stem)
    return int(found[-1]) if found else None


def numbered_files(
    folder: Path, extensions: Iterable[str] = IMAGE_EXTENSIONS, *, prefix: Optional[str] = None
) -> dict[int, Path]:
    """Map frame number -> image file in ``folder`` (hidden files skipped; only names starting with ``prefix``
    if given). Raises on duplicate numbers."""
    exts = {e.lower() for e in extensions}
    out: dict[int, Path] = {}
    for entry in os.scandir(folder):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        if prefix is not None and not entry.name.startswith(prefix):
            continue
        p = Path(entry.path)
        if p.suffix.lower() not in exts:
            continue
        n = frame_number(p.name)
        if n is None:
            continue
        if n in out:
            raise BgsubError(f"{folder}: two files have frame number {n}: {out[n].name} and {p.name}")
        out[n] = p
    return dict(sorted(out.items()))


@dataclass
class SourceInfo:
    """What :func:`probe` learns about a source without decoding it all."""

    path: Path
    kind: str  # "folder" | "video"
    count: int  # number of frames (for a video: as reported by the container, may be approximate)
    height: int
    width: int
    numbers: Optional[list[int]] = None  # folder: frame numbers in order
    files: Optional[dict[int, Path]] = None  # folder: frame number -> file


    def working_size(self, scale: float = 1.0, max_pixels: int = 0) -> tuple[int, int]:
        """(H, W) the frames are read at with ``scale`` and the pixel budget ``max_pixels`` (see
        :func:`working_size`)."""
        return working_size(self.height, self.width, scale, max_pixels)


def effective_scale(height: int, width: int, scale: float = 1.0, max_pixels: int = 0) -> float:
    """The scale frames of ``height x width`` are read at: ``scale``, or less when the frame would still hold more
    than ``max_pixels`` pixels: ``min(scale, sqrt(max_pixels / (H W)))``. ``max_pixels`` 0 = no budget."""
    if max_pixels < 0:
        raise BgsubError(f"input.max_pixels must be >= 0, got {max_pixels}")
    if max_pixels and height * width * scale * scale > max_pixels:
        return min(scale, (max_pixels / (height * width)) ** 0.5)
    return scale


def working_size(height: int, width: int, scale: float = 1.0, max_pixels: int = 0) -> tuple[int, int]:
    """(H, W) of frames of native size ``height x width`` read at ``scale`` within the budget ``max_pixels``:
    ``round(H s) x round(W s)`` (at least 1) with ``s`` = :func:`effective_scale`."""
    s = effective_scale(height, width, scale, max_pixels)
    if s == 1.0:
        return height, width
    return max(1, round(height * s)), max(1, round(width * s))


def resolve_input(ic, size: tuple[int, int]):
    """``ic`` (an :class:`bgsub.config.InputConfig`) with ``scale`` replaced by the effective scale for frames of
    native ``size`` (H, W): what the pipelines read with, so every reader (and every saved config) agrees on the
    working size. Idempotent: the budget is taken from the native size, never from the working one."""
    import dataclasses

    s = effective_scale(size[0], size[1], ic.scale, getattr(ic, "max_pixels", 0))
    return ic if s == ic.scale else dataclasses.replace(ic, scale=s)


@dataclass
class Chunk:
    """Consecutive frames of a source. ``frames``: (T, C, H, W) float32 in [0, 1], a tensor (a NumPy array where the
    reader was asked for arrays: :mod:`bgsub.arrays`); ``numbers``: T frame numbers."""

    numbers: list[int]
    frames: torch.Tensor | np.ndarray


def frames_of(buf: np.ndarray, arrays: bool = False):
    """A frame buffer as a chunk's frames: a tensor sharing its memory, or itself with ``arrays``."""
    if arrays:
        return buf
    import torch

    return torch.from_numpy(buf)


def _resolve_input_folder(path: Path) -> Path:
    """A CDnet/UCSD sequence folder given as input means its ``input/`` or ``in/`` subfolder."""
    if path.is_dir() and not numbered_files(path):
        for sub in ("input", "in"):
            if (path / sub).is_dir():
                return path / sub
    return path


def folder_files(path: Path) -> tuple[Path, dict[int, Path]]:
    """A frame folder (a sequence folder means its ``input/`` or ``in/``) and its numbered image files; raises
    :class:`BgsubError` naming the folder when it holds none."""
    folder = _resolve_input_folder(path)
    files = numbered_files(folder)
    if not files:
        raise BgsubError(f"{folder}: no numbered image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return folder, files


def piped(path: Path) -> bool:
    """True when ``path`` exists and is neither a folder nor a regular file: a pipe (the standard input of ``... |
    bgsub``), a named FIFO, a device. Its bytes can be read once and not sought, as a stream's (read as one by
    :mod:`bgsub.io.stream`). (``/dev/stdin`` redirected from a file, ``< clip.avi``, is that regular file.)"""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISDIR(mode) or stat.S_ISREG(mode))


def probe(path: str | os.PathLike) -> SourceInfo:
    """Inspect a source. Raises :class:`BgsubError` with the path in the message if it is missing or empty."""
    p = Path(path)
    if os.fspath(path) == "-" or piped(p):  # the standard input, a pipe
        raise BgsubError(f"{path}: a pipe can be read only once, and this command reads its input more than once: "
                         "save the video to a file first (bgsub segment reads a pipe)")
    if not p.exists():
        raise BgsubError(f"{p}: no such file or folder")
    if p.is_dir():
        p, files = folder_files(p)
        first = _read_image(next(iter(files.values())), grayscale=True, scale=1.0)
        return SourceInfo(p, "folder", len(files), first.shape[1], first.shape[2], list(files), files)
    cap = cv2.VideoCapture(str(p))
    try:
        if not cap.isOpened():
            raise BgsubError(f"{p}: not a video OpenCV can decode (nor a folder of images)")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        if h <= 0 or w <= 0:
            ok, frame = cap.read()
            if not ok:
                raise BgsubError(f"{p}: video has no decodable frames")
            h, w = frame.shape[:2]
        return SourceInfo(p, "video", count, h, w, None)
    finally:
        cap.release()


def _convert(img: np.ndarray, *, grayscale: bool, scale: float, where: str,
             out: Optional[np.ndarray] = None, size: Optional[tuple[int, int]] = None) -> np.ndarray:
    """uint8/uint16 image as read by OpenCV (H, W) or (H, W, 3|4) BGR -> float32 (C, H, W) in [0, 1].

    ``out`` (optional): a float32 (C, H, W) array to write into (a slot of a chunk's buffer), returned. The
    conversion is one pass (the channel order is reversed and the layout changed by the division's strided
    read), instead of a colour conversion, a cast, a division and a transposing copy: about half the time of
    reading a JPEG frame at 320x240. ``size`` (H, W): the target size when ``img`` was decoded reduced (else it is
    ``round(h * scale) x round(w * scale)`` of ``img``'s own size)."""
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if grayscale and img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    elif not grayscale and img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if size is not None:
        if tuple(img.shape[:2]) != tuple(size):
            interp = cv2.INTER_AREA if size[0] * size[1] < img.shape[0] * img.shape[1] else cv2.INTER_LINEAR
            img = cv2.resize(img, (size[1], size[0]), interpolation=interp)
    elif scale != 1.0:
        h, w = img.shape[:2]
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        img = cv2.resize(img, (nw, nh), interpolation=interp)
    if img.dtype == np.uint8:
        peak = np.float32(255.0)
    elif img.dtype == np.uint16:
        peak = np.float32(65535.0)
    else:
        raise BgsubError(f"{where}: unsupported pixel type {img.dtype}")
    chw = img[None] if img.ndim == 2 else img.transpose(2, 0, 1)[::-1]  # BGR -> RGB
    if out is None:
        out = np.empty(chw.shape, np.float32)
    if chw.shape[0] == 3 and img.dtype == np.uint8 and loaded_unit_planes(img, out) is not None:
        return out  # (the compiled pass, once the sample model's kernels are loaded: the same values)
    return np.divide(chw, peak, out=out, dtype=np.float32)


def _read_image(path: Path, *, grayscale: bool, scale: float) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise BgsubError(f"{path}: unreadable image")
    return _convert(img, grayscale=grayscale, scale=scale, where=str(path))


_REDUCED = {  # (grayscale, factor) -> imread flag; orientation ignored like IMREAD_UNCHANGED does
    (g, k): f | cv2.IMREAD_IGNORE_ORIENTATION
    for (g, k), f in {(False, 2): cv2.IMREAD_REDUCED_COLOR_2, (False, 4): cv2.IMREAD_REDUCED_COLOR_4,
                      (False, 8): cv2.IMREAD_REDUCED_COLOR_8, (True, 2): cv2.IMREAD_REDUCED_GRAYSCALE_2,
                      (True, 4): cv2.IMREAD_REDUCED_GRAYSCALE_4, (True, 8): cv2.IMREAD_REDUCED_GRAYSCALE_8}.items()
}
_JPEG = {".jpg", ".jpeg"}


def reduction_factor(native: tuple[int, int], target: tuple[int, int]) -> int:
    """The largest JPEG decoding reduction (1, 2, 4 or 8) that still leaves at least ``target`` pixels in each
    direction of a ``native`` frame (so the final area resize only shrinks)."""
    for k in (8, 4, 2):
        if -(-native[0] // k) >= target[0] and -(-native[1] // k) >= target[1]:
            return k
    return 1


def _check_options(start: Optional[int], end: Optional[int], stride: int, scale: float) -> None:
    if stride < 1:
        raise BgsubError(f"stride must be >= 1, got {stride}")
    if not scale > 0:
        raise BgsubError(f"scale must be > 0, got {scale}")
    if start is not None and end is not None and end < start:
        raise BgsubError(f"frame range is empty: start {start} > end {end}")


def list_frames(
    path: str | os.PathLike, *, start: Optional[int] = None, end: Optional[int] = None, stride: int = 1
) -> list[int]:
    """Frame numbers that :func:`iter_frames` would yield (for a video, from the container's frame count)."""
    _check_options(start, end, stride, 1.0)
    info = probe(path)
    numbers = info.numbers if info.numbers is not None else list(range(1, info.count + 1))
    numbers = [n for n in numbers if (start is None or n >= start) and (end is None or n <= end)]
    return numbers[::stride]


def iter_frames(
    path: str | os.PathLike,
    *,
    start: Optional[int] = None,
    end: Optional[int] = None,
    stride: int = 1,
    grayscale: bool = True,
    scale: float = 1.0,
    numbers: Optional[Iterable[int]] = None,
    stabilize: bool = False,
    shifts: Optional[dict] = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(number, frame)`` one at a time, frame: float32 (C, H, W) in [0, 1].

    ``start``/``end`` are inclusive frame numbers; ``stride`` keeps every k-th frame of that range;
    ``numbers`` (optional) keeps only those frame numbers. Only one decoded frame is held at a time: for a video,
    skipped frames are grabbed without being decoded. ``stabilize``: each frame registered to the first selected
    frame (camera jitter, :mod:`bgsub.io.stabilize`; read for that even when ``numbers`` leaves it out), as
    ``segment`` reads them; ``shifts`` (a dict): filled with the moved frames' shifts (number -> (dy, dx), in the
    decoded frame's pixels).
    """
    _check_options(start, end, stride, scale)
    plan = _plan(path, scale)
    stab, wanted = None, None
    if stabilize:
        from bgsub.io.stabilize import Stabilizer

        stab = Stabilizer()
        if numbers is not None:  # the registration's reference, the first selected frame, is read too
            wanted = set(numbers)
            numbers = wanted | set(list_frames(path, start=start, end=end, stride=stride)[:1])
    for n, img, where in _iter_images(path, start=start, end=end, stride=stride, scale=scale, numbers=numbers,
                                      grayscale=grayscale, plan=plan):
        if stab is not None:
            img, d = stab(img)
            if shifts is not None and d != (0, 0):
                shifts[n] = d
            if wanted is not None and n not in wanted:
                continue  # read as the registration's reference only
        yield n, _convert(img, grayscale=grayscale, scale=scale, where=where, size=plan[1])


def _plan(path: str | os.PathLike, scale: float) -> tuple[SourceInfo, Optional[tuple[int, int]]]:
    """The source's :class:`SourceInfo` and the (H, W) its frames are converted to (None: ``scale`` is 1)."""
    info = probe(path)
    if scale == 1.0 or info.kind != "folder":  # a video's frames are sized as decoded (the container may differ)
        return info, None
    return info, working_size(info.height, info.width, scale)


def _iter_images(path: str | os.PathLike, *, start: Optional[int], end: Optional[int], stride: int, scale: float,
                 numbers: Optional[Iterable[int]], grayscale: bool = True,
                 plan: Optional[tuple[SourceInfo, Optional[tuple[int, int]]]] = None,
                 ) -> Iterator[tuple[int, np.ndarray, str]]:
    """The selected frames as decoded by OpenCV, unconverted: ``(number, image, where)``. JPEG files that are to be
    shrunk by 2 or more are decoded reduced (see the module docstring): their image is then smaller than the
    native size, but never smaller than the target size."""
    _check_options(start, end, stride, scale)
    wanted = set(numbers) if numbers is not None else None
    info, target = plan if plan is not None else _plan(path, scale)
    if info.kind == "folder":
        files = info.files
        keys = [n for n in files if (start is None or n >= start) and (end is None or n <= end)][::stride]
        first = files[info.numbers[0]]
        k = reduction_factor((info.height, info.width), target) if target is not None else 1
        expect = (-(-info.height // k), -(-info.width // k))
        for n in keys:
            if wanted is not None and n not in wanted:
                continue
            if k > 1 and files[n].suffix.lower() in _JPEG:
                img = cv2.imread(str(files[n]), _REDUCED[(bool(grayscale), k)])
                shape = expect
            else:
                img = cv2.imread(str(files[n]), cv2.IMREAD_UNCHANGED)
                shape = (info.height, info.width)
            if img is None:
                raise BgsubError(f"{files[n]}: unreadable image")
            if img.shape[:2] != shape:
                raise BgsubError(f"{files[n]}: frame is {img.shape[1]}x{img.shape[0]} but {first.name} is "
                                 f"{info.width}x{info.height}; all frames of a video must have one size")
            yield n, img, str(files[n])
        return
    cap = cv2.VideoCapture(str(info.path))
    try:
        n = 0
        kept = 0
        while True:
            n += 1
            if end is not None and n > end:
                break
            in_range = start is None or n >= start
            take = in_range and (kept % stride == 0) and (wanted is None or n in wanted)
            if in_range:
                kept += 1
            if not take:
                if not cap.grab():
                    break
                continue
            ok, img = cap.read()
            if not ok:
                break
            yield n, img, f"{info.path} frame {n}"
    finally:
        cap.release()


def iter_chunks(path: str | os.PathLike, *, chunk: int = 64, start: Optional[int] = None, end: Optional[int] = None,
                stride: int = 1, grayscale: bool = True, scale: float = 1.0,
                numbers: Optional[Iterable[int]] = None) -> Iterator[Chunk]:
    """Yield :class:`Chunk` s of at most ``chunk`` consecutive frames (options as in :func:`iter_frames`). Each
    frame is converted straight into its slot of the chunk's tensor (no per-frame array, no stacking copy)."""
    if chunk < 1:
        raise BgsubError(f"chunk must be >= 1, got {chunk}")
    nums: list[int] = []
    buf: Optional[np.ndarray] = None
    _check_options(start, end, stride, scale)
    plan = _plan(path, scale)
    size = plan[1]
    for n, img, where in _iter_images(path, start=start, end=end, stride=stride, scale=scale, numbers=numbers,
                                      grayscale=grayscale, plan=plan):
        if buf is None:
            first = _convert(img, grayscale=grayscale, scale=scale, where=where, size=size)
            buf = np.empty((chunk, *first.shape), np.float32)
            buf[0] = first
        else:
            _convert(img, grayscale=grayscale, scale=scale, where=where, out=buf[len(nums)], size=size)
        nums.append(n)
        if len(nums) == chunk:
            yield Chunk(nums, frames_of(buf))
            nums, buf = [], None
    if nums:
        yield Chunk(nums, frames_of(buf[: len(nums)]))


def read_clip(path: str | os.PathLike, **options) -> Chunk:
    """All selected frames at once (options as in :func:`iter_frames`). Raises if nothing is selected.

    The frames are converted straight into one preallocated (T, C, H, W) buffer (sized from the selection; a video
    whose container under-reports its length grows it), so the clip's memory is held once, not twice (a list of
    frames and their stack)."""
    numbers = options.get("numbers")
    try:
        count = len(list_frames(path, start=options.get("start"), end=options.get("end"),
                                stride=options.get("stride", 1)))
    except BgsubError:
        count = 0
    if numbers is not None:
        count = min(count, len(set(numbers))) if count else len(set(numbers))
    nums: list[int] = []
    buf: Optional[np.ndarray] = None
    for n, frame in iter_frames(path, **options):
        if buf is None:
            buf = np.empty((max(count, 1), *frame.shape), np.float32)
        elif frame.shape != buf.shape[1:]:
            raise BgsubError(f"{path}: frame {n} is {frame.shape[2]}x{frame.shape[1]}, "
                             f"frame {nums[0]} is {buf.shape[3]}x{buf.shape[2]}")
        if len(nums) == buf.shape[0]:
            buf = np.concatenate([buf, np.empty_like(buf[: max(1, len(nums) // 2)])])
        buf[len(nums)] = frame
        nums.append(n)
    if buf is None:
        raise BgsubError(f"{path}: no frames selected")
    return Chunk(nums, frames_of(buf[: len(nums)]))
