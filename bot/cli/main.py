"""The `dsr` command line (typer). Each area registers its own commands; this module wires them,
loads settings once and turns our errors into one clear line and a non-zero exit.
"""

from __future__ import annotations

import importlib
import logging
import secrets
from typing import Any

import typer
from typer.core import TyperGroup

from bot.cli import audit as cli_audit
from bot.cli import logs
from bot.cli import run as cli_run
from bot.errors import DsrError, NotAvailable
from bot.settings import load_settings
from storage import audit
from storage.errors import StorageError


class _DsrGroup(TyperGroup):
    """Turns our own errors into one line on stderr and exit code 2, wherever they come from."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context
        try:
            return super().invoke(ctx)
        except (DsrError, StorageError) as exc:
            typer.echo(f"error: {exc}", err=True)
            ctx.exit(2)


app = typer.Typer(
    cls=_DsrGroup,
    name="dsr",
    help="dsr-bot: the privacy desk agent. See README.md for the quick start.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Areas whose commands are built in their own modules; a module that is not there yet gets
# placeholder commands that say so plainly.
_OPTIONAL = {
    "bot.cli.intents": ("classify", "train", "eval"),
    "bot.cli.store": ("store",),
    "bot.cli.cases": ("cases",),
    "bot.cli.demo": ("demo",),
    "bot.cli.report": ("report",),
    "bot.cli.inbox": ("inbox",),
}


@app.callback()
def _load(ctx: typer.Context) -> None:
    """Load settings once; every command gets them through the context."""
    ctx.obj = load_settings()
    # The audit key lives in this context for the command's run, then is forgotten (tests run
    # many commands in one thread).
    token = audit.use_key(ctx.obj.audit_key_bytes())
    ctx.call_on_close(lambda: audit.reset_key(token))


def _placeholder(name: str, module: str) -> None:
    def _not_yet() -> None:
        raise NotAvailable(
            f"`dsr {name}` is not available in this version yet ({module} is not built)"
        )

    app.command(
        name,
        help=f"(not available yet: {module})",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(_not_yet)


keys_app = typer.Typer(help="Secret keys.", no_args_is_help=True)


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random DSR_SECRET_KEY (put it in the environment or .env)."""
    typer.echo(secrets.token_urlsafe(48))


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Rotate DSR_SECRET_KEY (not available yet)."""
    raise NotAvailable(
        "`dsr keys rotate` is not available yet: rotating the key changes every pseudonym, and "
        "the re-keying of the audit index is not built"
    )


def _register_all() -> None:
    cli_audit.register(app)
    cli_run.register(app)
    app.add_typer(keys_app, name="keys")
    for module, names in _OPTIONAL.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            for name in names:
                _placeholder(name, module)
            continue
        mod.register(app)


_register_all()


def main() -> None:
    """Console entry point."""
    logs.configure(logging.WARNING)
    app()
