"""lhotse storage for the training crop store: sliding-CMN'd FBANK rows in one flat .npy file.

lhotse has no memory-mapped flat storage: its numpy storages hold one file per utterance
(`numpy_files`) or HDF5 (`numpy_hdf5`), and neither gives a crop as a slice of one memory map.
Here every utterance's rows are appended to one float32 (rows x bins) .npy array and a cut's
storage key is its row range `first:end`, so `np.load(path, mmap_mode="r")[first + a : first + b]`
is a crop. The pair is registered with lhotse, so `cut.load_features()` works once this module
is imported (voxsv.data imports it).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from lhotse.features.io import FeaturesReader, FeaturesWriter, register_reader, register_writer

STORAGE_TYPE = "voxsv_cmn_rows"
FEATURES_TYPE = "kaldi-fbank-sliding-cmn"  # the values are sliding-CMN'd, not plain FBANK
_DTYPE = np.dtype("<f4")


def row_range(storage_key: str) -> tuple[int, int]:
    """First and end row of one utterance in the flat array (its storage key)."""
    first, end = storage_key.split(":")
    return int(first), int(end)


@register_writer
class CmnRowsWriter(FeaturesWriter):
    """Appends float32 matrices to one .npy file; the header's row count is written on close."""

    name = STORAGE_TYPE

    def __init__(self, storage_path: str | os.PathLike, *args, **kwargs) -> None:
        super().__init__()
        self._path = Path(storage_path)
        self._file = open(self._path, "wb")  # noqa: SIM115 (closed by close() / __exit__)
        self._rows = 0
        self._bins: int | None = None
        self._header_bytes = 0

    @property
    def storage_path(self) -> str:
        return str(self._path)

    def write(self, key: str, value: np.ndarray) -> str:
        """Append one (frames x bins) matrix; returns its storage key (its row range)."""
        if value.ndim != 2 or value.shape[1] != (self._bins or value.shape[1]):
            raise ValueError(f"{self._path}: {key} has shape {value.shape}, "
                             f"the store holds rows of {self._bins} values")
        if self._bins is None:
            self._bins = value.shape[1]
            self._header_bytes = self._write_header()
        self._file.write(np.ascontiguousarray(value, dtype=_DTYPE).tobytes())
        first, self._rows = self._rows, self._rows + len(value)
        return f"{first}:{self._rows}"

    def close(self) -> None:
        """Write the final header (row count) over the provisional one and close the file."""
        if self._file.closed:
            return
        try:
            if self._bins is None:  # nothing written: an empty (0 x 0) array
                self._bins = 0
                self._write_header()
            else:
                self._file.seek(0)
                if self._write_header() != self._header_bytes:
                    raise RuntimeError(f"{self._path}: the .npy header changed size")
        finally:
            self._file.close()

    def _write_header(self) -> int:
        """Write the .npy header for the rows so far at the file position; returns its size.

        numpy pads the header so that its size does not depend on the row count (it leaves
        room for the first axis to grow), so the final header fits over the first.
        """
        start = self._file.tell()
        np.lib.format.write_array_header_1_0(
            self._file, {"descr": _DTYPE.str, "fortran_order": False,
                         "shape": (self._rows, self._bins)})
        return self._file.tell() - start

    def __exit__(self, *args, **kwargs) -> None:
        self.close()


@register_reader
class CmnRowsReader(FeaturesReader):
    """Reads one utterance's rows (or a frame range of it) from the memory-mapped array."""

    name = STORAGE_TYPE

    def __init__(self, storage_path: str | os.PathLike, *args, **kwargs) -> None:
        super().__init__()
        self.rows = np.load(storage_path, mmap_mode="r")

    def read(self, key: str, left_offset_frames: int = 0,
             right_offset_frames: int | None = None) -> np.ndarray:
        """Rows [left, right) of the utterance stored under `key` (to its end if right is None)."""
        first, end = row_range(key)
        stop = end if right_offset_frames is None else min(first + right_offset_frames, end)
        return np.array(self.rows[first + left_offset_frames : stop])
