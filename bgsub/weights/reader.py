"""Reading a bgsub checkpoint without torch: the zip archive ``torch.save`` writes, unpickled with a restricted
:class:`pickle.Unpickler` that knows only tensors (rebuilt as NumPy arrays) and plain data.

``read_checkpoint(path)`` returns the dict ``torch.load(path, map_location="cpu", weights_only=True)`` returns,
every tensor replaced by a contiguous NumPy array of the same dtype, shape and values (bfloat16, which NumPy lacks,
is widened to float32 exactly). As with ``weights_only=True``, no code from the file runs: a pickle that names any
global outside the short allow-list below is refused.

The archive (torch >= 1.6)::

    PREFIX/data.pkl      the pickled object; tensors as _rebuild_tensor_v2(storage, offset, size, stride, ...)
                         with storage a persistent id ("storage", torch.FloatStorage, KEY, location, numel)
    PREFIX/data/KEY      the storage's raw bytes (little-endian unless PREFIX/byteorder says "big")

This module imports neither torch nor anything that does (importing torch costs about a second).
"""

from __future__ import annotations

import _compat_pickle
import os
import pickle
import sys
import zipfile
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from bgsub.errors import BgsubError

__all__ = ["read_checkpoint"]

# torch's legacy storage classes (pickled as "torch.<Name>Storage") -> NumPy dtype. BFloat16 has no NumPy dtype:
# its bytes are the upper halves of float32 words, widened exactly (see _Storage.view).
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16",
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
    "ComplexFloatStorage": np.complex64, "ComplexDoubleStorage": np.complex128,
}
# torch dtypes (pickled as "torch.<name>", in _rebuild_tensor_v3 for storages without a legacy class)
_TORCH_DTYPES = {
    "float64": np.float64, "float32": np.float32, "float16": np.float16, "bfloat16": "bfloat16",
    "int64": np.int64, "int32": np.int32, "int16": np.int16, "int8": np.int8,
    "uint64": np.uint64, "uint32": np.uint32, "uint16": np.uint16, "uint8": np.uint8, "bool": np.bool_,
    "complex64": np.complex64, "complex128": np.complex128,
}


class _Refused(Exception):
    """A global outside the allow-list (nothing was executed)."""


class _StorageType:
    """Stands for ``torch.FloatStorage`` & co. inside the persistent ids (never called, never instantiated)."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class _DType:
    """Stands for a torch dtype (``torch.float32``) as _rebuild_tensor_v3 receives it."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype):
        self.name, self.dtype = name, dtype


_UNTYPED = _StorageType("UntypedStorage", np.uint8)


class _Storage:
    """One storage's bytes and element type (``dtype`` None for an untyped storage: bytes, typed by the tensor)."""

    __slots__ = ("raw", "dtype")

    def __init__(self, raw: bytes, dtype):
        self.raw, self.dtype = raw, dtype

    def view(self, dtype, big_endian: bool) -> np.ndarray:
        """The storage as a flat read-only array of ``dtype`` (bfloat16 widened to float32)."""
        if isinstance(dtype, str):  # bfloat16
            half = np.frombuffer(self.raw, dtype=">u2" if big_endian else "<u2")
            return (half.astype(np.uint32) << 16).view(np.float32)
        dt = np.dtype(dtype).newbyteorder(">" if big_endian else "<") if np.dtype(dtype).itemsize > 1 else dtype
        size = np.dtype(dt).itemsize
        if len(self.raw) % size:
            raise ValueError(f"storage of {len(self.raw)} bytes is not a whole number of {np.dtype(dtype)} items")
        return np.frombuffer(self.raw, dtype=dt)


def _rebuild(storage: _Storage, offset: int, size, stride, dtype, big_endian: bool) -> np.ndarray:
    """A contiguous copy of the strided view (offset, size, stride in elements) of ``storage``."""
    if not isinstance(storage, _Storage):
        raise ValueError("tensor without a storage")
    flat = storage.view(dtype, big_endian)
    size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(offset)
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise ValueError(f"invalid tensor geometry (offset {offset}, size {size}, stride {stride})")
    if 0 not in size:  # every element the view touches lies inside the storage
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= flat.size:
            raise ValueError(f"tensor of size {size} reaches past its storage of {flat.size} elements")
    else:
        return np.zeros(size, dtype=flat.dtype.newbyteorder("="))
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(flat[offset:], shape=size, strides=tuple(s * item for s in stride),
                                           writeable=False)
    return view.astype(flat.dtype.newbyteorder("="), order="C", copy=True)  # own, contiguous, native order


class _Unpickler(pickle.Unpickler):
    """Tensors and plain data only (the weights_only allow-list, restricted to what a checkpoint holds)."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, big_endian: bool):
        super().__init__(file, encoding="utf-8")
        self._zip, self._prefix, self._big = archive, prefix, big_endian
        self._storages: dict[str, _Storage] = {}
        big = big_endian

        def rebuild_v2(storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
            if not isinstance(storage, _Storage) or storage.dtype is None:  # v2 always has a typed storage
                raise ValueError("tensor without a typed storage")
            return _rebuild(storage, offset, size, stride, storage.dtype, big)

        def rebuild_v3(storage, offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
            if not isinstance(dtype, _DType):
                raise ValueError("tensor without a dtype")
            return _rebuild(storage, offset, size, stride, dtype.dtype, big)

        def rebuild_parameter(data, requires_grad=True, backward_hooks=None, state=None):
            if not isinstance(data, np.ndarray):
                raise ValueError("parameter without a tensor")
            return data

        def encode(obj, encoding="utf-8"):  # protocol-2 bytes: _codecs.encode(str, "latin1")
            if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
                raise _Refused(f"_codecs.encode({type(obj).__name__}, {encoding!r})")
            return obj.encode(encoding)

        self._globals: dict[tuple[str, str], Any] = {
            ("torch._utils", "_rebuild_tensor_v2"): rebuild_v2,
            ("torch._utils", "_rebuild_tensor_v3"): rebuild_v3,
            ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter,
            ("torch.nn.parameter", "Parameter"): rebuild_parameter,
            ("collections", "OrderedDict"): OrderedDict,
            ("collections", "Counter"): Counter,
            ("builtins", "set"): set,
            ("builtins", "frozenset"): frozenset,
            ("builtins", "bytearray"): bytearray,
            ("builtins", "complex"): complex,
            ("_codecs", "encode"): encode,
            ("torch", "UntypedStorage"): _UNTYPED,
            ("torch.storage", "UntypedStorage"): _UNTYPED,
        }
        for name, dt in _STORAGE_DTYPES.items():
            self._globals[("torch", name)] = _StorageType(name, dt)
        for name, dt in _TORCH_DTYPES.items():
            self._globals[("torch", name)] = _DType(name, dt)

    def find_class(self, module: str, name: str):
        # protocol 2 names Python 2's modules (__builtin__.set): the renaming pickle's own find_class does
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        try:
            return self._globals[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise ValueError(f"unexpected persistent id {str(pid)[:60]}")
        _, stype, key, _location, numel = pid
        key = str(key)
        if key not in self._storages:
            raw = self._zip.read(f"{self._prefix}/data/{key}")
            dtype = None if stype is _UNTYPED else stype.dtype
            item = 2 if isinstance(dtype, str) else np.dtype(dtype or np.uint8).itemsize
            if len(raw) < int(numel) * item:
                raise ValueError(f"storage {key} holds {len(raw)} bytes, {int(numel) * item} expected")
            self._storages[key] = _Storage(raw[: int(numel) * item], dtype)
        return self._storages[key]


def _archive_prefix(archive: zipfile.ZipFile) -> str:
    """The top folder of the archive (``archive`` since torch 2.x; the file's stem in older versions)."""
    for name in archive.namelist():
        parts = name.split("/")
        if len(parts) == 2 and parts[1] == "data.pkl":
            return parts[0]
    raise ValueError("no data.pkl in the archive")


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint at ``path`` as ``torch.load(path, map_location="cpu", weights_only=True)`` returns it, with
    every tensor a contiguous, writeable NumPy array of the same dtype, shape and values (bfloat16 widened to
    float32). Plain data (dict, list, tuple, str, bytes, int, float, bool, None, OrderedDict, set) comes back as
    pickled. No code from the file runs. Any problem -> a one-line :class:`BgsubError` naming the file."""
    p = Path(path)
    if not p.is_file():
        raise BgsubError(f"{p}: no such checkpoint file")
    try:
        with zipfile.ZipFile(p) as archive:
            prefix = _archive_prefix(archive)
            try:
                big = archive.read(f"{prefix}/byteorder").decode("ascii").strip() == "big"
            except KeyError:  # written before torch recorded it: the writer's order, little on every supported CPU
                big = sys.byteorder == "big"
            with archive.open(f"{prefix}/data.pkl") as fh:
                data = _Unpickler(fh, archive, prefix, big).load()
    except _Refused as exc:
        raise BgsubError(f"{p}: not a readable bgsub checkpoint (contains objects other than tensors and plain data: "
                         f"{str(exc)[:80]}; refused, not executed)") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, pickle.UnpicklingError, EOFError, KeyError, ValueError,
            TypeError, AttributeError, IndexError, OverflowError, MemoryError, RecursionError, UnicodeError,
            NotImplementedError, OSError) as exc:
        first = str(exc).strip().splitlines()
        reason = first[0] if first else type(exc).__name__
        if isinstance(exc, zipfile.BadZipFile) and "zip file" in reason:
            reason = f"not a zip archive: {reason}"
        raise BgsubError(f"{p}: not a readable bgsub checkpoint ({reason[:160]})") from None
    return data
