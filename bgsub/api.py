"""The Python API that the CLI wraps: one function per command.

Example::

    from bgsub import api
    api.synth("demo", frames=60)
    api.synth("stop-demo", scenario="stop")  # a named scenario (bgsub.scenarios.SCENARIOS)
    result = api.evaluate("masks/", "demo")   # CDnet scoring, detected from the layout
    result["scores"]["f_measure"]
"""

import importlib
from typing import TYPE_CHECKING

# Each function is imported from its module on first use (PEP 562): ``from bgsub.api import synth`` (or segment,
# evaluate, batch) must not import torch through the pipelines that train (bgsub.arrays); the names are the same.
_HOMES = {"batch": "bgsub.pipelines.batch", "benchmark": "bgsub.pipelines.benchmark",
          "evaluate": "bgsub.pipelines.evaluate", "rpca": "bgsub.pipelines.rpca", "polish": "bgsub.pipelines.unet",
          "segment": "bgsub.pipelines.segment", "train": "bgsub.pipelines.unet", "synth": "bgsub.synth"}

__all__ = ["batch", "benchmark", "evaluate", "polish", "rpca", "segment", "synth", "train"]

if TYPE_CHECKING:
    from bgsub.pipelines.batch import batch  # noqa: F401
    from bgsub.pipelines.benchmark import benchmark  # noqa: F401
    from bgsub.pipelines.evaluate import evaluate  # noqa: F401
    from bgsub.pipelines.rpca import rpca  # noqa: F401
    from bgsub.pipelines.segment import segment  # noqa: F401
    from bgsub.pipelines.unet import polish, train  # noqa: F401
    from bgsub.synth import synth  # noqa: F401


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value  # once
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
