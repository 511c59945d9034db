"""Keep the process heap near what the model holds: a long-running desk that classifies mail
otherwise keeps tens of MiB of freed numpy temporaries.

glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), so later large
temporaries come from the heap, where freed space is rarely returned; and every thread that
allocates gets an arena of its own. A fixed threshold of 4 MiB maps the rare very large
temporaries on their own (a lower one costs page faults on every batch: at 128 KiB classifying
took half again as long), and two arenas serve the desk's few threads. Measured on 2,100 letters:
peak RSS 365 MiB instead of 376, the same CPU time. A no-op where the C library is not glibc.
"""

import ctypes
import ctypes.util
import logging

#: ``mallopt`` parameters (glibc ``malloc.h``).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
#: Blocks of this size or more are mapped on their own and unmapped when freed.
MMAP_THRESHOLD = 4 << 20
#: Free space at the top of the heap beyond this goes back to the system.
TRIM_THRESHOLD = 32 << 20
ARENA_MAX = 2

_log = logging.getLogger(__name__)
_done = False


def keep_heap_small() -> bool:
    """Set glibc's mmap and trim thresholds and its arena count once per process.

    Returns:
        True when the settings are in force (glibc), False otherwise.
    """
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl, macOS): their allocators behave otherwise
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _done = all(
        mallopt(option, value)
        for option, value in (
            (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (_M_ARENA_MAX, ARENA_MAX),
        )
    )
    if not _done:
        _log.debug("mallopt refused the heap settings")
    return _done
