"""``bgsub train``, ``bgsub polish``, ``bgsub segment``: the U-Net (lands with the U-Net issue)."""

from __future__ import annotations

from bgsub.cli.common import app
from bgsub.errors import NotImplementedYet


@app.command(help="Train the U-Net with the low-rank + sparse loss. (not implemented yet)")
def train() -> None:
    raise NotImplementedYet("train is not implemented yet")


@app.command(help="Proximal refinement of a trained U-Net (Eq. 7). (not implemented yet)")
def polish() -> None:
    raise NotImplementedYet("polish is not implemented yet")


@app.command(help="Run a trained model over a video and write masks. (not implemented yet)")
def segment() -> None:
    raise NotImplementedYet("segment is not implemented yet")
