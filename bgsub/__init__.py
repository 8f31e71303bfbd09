"""bgsub: background subtraction by low-rank + sparse decomposition.

The data flow runs one way::

    frames on disk -> bgsub.io -> clip (T, C, H, W) float32 in [0, 1]
    clip -> bgsub.methods -> Decomposition(background L, foreground S)
    S -> bgsub.threshold -> masks (T, 1, H, W) bool
    masks + ground truth -> bgsub.metrics -> counts -> precision, recall, F ...
"""

__version__ = "0.1.0"
