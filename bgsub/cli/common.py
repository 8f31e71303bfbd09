"""Shared pieces of the CLI: the app, option types, output helpers, logging."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from typing_extensions import Annotated

from bgsub import __version__
from bgsub.config import Config, load_config

app = typer.Typer(
    name="bgsub",
    help="Background subtraction: low-rank + sparse U-Net, robust PCA, and CDnet-grade evaluation.\n\n"
    "Results go to stdout (add --json for machine-readable output); progress and logs go to stderr.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

out_console = Console(soft_wrap=True)  # file=None: follows sys.stdout at print time
err_console = Console(stderr=True)
log = logging.getLogger("bgsub")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bgsub {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More log output on stderr.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr (no progress, no log lines).")] = False,
) -> None:
    from bgsub.progress import set_quiet

    set_quiet(quiet)  # --quiet silences progress bars and progress lines too
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    logging.basicConfig(level=level, format="bgsub: %(message)s", stream=sys.stderr, force=True)


# Option types shared by commands (Annotated aliases keep each command's signature short).
ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="YAML preset (a path, or a name in configs/ such as 'paper')."),
]
SetOpt = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="Override one config key: section.key=value (repeatable), e.g. train.lr=1e-3."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
ThreadsOpt = Annotated[Optional[int], typer.Option(
    "--threads", help="Torch and OpenCV CPU threads (default: as is, usually one per core). On a shared machine, "
    "fewer threads than cores avoid oversubscription.")]


def set_threads(threads: Optional[int]) -> None:
    """Apply ``--threads`` to torch and OpenCV (None: leave them as they are): :func:`bgsub.runtime.set_threads`
    (torch's count set when torch is imported, not by importing it here)."""
    if threads is None:
        return
    if threads < 1:
        from bgsub.errors import BgsubError

        raise BgsubError(f"--threads must be >= 1, got {threads}")
    from bgsub.runtime import set_threads as apply

    apply(threads)


def resolve_config(config: Optional[Path], sets: Optional[list[str]], **cli_values: Any) -> Config:
    """Defaults <- preset <- --set <- explicit command-line options (``section__key=value``, None = not given)."""
    overrides = list(sets or [])
    cfg = load_config(config, overrides)
    from bgsub.config import apply_dict

    data: dict[str, dict[str, Any]] = {}
    for k, v in cli_values.items():
        if v is None:
            continue
        sec, key = k.split("__", 1)
        data.setdefault(sec, {})[key] = v
    return apply_dict(cfg, data, source="command line") if data else cfg


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(o: Any) -> Any:
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def emit(result: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print ``result`` as JSON or with ``render`` (a rich table, a path per line ...)."""
    if as_json:
        print_json(result)
    else:
        render(result)
