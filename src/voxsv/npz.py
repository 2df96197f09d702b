"""Arrays of an uncompressed `.npz` store (as `np.savez` writes them), memory-mapped read-only.

numpy maps only `.npy` files (`np.load` ignores `mmap_mode` for an `.npz`) and reads an `.npz`
member through zipfile: into a bytes buffer, a CRC pass over it, then a second copy into the
array. For VoxCeleb1-E's 157 MB of embeddings that is 0.15-0.4 s here, against about 0.03 s to
map the page cache and read the array once. A member that is compressed, holds Python objects
or is not a plain `.npy` makes `map_npz` answer None, and the caller reads the store with
`np.load` (which also gives its errors for damaged files).
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Sequence

import numpy as np

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # a zip member's local file header (30 bytes)
_LOCAL_SIGNATURE = b"PK\x03\x04"


def map_npz(path: str | os.PathLike, names: Sequence[str]) -> dict[str, np.ndarray] | None:
    """The arrays `names` of the store at `path`, mapped read-only; None if any cannot be."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = {name: archive.getinfo(f"{name}.npy") for name in names}
        with open(path, "rb") as file:
            return {name: _map_member(path, file, info) for name, info in infos.items()}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, struct.error):
        return None


def _map_member(path: str | os.PathLike, file, info: zipfile.ZipInfo) -> np.ndarray:
    """One stored `.npy` member as a read-only array over the file (ValueError if it is not)."""
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{info.filename} is compressed")
    file.seek(info.header_offset)
    header = _LOCAL_HEADER.unpack(file.read(_LOCAL_HEADER.size))
    if header[0] != _LOCAL_SIGNATURE:
        raise ValueError(f"{info.filename}: no local file header")
    file.seek(info.header_offset + _LOCAL_HEADER.size + header[9] + header[10])
    start = file.tell()
    version = np.lib.format.read_magic(file)
    read_header = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }.get(version)
    if read_header is None:
        raise ValueError(f"{info.filename}: .npy format version {version}")
    shape, fortran_order, dtype = read_header(file)
    offset = file.tell()
    if dtype.hasobject or offset - start + dtype.itemsize * int(np.prod(shape)) != info.file_size:
        raise ValueError(f"{info.filename}: not a plain array of its stored size")
    if 0 in shape or dtype.itemsize == 0:  # mmap cannot map zero bytes
        return np.empty(shape, dtype=dtype)
    mapped = np.memmap(
        path, dtype=dtype, mode="r", offset=offset, shape=shape,
        order="F" if fortran_order else "C",
    )  # fmt: skip
    return mapped.view(np.ndarray)
