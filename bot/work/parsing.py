"""Stage two's MIME parse and HTML-to-text, off the event loop, in a worker process with a time
budget: one hostile mail (deeply nested HTML makes html2text slower than linear) costs at most
`DSR_PARSE_BUDGET_SECONDS` of one core and never freezes the desk. The size budget is
`DSR_MAX_MESSAGE_BYTES`: above it only the header is read (`oversize`).

Inside the worker a timer signal interrupts the parse at the budget; should the parser be stuck
where a signal cannot reach it (C code), the desk kills the worker a little later and starts a
new one. Either way the caller gets `OverBudget`, a `MailParseError`: the record is kept and
reported like an unparseable one.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import FrameType
from typing import Any

from mail.errors import MailParseError
from mail.parse import ParsedMessage, parse_message

log = logging.getLogger(__name__)

#: Extra seconds the desk waits beyond the budget before it kills a worker the timer missed.
GRACE = 5.0


class OverBudget(MailParseError):
    """Parsing a message took longer than its budget; the message is kept for a person."""


class _Alarm(BaseException):
    """The budget timer fired (a BaseException, so the parser's own handlers let it through)."""


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise _Alarm


def parse_within(raw: bytes, budget: float, options: dict[str, Any]) -> ParsedMessage:
    """`mail.parse.parse_message` interrupted after `budget` seconds (in a worker process).

    Raises:
        OverBudget: the budget ran out.
        MailParseError: the message cannot be parsed.
    """
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        return parse_message(raw, **options)
    except _Alarm:
        raise OverBudget(
            f"parsing took longer than the budget of {budget:g} s (DSR_PARSE_BUDGET_SECONDS); "
            "the message is kept for a person to read"
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _watch(desk_pid: int) -> None:
    """Worker initializer: exit when the desk is gone. A desk killed with SIGKILL never sends
    the pool's stop sentinel, and the worker holds both ends of its own call queue, so it would
    wait forever (and keep the forkserver alive with it)."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(desk_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # pragma: no cover - the pid now belongs to someone else
                os._exit(0)

    threading.Thread(target=watch, name="desk-watch", daemon=True).start()


class Parser:
    """A one-process pool for parsing, started on first use and replaced after a kill."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # forkserver: the worker starts clean, not as a copy of a process full of threads.
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=context, initializer=_watch, initargs=(os.getpid(),)
            )
        return self._pool

    def _discard(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()  # the only way to stop a parse stuck in C code
        pool.shutdown(wait=False, cancel_futures=True)

    async def parse(self, raw: bytes, *, budget: float, **options: Any) -> ParsedMessage:
        """Parse `raw` in the worker within `budget` seconds.

        Args:
            raw: the message as received.
            budget: seconds of parsing allowed.
            options: keyword arguments of `mail.parse.parse_message`.

        Raises:
            OverBudget: the budget ran out (or the worker died on this message).
            MailParseError: the message cannot be parsed.
        """
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor(), parse_within, raw, budget, options)
        try:
            return await asyncio.wait_for(future, budget + GRACE)
        except TimeoutError:
            log.warning("a parse outran its budget and its timer; the parser is restarted")
            self._discard()
            raise OverBudget(
                f"parsing took longer than the budget of {budget:g} s "
                "(DSR_PARSE_BUDGET_SECONDS); the message is kept for a person to read"
            ) from None
        except BrokenProcessPool:
            self._discard()
            raise OverBudget(
                "the parser process died on this message (memory or a crash); the message is "
                "kept for a person to read"
            ) from None

    def close(self) -> None:
        """Stop the worker (tests; `dsr run` leaves it to exit with the process)."""
        self._discard()


#: The process-wide parser.
PARSER = Parser()
