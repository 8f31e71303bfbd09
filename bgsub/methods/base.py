"""The one method interface and its registry.

Every method answers two questions about a *clip* (T, C, H, W) float32 in [0, 1]:

- ``fit(clip)``: learn what there is to learn (the U-Net trains; RPCA and MOG2 do nothing) and return self;
- ``decompose(clip) -> Decomposition``: background L and foreground S, same shape as the clip, L + S = clip.

Whole clips, not single frames, cross this interface because RPCA needs the whole window; a per-frame method loops
inside. Methods that produce masks directly (OpenCV's MOG2) also set ``Decomposition.masks``, and thresholding is
skipped for them. Methods with state across calls (MOG2's background model) keep it between ``decompose`` calls
on consecutive windows; ``reset()`` forgets it.

State that belongs to the video being segmented rather than to the trained method (the U-Net's background
reference) is set up by ``begin(frames)``: the pipeline calls it once per video, before the first ``decompose``,
with the video's first ``begin_frames()`` frames, and then hands ``decompose`` consecutive windows in order, each
frame exactly once (see :mod:`bgsub.pipelines.run`).

Methods register under a short kebab-case name::

    @register("rpca-ialm")
    class IALM(Method): ...

    method = create("rpca-ialm", cfg)   # an unknown name lists the valid ones

Constructor contract: every method is created as ``cls(cfg)`` with the full :class:`bgsub.config.Config`
(``None`` = defaults) and reads the sections it needs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar, Optional

from bgsub.errors import BgsubError

if TYPE_CHECKING:  # annotations only: importing this module does not import torch (bgsub.arrays)
    import numpy as np
    import torch


@dataclass
class Decomposition:
    """background: (T, C, H, W) L; foreground: (T, C, H, W) S (signed; pixels with large |S| are foreground);
    masks: optional (T, 1, H, W) bool, set only by methods that decide foreground themselves."""

    background: torch.Tensor
    foreground: torch.Tensor
    masks: Optional[torch.Tensor] = None


class LazyDecomposition(Decomposition):
    """A :class:`Decomposition` whose background and foreground are computed on first access, by
    ``compute() -> (background, foreground)``: a method that decides the masks itself hands them over at once, and a
    pipeline that writes only the masks (``segment`` without ``--save-foreground``) never pays for L and S."""

    def __init__(self, masks: torch.Tensor, compute: Callable[[], tuple[torch.Tensor, torch.Tensor]]):
        self.masks = masks
        self._compute: Optional[Callable[[], tuple[torch.Tensor, torch.Tensor]]] = compute
        self._parts: Optional[tuple[torch.Tensor, torch.Tensor]] = None

    def _get(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._parts is None:
            assert self._compute is not None
            self._parts, self._compute = self._compute(), None
        return self._parts

    @property  # type: ignore[override]
    def background(self) -> torch.Tensor:
        return self._get()[0]

    @property  # type: ignore[override]
    def foreground(self) -> torch.Tensor:
        return self._get()[1]


class Prepared:
    """A window with its network inputs computed (:meth:`bgsub.methods.unet.UNetMethod.prepare`): clip (T, C, H,
    W), inputs (T, C, h, w) log(1 + z) at the network's size, background: the background state's snapshot taken
    right after the window was stepped (what the mask's edge is decided against)."""

    __slots__ = ("clip", "inputs", "background")

    def __init__(self, clip, inputs, background: object = None):
        self.clip, self.inputs, self.background = clip, inputs, background


class Pieces(tuple):
    """A :class:`Prepared` window's background snapshots where the model moved with the view within the window
    (:mod:`bgsub.background.follow`): ``((first, snapshot), ...)``, each snapshot taken right after the frames from
    its ``first`` (an index into the window) to the next piece's, so that each frame's mask edge is decided against
    the background on its own grid."""


class Method(ABC):
    """Base class of every method. Subclasses set ``name`` through :func:`register`."""

    name: ClassVar[str] = ""
    decides_masks: ClassVar[bool] = False  # True for methods that set Decomposition.masks themselves
    streams: ClassVar[bool] = False  # True for stateful methods that must see each frame exactly once, in order
    window_threads: ClassVar[bool] = False  # True when decompose may run on several windows at once from several
    #                                         threads (no state across windows, thread-safe): on the CPU the
    #                                         pipeline then runs one window per thread, each with one torch thread
    grayscale: ClassVar[bool] = False  # the input this method does best on when input.grayscale is not set
    prepares: ClassVar[bool] = False  # True when prepare() does the in-order work: windows may then be
    #                                   decomposed side by side even though the method streams
    arrays: bool = False  # True when the pipeline hands this method NumPy frames, not tensors (its begin, prepare
    #                       and decompose compute without torch: bgsub.arrays); its outputs are then NumPy too

    def __init__(self, cfg=None):
        from bgsub.config import Config

        self.cfg = cfg if cfg is not None else Config()

    def fit_frames(self) -> int:
        """How many frames, sampled at random from the video, :meth:`fit` wants (0: fit learns nothing)."""
        return 0

    def fit_numbers(self, numbers: list[int], *, seed: int) -> list[int]:
        """Which of the video's frame ``numbers`` (sorted) :meth:`fit` gets, in the order it gets them. Default:
        :meth:`fit_frames` of them drawn at random (seeded), sorted. Methods that need the initialisation period
        (the first frames) override this."""
        return draw_numbers(numbers, self.fit_frames(), seed=seed)

    def input_config(self, cfg, size: Optional[tuple[int, int]] = None):
        """``cfg`` with ``input.grayscale`` resolved for this method (see :func:`bgsub.config.with_grayscale`);
        ``size`` (H, W) is the source's native frame size: when given, ``input.scale`` becomes the effective scale
        within the pixel budget ``input.max_pixels`` (:func:`bgsub.io.frames.resolve_input`), so every reader
        works at the same working size (and the saved config says which)."""
        import dataclasses

        from bgsub.config import with_grayscale
        from bgsub.io.frames import resolve_input

        cfg = with_grayscale(cfg, self.grayscale)
        if size is None:
            return cfg
        ic = resolve_input(cfg.input, size)
        return cfg if ic is cfg.input else dataclasses.replace(cfg, input=ic)

    def frame_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The frame size (H, W) at which :meth:`begin` and :meth:`decompose` work on the frames of a video read at
        the working size ``size``: by default ``size`` itself. A method that only measures the frames at a
        smaller size (the U-Net's sample model: its texture size) returns that size; when only masks are written,
        the pipeline may then hand it every frame at that size (:func:`bgsub.pipelines.run.read_plan`: decoded
        reduced, area-resized), and still writes the masks at the native size."""
        return size

    def fit(self, clip: torch.Tensor) -> "Method":
        """Learn from ``clip`` (T, C, H, W). A no-op for methods that learn nothing."""
        return self

    @abstractmethod
    def decompose(self, clip: torch.Tensor) -> Decomposition:
        """Split ``clip`` (T, C, H, W) into background and foreground of the same shape."""

    def prepare(self, clip: torch.Tensor):
        """Work on a window that must run in order, one window after another (a background model updated over
        time), done by the pipeline before :meth:`decompose` in the thread that reads the frames; ``decompose``
        then gets what this returns. Default: the clip itself (nothing to do)."""
        return clip

    def reset(self) -> None:
        """Forget state carried between consecutive ``decompose`` calls (none by default)."""

    def begin_frames(self) -> int:
        """How many of the video's first frames :meth:`begin` needs before the first ``decompose`` (0: none, and
        :meth:`begin` is not called)."""
        return 0

    def warm_up(self, total: Optional[int] = None) -> None:
        """Start loading what the first ``decompose`` will need, in a background thread, while the pipeline reads
        the video's first frames (called once per video, before :meth:`begin`; ``total``: the frames the video
        will give, None when unknown, as a live source). Default: nothing."""

    window_cover = None  # (T, h, w) bool or None: which working pixels each of the frames handed to begin() shows,
    #                      where a followed camera moved within them (they are brought back to the first frame's
    #                      view and repeat their edge elsewhere: bgsub.pipelines.reading.on_first_grid); set by the
    #                      pipeline before begin(), None when every frame shows every pixel

    def cover_of(self, frames) -> Optional[np.ndarray]:
        """:attr:`window_cover` when it belongs to ``frames`` (one entry per frame), else None (frames handed to
        :meth:`begin` by another path than the pipeline's reading)."""
        cover = self.window_cover
        return cover if cover is not None and len(cover) == len(frames) else None

    def begin(self, frames: torch.Tensor) -> None:
        """Set up the state that belongs to the video being segmented, once per video, before any ``decompose``.
        frames: (T, C, H, W), the video's first ``begin_frames()`` selected frames (fewer when the video is
        shorter), read the way ``decompose`` gets them. Default: nothing."""

    def restarts(self) -> list[int]:
        """The frames (1-based: the n-th frame read) at which the video's background model started again on a new
        view (:mod:`bgsub.background.restart`), for the run's summary. Default: none."""
        return []

    def view_grid(self, size: tuple[int, int]) -> Optional[tuple[int, int]]:
        """For a background model that moves with the view (:mod:`bgsub.background.follow`; its ``prepare`` then
        takes ``moves``): the working size (h, w) it will work at on frames of ``size`` (H, W) as handed to it.
        None (the default): the frames are registered to the first frame's view."""
        return None


def draw_numbers(numbers: list[int], k: int, *, seed: int) -> list[int]:
    """``k`` of the frame ``numbers`` drawn at random without replacement (seeded), sorted; all of them when
    ``k >= len(numbers)``, none for ``k <= 0``."""
    if k <= 0:
        return []
    if k >= len(numbers):
        return list(numbers)
    import torch

    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(numbers), generator=g)[:k]
    return sorted(numbers[i] for i in idx.tolist())


def init_window_numbers(numbers: list[int], *, init: int, pool: int, seed: int) -> list[int]:
    """The initialisation window (the first ``init`` of the sorted frame ``numbers``) followed by ``pool`` frames
    drawn (seeded) from the rest, sorted: what the methods that need a background reference fit on."""
    init = max(1, init)
    return list(numbers[:init]) + draw_numbers(list(numbers[init:]), pool, seed=seed)


_REGISTRY: dict[str, Callable[..., Method]] = {}


def register(name: str):
    """Class decorator: make the method creatable as ``create(name, ...)``."""

    def deco(cls):
        if name in _REGISTRY:
            raise ValueError(f"method {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


BUILTIN = ("bgsub.methods.rpca", "bgsub.methods.unet", "bgsub.methods.pretrained", "bgsub.methods.classical")
HOMES = {"unet": "bgsub.methods.unet", "unet-pretrained": "bgsub.methods.pretrained"}  # names whose module is
#        known: creating one imports that module alone (the zero-shot network's imports no torch: bgsub.arrays)


def _load_builtin(name: Optional[str] = None) -> None:
    # Importing the method modules registers them. Kept lazy so `import bgsub` stays cheap; ``name`` in HOMES: only
    # its module.
    import importlib

    for mod in (HOMES[name],) if name in HOMES else BUILTIN:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def available() -> list[str]:
    """Registered method names, sorted."""
    _load_builtin()
    return sorted(_REGISTRY)


def is_registered(name: str) -> bool:
    """Whether ``name`` is a registered method (importing only its module when :data:`HOMES` knows it)."""
    _load_builtin(name)
    if name not in _REGISTRY:
        _load_builtin()
    return name in _REGISTRY


def create(name: str, *args, **kwargs) -> Method:
    """Instantiate a registered method by name; an unknown name is an error listing the valid ones."""
    if not is_registered(name):
        raise BgsubError(f"unknown method {name!r} (valid: {', '.join(sorted(_REGISTRY)) or 'none'})")
    return _REGISTRY[name](*args, **kwargs)
