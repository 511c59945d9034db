"""Load py3langid's model for the language gate: only the labels the gate may answer, and one
array in memory at a time while loading.

py3langid's own loader holds every array of its model twice at once (numpy and stdlib copies,
about 30 MiB more than the loaded model) and keeps all 142 label columns; the gate answers
fewer. Restricting the columns equals restricting py3langid to those labels (its scores are a
softmax over columns), so the answers are the same.
"""

import lzma
import shutil
import tempfile
import zipfile
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import numpy.typing as npt

#: Rows of the feature table read at a time (2.8 MiB of float16).
_ROWS = 10_000


def _columns(archive: zipfile.ZipFile, member: str, columns: list[int]) -> npt.NDArray[Any]:
    """Some columns of a 2-D array stored in an npz archive, read a block of rows at a time
    (the whole array is never in memory)."""
    with archive.open(member) as handle:
        shape, dtype = _header(handle)
        if len(shape) != 2:
            raise ValueError(f"{member}: expected a C-ordered 2-D array, got shape {shape}")
        rows, width = shape
        out = np.empty((rows, len(columns)), dtype=dtype)
        for start in range(0, rows, _ROWS):
            count = min(_ROWS, rows - start)
            block = np.frombuffer(handle.read(count * width * dtype.itemsize), dtype=dtype)
            out[start : start + count] = block.reshape(count, width)[:, columns]
    return out


_TYPECODES = {2: "H", 4: "I", 8: "L"}


def _array(archive: zipfile.ZipFile, member: str) -> "array[int]":
    """A 1-D unsigned array stored in an npz archive, read straight into a stdlib ``array``
    (py3langid walks it with Python indexing; no numpy copy in between)."""
    with archive.open(member) as handle:
        shape, dtype = _header(handle)
        if len(shape) != 1 or dtype.kind != "u" or dtype.byteorder == ">":
            raise ValueError(f"{member}: expected a 1-D unsigned array, got {dtype} {shape}")
        out = array(_TYPECODES[dtype.itemsize], [0]) * shape[0]
        view = memoryview(out).cast("B")
        done = 0
        while done < len(view):
            read = cast(zipfile.ZipExtFile, handle).readinto(view[done : done + (1 << 22)])
            if not read:
                raise ValueError(f"{member}: truncated after {done} bytes")
            done += read
    return out


def _header(handle: IO[bytes]) -> tuple[tuple[int, ...], np.dtype[Any]]:
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    if fortran:
        raise ValueError("expected a C-ordered array")
    return shape, dtype


def load_identifier(keep: Callable[[Iterable[str]], list[str]]) -> Any:
    """py3langid's ``LanguageIdentifier`` (normalised probabilities) over ``keep(labels)``.

    Args:
        keep: chooses, in order, the labels to keep from all of the model's labels.

    Returns:
        The identifier; ``nb_classes`` are the kept labels.
    """
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
    from py3langid.modelio import _to_array

    path = Path(MODEL_DIR) / MODEL_FILE
    with tempfile.TemporaryFile(suffix=".npz") as tmp:
        with lzma.open(path) as source:
            shutil.copyfileobj(source, tmp, length=1 << 20)
        tmp.seek(0)
        with np.load(tmp, allow_pickle=False) as data:
            classes = [str(x) for x in data["classes"].tolist()]
            kept = set(keep(classes))
            columns = [i for i, label in enumerate(classes) if label in kept]
            pc = np.asarray(data["pc"])[columns]
            ptc = _columns(data.zip, "ptc.npy", columns)
            nextmove = _array(data.zip, "nextmove.npy")
            row = _to_array(data["nextmove_row"])
            output = data["out_feat"].tolist()
    return LanguageIdentifier(
        ptc, pc, [classes[i] for i in columns], nextmove, output, norm_probs=True, tk_row=row
    )
