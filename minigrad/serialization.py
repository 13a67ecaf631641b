"""``mg.save`` / ``mg.load``: state dicts in a NumPy ``.npz`` file, written atomically.

The file holds one array per tensor plus a JSON description of the nested structure
(dicts with their key types, lists, tuples, numbers, strings, bools, None), so loading
never unpickles anything. Saving writes a temporary file beside the target, flushes and
fsyncs it, then renames it over the target: a crash mid-save leaves the previous
checkpoint untouched.
"""
from __future__ import annotations

import json
import os
import secrets
from collections import OrderedDict
from typing import Any, Mapping, Optional, Union

import numpy as np

from .tensor import Tensor, tensor

__all__ = ["save", "load"]

PathLike = Union[str, "os.PathLike[str]"]

_FORMAT = "minigrad-checkpoint"
_VERSION = 1
_HEADER = "__minigrad__"
_KEY_TYPES = (str, int, float, bool, type(None))


def save(obj: Any, path: PathLike) -> None:
    """Write ``obj`` (a state dict: nested dicts/lists/tuples of tensors, NumPy arrays,
    numbers, strings, bools and None) to exactly ``path``, atomically."""
    arrays: dict[str, np.ndarray] = {}
    header = {"format": _FORMAT, "version": _VERSION, "object": _encode(obj, arrays, "obj")}
    text = json.dumps(header, allow_nan=True)
    arrays[_HEADER] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    _write_atomically(os.fspath(path), arrays)


def load(path: PathLike, device: Optional[str] = None) -> Any:
    """Read what ``save`` wrote. Tensors land on ``device`` (default: the active backend);
    NumPy arrays saved as such come back as NumPy arrays."""
    path = os.fspath(path)
    archive = np.load(path, allow_pickle=False)
    if not isinstance(archive, np.lib.npyio.NpzFile) or _HEADER not in archive.files:
        raise ValueError(f"{path!r} is not a minigrad checkpoint (no {_HEADER!r} entry); "
                         "it was not written by mg.save")
    with archive:
        header = json.loads(archive[_HEADER].tobytes().decode("utf-8"))
        if header.get("format") != _FORMAT or header.get("version") != _VERSION:
            raise ValueError(f"{path!r}: unsupported checkpoint format "
                             f"{header.get('format')!r} version {header.get('version')!r}")
        return _decode(header["object"], archive, device)


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    """A JSON-able description of ``obj``; arrays go into ``arrays`` under fresh keys.
    Scalars stay bare JSON values, containers become one-key objects naming their type."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return _encode(obj.item(), arrays, where)
    if isinstance(obj, (Tensor, np.ndarray)):
        array = obj.numpy() if isinstance(obj, Tensor) else obj
        if array.dtype.hasobject:
            raise TypeError(f"mg.save cannot store {where}: an object array needs pickle")
        key = f"a{len(arrays)}"
        arrays[key] = array
        return {"tensor" if isinstance(obj, Tensor) else "ndarray": key}
    if isinstance(obj, Mapping):
        items = []
        for k, v in obj.items():
            if not isinstance(k, _KEY_TYPES):
                raise TypeError(f"mg.save cannot store {where}: key {k!r} is a "
                                f"{type(k).__name__} (keys must be str, int, float, bool "
                                "or None)")
            items.append([k, _encode(v, arrays, f"{where}[{k!r}]")])
        return {"odict" if isinstance(obj, OrderedDict) else "dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        return {kind: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    raise TypeError(f"mg.save cannot store {where}: a {type(obj).__name__} (state dicts hold "
                    "tensors, arrays, numbers, strings, bools, None, and dicts/lists/tuples "
                    "of them)")


def _decode(node: Any, archive: Any, device: Optional[str]) -> Any:
    if not isinstance(node, dict):
        return node
    (kind, body), = node.items()
    if kind == "tensor":
        return tensor(archive[body], device=device)
    if kind == "ndarray":
        return archive[body]
    if kind in ("dict", "odict"):
        pairs = [(k, _decode(v, archive, device)) for k, v in body]
        return OrderedDict(pairs) if kind == "odict" else dict(pairs)
    items = [_decode(v, archive, device) for v in body]
    return tuple(items) if kind == "tuple" else items


def _write_atomically(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Temp file in the target's directory (same filesystem, so the rename is atomic),
    flushed and fsynced before ``os.replace``; removed if anything fails."""
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
