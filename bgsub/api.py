"""The Python API that the CLI wraps: one function per command.

Example::

    from bgsub import api
    api.synth("demo", frames=60)
    result = api.evaluate("masks/", "demo")   # CDnet scoring, detected from the layout
    result["scores"]["f_measure"]
"""

from bgsub.pipelines.evaluate import evaluate
from bgsub.synth import synth
from bgsub.pipelines.rpca import rpca  # (bgsub rpca)
from bgsub.pipelines.unet import polish, segment, train  # noqa: F401  (bgsub train / polish / segment)
from bgsub.pipelines.benchmark import benchmark  # noqa: F401  (bgsub benchmark)

__all__ = ["evaluate", "rpca", "synth"]
