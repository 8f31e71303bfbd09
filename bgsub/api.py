"""The Python API that the CLI wraps: one function per command.

Example::

    from bgsub import api
    api.synth("demo", frames=60)
    api.synth("stop-demo", scenario="stop")  # a named scenario (bgsub.scenarios.SCENARIOS)
    result = api.evaluate("masks/", "demo")   # CDnet scoring, detected from the layout
    result["scores"]["f_measure"]
"""

from bgsub.pipelines.batch import batch
from bgsub.pipelines.benchmark import benchmark
from bgsub.pipelines.evaluate import evaluate
from bgsub.pipelines.rpca import rpca
from bgsub.pipelines.unet import polish, segment, train
from bgsub.synth import synth

__all__ = ["batch", "benchmark", "evaluate", "polish", "rpca", "segment", "synth", "train"]
