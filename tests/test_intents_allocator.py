"""The heap settings apply once and never fail a process."""

import ctypes.util

from intents.allocator import keep_heap_small


def test_settings_apply_on_glibc_and_repeat_harmlessly() -> None:
    first = keep_heap_small()
    assert keep_heap_small() == first
    if ctypes.util.find_library("c") and "glibc" in " ".join(__import__("platform").libc_ver()):
        assert first
