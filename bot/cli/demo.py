"""`dsr demo`: a two-minute tour of the desk on the embedded default."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.tour import run_demo


def demo(
    directory: Annotated[Path, typer.Option(help="Where the demo keeps its files (wiped).")] = Path(
        "var/demo"
    ),
) -> None:
    """Feed realistic requests in several languages through the whole desk and narrate it."""
    logging.getLogger().setLevel(logging.ERROR)
    root = directory.resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    ok = asyncio.run(run_demo(root, typer.echo))
    if not ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `demo`."""
    app.command("demo")(demo)
