"""The `dsr` command line (typer). Each area registers its own commands in its own module, which
is imported only when that command runs, so `dsr --help` and `dsr store …` never pay for spaCy
or the Slack app; this module wires them, loads settings once and maps our errors to exit codes.

Exit codes (`bot.cli.exits`): 0 done, 1 failed, 2 usage or nothing to do.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import sys
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from bot.cli import logs
from bot.cli.exits import EXIT_OK, as_our_error, exit_code_for
from bot.errors import NotAvailable

# We use no pydantic plugins; looking for them scans every installed package's entry points,
# a tenth of a second of every command's start.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

#: Areas whose commands live in their own modules: module -> command names. A module that is
#: not there yet gets placeholder commands that say so plainly.
_OPTIONAL: dict[str, tuple[str, ...]] = {
    "bot.cli.run": ("run",),
    "bot.cli.audit": ("audit", "db"),
    "bot.cli.intents": ("classify", "train", "eval"),
    "bot.cli.store": ("store",),
    "bot.cli.cases": ("cases",),
    "bot.cli.demo": ("demo",),
    "bot.cli.report": ("report",),
    "bot.cli.inbox": ("inbox",),
    "bot.cli.outbox": ("outbox",),
    "bot.cli.keys": ("keys",),
}
#: One line per command for `dsr --help`, so that listing them imports none of them (a command
#: missing here is imported to read its own help).
_HELP: dict[str, str] = {
    "run": "Run the desk: HTTP server (/healthz, Slack), intake, pipeline, outbox, scheduler.",
    "audit": "Verify, export and read the tamper-evident audit log.",
    "db": "Case-store schema migrations.",
    "classify": "Classify messages (JSON lines on stdin, or .eml files).",
    "train": "Train the model from the corpus (deterministic for the same corpus and seed).",
    "eval": "Precision, recall, F1 per label and language, macro-F1, accuracy, confusion matrix.",
    "store": "The customer store: find, export, erase, change; seed and import.",
    "cases": "Work on cases without Slack.",
    "demo": "Feed realistic requests in several languages through the whole desk and narrate it.",
    "report": "Requests by intent and state, deadlines kept or missed, time to close.",
    "inbox": "Mailbox records that need a person: list, show, retry.",
    "outbox": "Outgoing mail waiting or failed: list, retry.",
    "keys": "Secret keys: generate one; re-seal the case store under the newest data key.",
}
_MODULE_OF = {name: module for module, names in _OPTIONAL.items() for name in names}
#: Short commands that run with the cyclic garbage collector off: a `dsr store` process lives
#: well under a second and frees its memory by reference counting; the collector's passes over
#: the thousands of classes built while importing were a tenth of its start-up.
_BRIEF = {"store", "keys"}
#: Commands whose process, run as `dsr`, ends as soon as it is done (see `entry`): each one
#: finishes its writes (commits, closes its files and stores) before it returns.
_QUICK_EXIT = {"store", "cases", "audit"}
_quick: list[bool] = []
#: Commands that work without the case store's folders (they create or need none).
_NO_STORE = {"db", "demo", "keys", "classify", "train", "eval"}


class _DsrGroup(TyperGroup):
    """Loads each command's module on first use, and turns our errors into one line on stderr
    with the documented exit code, wherever they come from."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return [*names, *(n for n in _MODULE_OF if n not in names)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in _MODULE_OF:
            return found
        if self._listing and cmd_name in _HELP:  # `dsr --help`: a stub, nothing imported
            return TyperCommand(name=cmd_name, help=_HELP[cmd_name])
        command = _load(cmd_name)
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context
        try:
            return super().invoke(ctx)
        except Exception as exc:
            problem = as_our_error(exc)
            if problem is None:
                raise
            typer.echo(f"error: {problem}", err=True)
            ctx.exit(exit_code_for(problem))


def _load(name: str) -> Any:
    """Import the module that registers `name` and return its click command."""
    module = _MODULE_OF[name]
    holder = typer.Typer()
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        _placeholder(holder, name, module)
    else:
        mod.register(holder)
    built = typer.main.get_command(holder)
    commands = getattr(built, "commands", None)
    return commands[name] if isinstance(commands, dict) else built


def _placeholder(holder: typer.Typer, name: str, module: str) -> None:
    def _not_yet() -> None:
        raise NotAvailable(
            f"`dsr {name}` is not available in this version yet ({module} is not built)"
        )

    holder.command(
        name,
        help=f"(not available yet: {module})",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(_not_yet)


app = typer.Typer(
    cls=_DsrGroup,
    name="dsr",
    help="dsr-bot: the privacy desk agent. See README.md for the quick start. "
    "Exit codes: 0 done, 1 failed, 2 usage or nothing to do.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: importing rich alone would cost a tenth of a second
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"dsr-bot {version('dsr-bot')}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _load_settings(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Load settings once; every command gets them through the context."""
    if ctx.invoked_subcommand not in _BRIEF:
        gc.enable()  # off only while parsing the command line (see `main`)
    _quick[:] = [ctx.invoked_subcommand in _QUICK_EXIT]
    from bot.settings import load_settings, prepare_store_dirs

    settings = load_settings()
    if ctx.invoked_subcommand not in _NO_STORE:
        prepare_store_dirs(settings)
    ctx.obj = settings
    from storage import audit_chain  # the key and the append, without the audit log's model

    # The audit key lives in this context for the command's run, then is forgotten (tests run
    # many commands in one thread).
    token = audit_chain.use_key(settings.audit_key_bytes())
    ctx.call_on_close(lambda: audit_chain.reset_key(token))
    from storage import sealing

    # Likewise the keys that seal the case store's personal data (DSR_DATA_KEY).
    sealed = sealing.use_keyring(settings.keyring())
    ctx.call_on_close(lambda: sealing.reset_keyring(sealed))


def main() -> None:
    """Console entry point."""
    # Whatever the desk creates (databases, mail, packages, head files) is for its own user only;
    # folders and files that hold customers' data also get explicit modes where they are made.
    os.umask(0o077)
    gc.disable()  # back on in `_load_settings` for every command but the brief ones
    logs.configure(logging.WARNING)
    try:
        app()
    finally:
        gc.enable()


def entry() -> None:
    """The `dsr` console script: `main`; then a `dsr store|cases|audit …` process ends at once,
    without the interpreter's teardown of the objects its imports built (a fifth of its run).
    Everything the command does is finished by then: stores disposed, files closed, output
    written (and with another thread still running, it exits the usual way); exit handlers
    (logging's flush) still run, and the exit code is the same."""
    try:
        main()
    except SystemExit as exc:
        code = exc.code
        if _quick == [True] and (code is None or isinstance(code, int)) and _alone():
            _exit_now(code or 0)
        raise


def _alone() -> bool:
    """No other thread is left that the interpreter's exit would wait for."""
    import threading

    return threading.active_count() == 1


def _exit_now(code: int) -> None:
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: as the normal exit, nothing to add
            pass
    os._exit(code)
