"""Keep the process heap near what the model holds: a long-running desk that classifies mail
otherwise keeps tens of MiB of freed numpy temporaries.

glibc raises its mmap threshold each time a large block is freed, so later large temporaries
(a batch's token matrices, a long letter's features) come from the heap, where freed space is
rarely returned; and every thread that allocates gets an arena of its own. Fixing the threshold
sends blocks of 128 KiB and more straight back to the system when freed, and two arenas serve
the desk's few threads. A no-op where the C library is not glibc.
"""

import ctypes
import ctypes.util
import logging

#: ``mallopt`` parameters (glibc ``malloc.h``).
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
#: Blocks of this size or more are mapped on their own and unmapped when freed.
MMAP_THRESHOLD = 128 * 1024
ARENA_MAX = 2

_log = logging.getLogger(__name__)
_done = False


def keep_heap_small() -> bool:
    """Set glibc's mmap threshold and arena count once per process.

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
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_ARENA_MAX, ARENA_MAX)
    )
    if not _done:
        _log.debug("mallopt refused the heap settings")
    return _done
