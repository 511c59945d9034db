"""Progress bars for the long commands (seed, import, train, eval): drawn with rich (it comes
with typer) on stderr when stderr is a terminal, and nothing at all otherwise (logs, CI, pipes).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Called with how much is done so far (in the bar's unit).
Done = Callable[[float], None]


@contextmanager
def progress_bar(description: str, total: float | None) -> Iterator[Done]:
    """A bar for `total` units of work; yields the function that reports units done so far."""
    if not sys.stderr.isatty():
        yield lambda _done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.update(task, completed=done)
        bar.update(task, completed=total)


class CountRecords(logging.Handler):
    """Reports to a bar each log record of one logger whose message starts with `prefix` (the
    trainer logs one line per epoch), so the bar needs no hook in the code it watches."""

    def __init__(self, done: Done, prefix: str) -> None:
        super().__init__(logging.INFO)
        self.done, self.prefix, self.count = done, prefix, 0

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith(self.prefix):
            self.count += 1
            self.done(self.count)


@contextmanager
def counting(logger: str, prefix: str, done: Done) -> Iterator[None]:
    """Attach `CountRecords` to `logger` (at INFO) while the block runs."""
    target = logging.getLogger(logger)
    handler, level, propagate = CountRecords(done, prefix), target.level, target.propagate
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    target.propagate = False  # the epochs show as the bar, not as log lines
    try:
        yield
    finally:
        target.removeHandler(handler)
        target.setLevel(level)
        target.propagate = propagate
