"""A source read once, front to back: a video file, a folder of frames, a camera or a network stream.

:mod:`bgsub.io.frames` may open a source several times (:func:`~bgsub.io.frames.probe`,
:func:`~bgsub.io.frames.list_frames`, then the frames), which a camera or a stream does not allow. A
:class:`FrameStream` opens its source once and reads it once, in order; what other readers learn first (the frame
size, the frame count) it learns from the frames as they arrive:

- ``size``: the first frame's (H, W), read on first use and handed out again as the first frame;
- ``total``: the number of selected frames when known without reading them (a folder: exact; a video file: from
  the container, may be approximate; a camera or a stream: None);
- frame numbers: a folder's from its file names, as in :mod:`bgsub.io.frames`; 1, 2, 3, ... in the order the
  frames arrive otherwise (a video file's position, 1-based).

Sources (:func:`parse_source`): anything with ``://`` is a stream URL (``rtsp://...``, ``http://...``), a bare
integer that is not an existing path is a camera index (``0``), ``-`` the standard input, anything else a path (a
video file, a folder of frames or a CDnet/UCSD sequence folder). A path that is neither a folder nor a regular file
(a pipe, ``/dev/stdin`` fed by one, a named FIFO: ``ffmpeg -i cam.mp4 -f avi - | bgsub segment - -o out``) is read
as a stream: once, with no frame count (:func:`piped`).

Reduced decoding (:meth:`FrameStream.decode_reduced`): a reader that needs the frames only at a fraction of their size
asks, after the first frame, for a folder's JPEG files to be decoded reduced by 2, 4 or 8 (libjpeg's scaled IDCT,
as :func:`bgsub.io.frames.read_clip` does): the files after the first are then handed out at ``ceil(H / k) x
ceil(W / k)``; ``size`` stays the stored (native) size. Other files, and videos, cameras and streams, are decoded in
full as before (a reader resizes them).

The stream ends at the end of the source, after ``limit`` frames, when ``stop`` (a :class:`threading.Event`) is
set (checked before each frame: Ctrl-C handlers set it), or when a :class:`KeyboardInterrupt` is raised while a
frame is read; ``interrupted`` then says so. Frames already read are handed out whole; nothing is read twice.

    s = FrameStream.open("0", limit=100)             # camera 0, at most 100 frames
    h, w = s.size
    for chunk in chunks_of(s.images(), chunk=16, grayscale=False):
        ...
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Iterator, Optional

import cv2
import numpy as np

from bgsub.errors import BgsubError
from bgsub.io.frames import _JPEG, _REDUCED, Chunk, _check_options, _convert, folder_files, frames_of, piped
from bgsub.io.prefetch import ordered_map
from bgsub.io.stabilize import Stabilizer

Image = tuple[int, np.ndarray, str]  # (frame number, the image as OpenCV decoded it, where it came from)

_INDEX = re.compile(r"\d+")


STDIN = "-"  # the standard input as a source (read as a stream: once)


def parse_source(source: str | os.PathLike | int) -> Path | int | str:
    """What ``source`` names: a stream URL (``str``, it has ``://``), a camera index (``int``: a bare integer that
    is not an existing path) or a path (``Path``; ``-`` is the standard input, ``/dev/stdin``)."""
    if isinstance(source, int):
        return source
    text = os.fspath(source)
    if "://" in text:
        return text
    if _INDEX.fullmatch(text.strip()) and not os.path.exists(text):
        return int(text)
    if text == STDIN:
        return Path("/dev/stdin")
    return Path(text)


def is_live(source: str | os.PathLike | int) -> bool:
    """True for a camera index, a stream URL or a pipe (see :func:`parse_source`, :func:`piped`): a source that can
    be read only once."""
    src = parse_source(source)
    return not isinstance(src, Path) or piped(src)


def _imread(path: Path) -> Optional[np.ndarray]:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def _quiet_capture(src: int | str):
    """``cv2.VideoCapture(src)`` without OpenCV's own warnings on stderr when it cannot open it (the caller says so
    in one line)."""
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None:
        return cv2.VideoCapture(src)
    level = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_SILENT)
    try:
        return cv2.VideoCapture(src)
    finally:
        log.setLogLevel(level)


class FrameStream:
    """One pass over a source (see the module docstring). Create with :meth:`open`; iterate :meth:`images` once;
    :meth:`close` (or ``with``) releases the capture."""

    def __init__(self, source: Path | int | str, kind: str, *, start: Optional[int], end: Optional[int], stride: int,
                 limit: Optional[int], stop: Optional[threading.Event], files: Optional[dict[int, Path]] = None,
                 cap=None, decoders: int = 1, stabilize: bool = False):
        self.source, self.kind = source, kind
        # camera jitter (bgsub.io.stabilize): each frame registered to the first as it is read; the shifts of the
        # frames moved, in native pixels, by frame number (taken by the mask writer)
        self.stabilizer = Stabilizer() if stabilize else None
        self.shifts: dict[int, tuple[int, int]] = {}
        self.record_shifts = False  # set by the reader that writes masks (and takes the shifts out as it does)
        self.lost: set[int] = set()  # with record_shifts: the frames read after a pan registration lost (their
        #                              view no model has seen: their masks are written empty, and taken out)
        self.moves: dict[int, tuple[int, int]] = {}  # with record_shifts and the stabilizer following the view:
        #   the frames at which the background model's grid moves, by (dy, dx) working pixels (taken by the stepping)
        self.decoders = max(1, int(decoders))  # a folder's files decoded side by side (in order all the same)
        self.start, self.end, self.stride, self.limit = start, end, stride, limit
        self.stop = stop if stop is not None else threading.Event()
        self.interrupted = False  # ended by stop or by a KeyboardInterrupt while reading
        self.read = 0  # frames read so far
        self._files, self._cap = files, cap
        self._first: Optional[Image] = None
        self._size: Optional[tuple[int, int]] = None  # the first frame's (H, W), once read
        self._gen: Optional[Iterator[Image]] = None
        self._started = False
        self._rest = False  # a folder: the files after the first are being decoded (the reduction is fixed)
        self.reduction, self._reduced_grey = 1, False  # a folder's JPEG files after the first decoded at 1/k
        self.total = self._total()

    @property
    def live(self) -> bool:
        """A camera or a stream: no second pass, no frame count."""
        return self.kind in ("camera", "stream")

    @property
    def name(self) -> str:
        return str(self.source)

    @classmethod
    def open(cls, source: str | os.PathLike | int, *, start: Optional[int] = None, end: Optional[int] = None,
             stride: int = 1, limit: Optional[int] = None,
             stop: Optional[threading.Event] = None, decoders: int = 1,
             stabilize: bool = False) -> "FrameStream":
        """Open ``source`` (see :func:`parse_source`) for one pass over the frames ``start``..``end`` (inclusive
        frame numbers), every ``stride``-th, at most ``limit`` of them. Raises :class:`BgsubError` (one line,
        naming the source) when it does not exist or cannot be opened. ``decoders`` > 1: a folder's image files
        are decoded by that many threads side by side, a few files ahead of the reader (handed out in order, the
        same images; a video, a camera or a stream decodes one frame after the other). ``stabilize``: each frame
        registered to the first as it is read (camera jitter, :mod:`bgsub.io.stabilize`); with :attr:`record_shifts`
        set, the shifts of the frames moved are kept in :attr:`shifts` (for the mask writer, which takes them out)."""
        _check_options(start, end, stride, 1.0)
        if limit is not None and limit < 1:
            raise BgsubError(f"--max-frames must be >= 1, got {limit}")
        src = parse_source(source)
        opts = dict(start=start, end=end, stride=stride, limit=limit, stop=stop, decoders=decoders,
                    stabilize=stabilize)
        if isinstance(src, Path):
            if not src.exists():
                raise BgsubError(f"{src}: no such file or folder")
            if src.is_dir():
                folder, files = folder_files(src)
                return cls(folder, "folder", files=files, **opts)
            if piped(src):  # read once, as a stream: no seeking, no frame count
                cap = _quiet_capture(str(src))
                if not cap.isOpened():
                    cap.release()
                    raise BgsubError(f"{source}: OpenCV cannot decode a video from this pipe (a container that "
                                     "streams is needed: avi, mkv or mpegts, not mp4)")
                return cls(src, "stream", cap=cap, **opts)
            cap = cv2.VideoCapture(str(src))
            if not cap.isOpened():
                cap.release()
                raise BgsubError(f"{src}: not a video OpenCV can decode (nor a folder of images)")
            return cls(src, "video", cap=cap, **opts)
        cap = _quiet_capture(src)
        if not cap.isOpened():
            cap.release()
            what = "camera" if isinstance(src, int) else "stream"
            raise BgsubError(f"{src}: OpenCV cannot open this {what}")
        return cls(src, "camera" if isinstance(src, int) else "stream", cap=cap, **opts)

    def _selected(self, numbers: Iterable[int]) -> list[int]:
        keys = [n for n in numbers if (self.start is None or n >= self.start) and (self.end is None or n <= self.end)]
        return keys[:: self.stride]

    def _total(self) -> Optional[int]:
        if self.kind == "folder":
            n: Optional[int] = len(self._selected(self._files))
        elif self.kind == "video":
            count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            n = len(self._selected(range(1, count + 1))) if count > 0 else None
        else:
            return None
        if n is not None and self.limit is not None:
            n = min(n, self.limit)
        return n

    # ---- reading ------------------------------------------------------------------------------------------------

    def decode_reduced(self, k: int, *, grayscale: bool = False) -> None:
        """Decode a folder's JPEG files after the first reduced by ``k`` (1, 2, 4 or 8; ``grayscale``: decoded
        to grey levels, else BGR): their images are then ``ceil(H / k) x ceil(W / k)`` of the native ``size``. Call
        it after ``size`` (the first frame is decoded in full: it gives the native size) and before the second
        frame is read. No effect on other files, nor on a video, a camera or a stream (decoded in full)."""
        if k not in (1, 2, 4, 8):
            raise BgsubError(f"JPEG decoding reduces by 1, 2, 4 or 8, not {k}")
        if self._rest or self.read > 1:
            raise BgsubError(f"{self.name}: the decoding reduction is set before the second frame is read")
        self.reduction, self._reduced_grey = int(k), bool(grayscale)

    def _decoder(self, native: tuple[int, int], first: str):
        """The decoding of a folder's file after the first: reduced by :attr:`reduction` for a JPEG file, its
        size checked (against the first file's, reduced the same way)."""
        k = self.reduction
        flag = _REDUCED[(self._reduced_grey, k)] if k > 1 else None
        reduced = (-(-native[0] // k), -(-native[1] // k))

        def decode(path: Path) -> np.ndarray:
            if flag is not None and path.suffix.lower() in _JPEG:
                img, want = cv2.imread(str(path), flag), reduced
            else:
                img, want = _imread(path), native
            if img is None:
                raise BgsubError(f"{path}: unreadable image")
            if img.shape[:2] != want:
                at = f" (decoded at 1/{k}: {img.shape[1]}x{img.shape[0]}, not {want[1]}x{want[0]})" \
                    if want != native else ""
                raise BgsubError(f"{path}: frame is {img.shape[1]}x{img.shape[0]}{at} but {first} is "
                                 f"{native[1]}x{native[0]}; all frames of a video must have one size")
            return img

        return decode

    def _read_folder(self) -> Iterator[Image]:
        numbers = self._selected(self._files)
        if self.limit is not None:
            numbers = numbers[: self.limit]  # nothing decoded ahead past the last frame wanted
        if not numbers:
            return
        paths = [self._files[n] for n in numbers]
        img = _imread(paths[0])  # in full, alone: it gives the native size (a reduction may be asked for next)
        if img is None:
            raise BgsubError(f"{paths[0]}: unreadable image")
        yield numbers[0], img, str(paths[0])
        self._rest = True  # the rest with the reduction set by now (decode_reduced, between the first and them)
        decode = self._decoder(img.shape[:2], str(paths[0]))
        decoded = ordered_map(decode, paths[1:], workers=min(self.decoders, len(paths) - 1))
        try:
            for n, p, img in zip(numbers[1:], paths[1:], decoded):
                yield n, img, str(p)
        finally:
            decoded.close()

    def _read_capture(self) -> Iterator[Image]:
        n = kept = 0
        where = f"{self.source} frame" if self.kind == "video" else f"{self.kind} {self.source} frame"
        while True:
            n += 1
            if self.end is not None and n > self.end:
                return
            in_range = self.start is None or n >= self.start
            take = in_range and kept % self.stride == 0
            if in_range:
                kept += 1
            if not take:
                if not self._cap.grab():  # skipped frames are not decoded
                    return
                continue
            ok, img = self._cap.read()
            if not ok or img is None:
                return
            yield n, img, f"{where} {n}"

    def _images(self) -> Iterator[Image]:
        raw = self._read_folder() if self.kind == "folder" else self._read_capture()
        size: Optional[tuple[int, int]] = None
        first = ""
        try:
            while self.limit is None or self.read < self.limit:
                if self.stop.is_set():
                    self.interrupted = True
                    return
                try:
                    item = next(raw)
                except StopIteration:
                    return
                except KeyboardInterrupt:  # Ctrl-C while waiting for a frame: the source ends here
                    self.interrupted = True
                    return
                n, img, where = item
                if size is None:
                    size, first = img.shape[:2], where
                    self._size = (int(size[0]), int(size[1]))
                elif self.kind != "folder" and img.shape[:2] != size:  # a folder's files: checked as decoded
                    raise BgsubError(f"{where}: frame is {img.shape[1]}x{img.shape[0]} but {first} is "
                                     f"{size[1]}x{size[0]}; all frames of a video must have one size")
                if self.stabilizer is not None:
                    img, (dy, dx) = self.stabilizer(img)
                    if self.stabilizer.lost and self.record_shifts:
                        self.lost.add(n)
                    if self.stabilizer.move is not None and self.record_shifts:
                        self.moves[n] = self.stabilizer.move
                    if dy or dx:
                        item = (n, img, where)
                        if self.record_shifts:  # in native pixels (a folder's files after the first may be decoded
                            ky, kx = self._size[0] / img.shape[0], self._size[1] / img.shape[1]  # reduced)
                            self.shifts[n] = (int(round(dy * ky)), int(round(dx * kx)))
                self.read += 1
                yield item
        finally:
            raw.close()
            self.close()

    def _next(self) -> Optional[Image]:
        if self._gen is None:
            self._gen = self._images()
        return next(self._gen, None)

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the frames as stored (the first frame's, read now if not yet; a folder's files decoded reduced
        keep their stored size here). Raises when the selection holds no frame."""
        if self._size is not None:
            return self._size
        if self._first is None:
            if self._started:
                raise BgsubError(f"{self.name}: the frame size is asked after the frames were read")
            self._first = self._next()
            if self._first is None:
                raise BgsubError(f"{self.name}: no frames selected" + (" (interrupted)" if self.interrupted else ""))
        h, w = self._first[1].shape[:2]
        return int(h), int(w)

    def images(self) -> Iterator[Image]:
        """The selected frames as OpenCV decoded them, ``(number, image, where)``, in order. One pass only: a
        second call is an error (the source is not opened or read again)."""
        if self._started:
            raise BgsubError(f"{self.name}: a stream is read once")
        self._started = True
        return self._iter()

    def _iter(self) -> Iterator[Image]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        while True:
            item = self._next()
            if item is None:
                return
            yield item

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> "FrameStream":
        return self

    def __exit__(self, *exc) -> None:
        if self._gen is not None:
            try:
                self._gen.close()
            except ValueError:  # still running in a reader thread that did not stop in time: it releases it
                return
        self.close()


def take(images: Iterator[Image], k: int) -> list[Image]:
    """The next ``k`` items of ``images`` (fewer when it ends first)."""
    out: list[Image] = []
    for item in images:
        out.append(item)
        if len(out) >= k:
            break
    return out


class _Converter:
    """Converts image items into float32 (C, H, W) slots: ``submit(item, out)`` returns a future, run in a pool of
    ``workers`` threads when > 1 (OpenCV's resize and the conversion release the GIL), at once otherwise. An item
    already converted (a 4-tuple ``(number, None, where, frame)``, see :func:`stack`) is copied. ``size`` (H, W):
    every image is resized to it (area when shrinking), whatever size it was decoded at (else by ``scale``)."""

    def __init__(self, grayscale: bool, scale: float, workers: int, size: Optional[tuple[int, int]] = None):
        self.grayscale, self.scale, self.size = grayscale, scale, size
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="bgsub-convert") if workers > 1 else None

    def _work(self, item, out: np.ndarray) -> None:
        if len(item) > 3:
            np.copyto(out, item[3])
        else:
            _convert(item[1], grayscale=self.grayscale, scale=self.scale, where=item[2], out=out, size=self.size)

    def submit(self, item, out: np.ndarray) -> Future:
        if self.pool is not None:
            return self.pool.submit(self._work, item, out)
        done: Future = Future()
        self._work(item, out)
        done.set_result(None)
        return done

    def __enter__(self) -> "_Converter":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _shape(item, *, grayscale: bool, scale: float,
           size: Optional[tuple[int, int]] = None) -> tuple[np.ndarray, tuple[int, ...]]:
    """The first item converted (synchronously) and its (C, H, W)."""
    if len(item) > 3:
        return item[3], item[3].shape
    first = _convert(item[1], grayscale=grayscale, scale=scale, where=item[2], size=size)
    return first, first.shape


def stack(images: Iterable[Image], *, grayscale: bool, scale: float, workers: int = 1, count: Optional[int] = None,
          keep: Optional[list] = None, size: Optional[tuple[int, int]] = None, arrays: bool = False):
    """Decoded images -> (T, C, H, W) float32 in [0, 1] (as :func:`bgsub.io.frames.read_clip` gives them), each
    converted straight into its slot as it arrives (``workers`` > 1: that many conversions side by side), so the
    decoded images need not all be held. ``count``: at most that many are taken from ``images`` (an iterator is
    left at the next one); default: all. ``keep`` (a list): receives ``(number, None, where, frame)`` for each
    image, ``frame`` its converted (C, H, W) view of the result, for :func:`chunks_of` to take without converting
    again. ``size`` (H, W): every frame resized to it, whatever size its image was decoded at (a stream decoded
    reduced, :meth:`FrameStream.decode_reduced`); else by ``scale``. ``arrays``: a NumPy array, not a tensor."""
    if count is None:
        images = list(images)
        count = len(images)
    buf: Optional[np.ndarray] = None
    names: list[tuple[int, str]] = []
    with _Converter(grayscale, scale, workers, size) as converter:
        jobs = []
        for item in itertools.islice(images, max(0, count)):
            if buf is None:
                first, shape = _shape(item, grayscale=grayscale, scale=scale, size=size)
                buf = np.empty((count, *shape), np.float32)
                buf[0] = first
            else:
                jobs.append(converter.submit(item, buf[len(names)]))
            names.append((item[0], item[2]))
        for j in jobs:
            j.result()
    if buf is None:
        raise BgsubError("no frames to stack")
    buf = buf[: len(names)]
    if keep is not None:
        keep.extend((n, None, where, buf[i]) for i, (n, where) in enumerate(names))
    return frames_of(buf, arrays)


def chunks_of(images: Iterable[Image], *, chunk: int, grayscale: bool, scale: float = 1.0,
              workers: int = 1, size: Optional[tuple[int, int]] = None, arrays: bool = False) -> Iterator[Chunk]:
    """:class:`Chunk` s of at most ``chunk`` consecutive frames of ``images`` (decoded images, in order), each
    frame converted straight into its slot of the chunk's tensor (as :func:`bgsub.io.frames.iter_chunks`).
    ``workers`` > 1: the conversions (the resize to the working size) run in that many threads side by side, a
    chunk handed out when all of its frames are done (the same tensors). Items already converted (``keep`` of
    :func:`stack`) are copied into their slot. ``size``, ``arrays``: as for :func:`stack`."""
    if chunk < 1:
        raise BgsubError(f"chunk must be >= 1, got {chunk}")
    nums: list[int] = []
    jobs: list[Future] = []
    buf: Optional[np.ndarray] = None
    shape: Optional[tuple[int, ...]] = None
    with _Converter(grayscale, scale, workers, size) as converter:
        for item in images:
            if shape is None:
                first, shape = _shape(item, grayscale=grayscale, scale=scale, size=size)
                buf = np.empty((chunk, *shape), np.float32)
                buf[0] = first
            else:
                if buf is None:
                    buf = np.empty((chunk, *shape), np.float32)
                jobs.append(converter.submit(item, buf[len(nums)]))
            nums.append(item[0])
            if len(nums) == chunk:
                for j in jobs:
                    j.result()
                yield Chunk(nums, frames_of(buf, arrays))
                nums, jobs, buf = [], [], None
        for j in jobs:
            j.result()
        if nums:
            assert buf is not None
            yield Chunk(nums, frames_of(buf[: len(nums)], arrays))
