"""``bgsub rpca``: robust PCA over a video (lands with the RPCA issue)."""

from __future__ import annotations

from bgsub.cli.common import app
from bgsub.errors import NotImplementedYet


@app.command(help="Robust PCA (low-rank + sparse) over a video in windows, writing masks. (not implemented yet)")
def rpca() -> None:
    raise NotImplementedYet("rpca is not implemented yet")
