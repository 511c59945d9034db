"""`dsr keys generate|webhook|rotate`: a new secret, the key a webhook recipient checks, and
re-sealing the case store under the newest data key (`storage.rotation`) while the desk keeps
working."""

from __future__ import annotations

import asyncio
import gc
import getpass
import secrets
from typing import TYPE_CHECKING, Annotated

import typer

from bot.errors import SettingsError
from bot.settings import Settings

if TYPE_CHECKING:
    from storage.rotation import RotationReport

keys_app = typer.Typer(
    help="Secret keys: generate one; re-seal the case store under the newest data key.",
    no_args_is_help=True,
)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random key (for DSR_SECRET_KEY or DSR_DATA_KEY; put it in the environment
    or .env)."""
    typer.echo(secrets.token_urlsafe(48))


@keys_app.command("webhook")
def keys_webhook(ctx: typer.Context, name: str) -> None:
    """Print the key that signs webhooks for NAME (a recipient's `secret:` in the data map);
    give it to the recipient, who checks X-DSR-Signature with it."""
    from bot.work.webhook import webhook_key_text

    typer.echo(webhook_key_text(_settings(ctx), name))


@keys_app.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, help="Rows per transaction (each one short).")
    ] = 200,
    restart: Annotated[
        bool,
        typer.Option("--restart", help="Visit every row again, not only where the last pass was."),
    ] = False,
    actor: Annotated[str | None, typer.Option(help="Who rotates (audited).")] = None,
) -> None:
    """Re-seal every sealed value under the first key of DSR_DATA_KEY, in batches; resumable,
    safe while `dsr run` works. Afterwards the older keys may be removed from DSR_DATA_KEY."""
    gc.enable()  # `keys` starts brief (no cyclic GC); a pass over a large store is not brief
    settings = _settings(ctx)
    keyring = settings.keyring()
    if keyring is None:
        raise SettingsError(
            "DSR_DATA_KEY and DSR_SECRET_KEY are both unset, so there is no key to seal with; "
            "generate one with `dsr keys generate`"
        )
    who = f"cli:{actor or getpass.getuser()}"[:128]
    report = asyncio.run(_rotate(settings, who, batch, restart))
    for where, count in report.resealed.items():
        typer.echo(f"{where}: {count} re-sealed")
    typer.echo(
        f"done: {report.total} values re-sealed; every sealed value is under key "
        f"{report.target_kid}"
        + ("; the older keys may now be removed from DSR_DATA_KEY" if len(keyring.keys) > 1 else "")
    )


async def _rotate(settings: Settings, actor: str, batch: int, restart: bool) -> RotationReport:
    from bot.build import reach
    from storage import rotation
    from storage.db import create_engine
    from storage.migrate import check_current

    keyring = settings.keyring()
    assert keyring is not None
    engine = create_engine(settings.database_url)
    try:
        await reach(
            "DSR_DATABASE_URL", settings.database_url, check_current(settings.database_url, engine)
        )
        if restart:
            await rotation.restart(engine)
        return await rotation.rotate(engine, keyring, actor=actor, batch=batch)
    finally:
        await engine.dispose()


def register(app: typer.Typer) -> None:
    """Add `dsr keys` to the command line."""
    app.add_typer(keys_app, name="keys")
