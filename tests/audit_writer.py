"""A separate process that appends N audit events, one transaction each (for concurrency tests).

Usage: python -m tests.audit_writer URL N NAME
"""

from __future__ import annotations

import asyncio
import sys

from storage import audit
from storage.db import create_engine, session_factory


async def write(url: str, n: int, name: str) -> None:
    """Append `n` events as actor `name`."""
    engine = create_engine(url)
    try:
        for i in range(n):
            async with session_factory(engine)() as session, session.begin():
                await audit.append(session, action="load", actor=name, details={"i": i})
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(write(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
