"""``mg.save`` / ``mg.load``: checkpoints in a NumPy ``.npz`` file, written atomically.

A state dict (tensors, arrays, numbers, strings, bools, None, and dicts/lists/tuples of
them) is stored as one array per tensor plus a JSON description of the nested structure
(format version 1), so loading it never unpickles anything. Any other object (a whole
module, an optimizer, a set, ...) is pickled, as one pickle so that shared objects stay
shared, into a byte array of the archive (version 2); loading that runs arbitrary code, so
``mg.load`` refuses it unless called with ``weights_only=False``, as PyTorch >= 2.6 does.

Given a path, saving writes a temporary file beside the target, flushes and fsyncs it,
then renames it over the target: a crash mid-save leaves the previous checkpoint
untouched. Given a binary file object, it writes there (atomicity is then the caller's).

``load`` also reads the two formats other frameworks write, recognised by their first
bytes, never by the file's name: safetensors (``utils/safetensors.py``, which
``save(..., format="safetensors")`` writes too) and PyTorch's ``torch.save`` zip files
(``utils/torch_load.py``, a restricted unpickler). A damaged or foreign file raises
ValueError naming the file and what is wrong with it.
"""
from __future__ import annotations

import functools
import io
import json
import os
import pickle
import secrets
import zipfile
import zlib
from collections import OrderedDict
from typing import IO, Any, Callable, Mapping, Optional, Union

import numpy as np

from . import pickling
from .backends import ArrayBackend
from .tensor import Tensor, tensor

__all__ = ["save", "load"]

PathLike = Union[str, "os.PathLike[str]"]
FileLike = Union[PathLike, IO[bytes]]
Device = Union[str, ArrayBackend]

_FORMAT = "minigrad-checkpoint"
_STATE_DICT, _PICKLED = 1, 2  # format versions: pickle-free, or one pickled object
_HEADER = "__minigrad__"
_PICKLE = "pickle"
_KEY_TYPES = (str, int, float, bool, type(None))


class _NotStateDict(Exception):
    """Raised by ``_encode`` at the first value the pickle-free encoding cannot hold;
    its message says where and what that value is."""


def save(obj: Any, f: FileLike, *, format: str = "minigrad") -> None:
    """Write ``obj`` to exactly the path ``f`` (atomically) or to the binary file object
    ``f``. A state dict (nested dicts/lists/tuples of tensors, NumPy arrays, numbers,
    strings, bools and None) is stored without pickle; anything else is pickled whole.
    ``format="safetensors"`` writes a flat ``{name: tensor}`` map as a safetensors file
    instead (see :mod:`minigrad.utils.safetensors`)."""
    if format == "safetensors":
        from .utils import safetensors
        data = safetensors.save(obj)
        _write(f, lambda out: out.write(data))
        return
    if format != "minigrad":
        raise ValueError(f"mg.save: unknown format {format!r}; "
                         "use 'minigrad' (the default) or 'safetensors'")
    arrays: dict[str, np.ndarray] = {}
    try:
        header = {"format": _FORMAT, "version": _STATE_DICT,
                  "object": _encode(obj, arrays, "obj")}
    except _NotStateDict as reason:
        arrays = {_PICKLE: np.frombuffer(_pickle(obj, reason), dtype=np.uint8)}
        kind = type(obj)
        header = {"format": _FORMAT, "version": _PICKLED, "pickle": _PICKLE,
                  "type": f"{kind.__module__}.{kind.__qualname__}"}
    text = json.dumps(header, allow_nan=True)
    arrays[_HEADER] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    _write(f, lambda out: np.savez(out, allow_pickle=False, **arrays))


def _write(f: FileLike, write: Callable[[IO[bytes]], Any]) -> None:
    if _is_path(f):
        write_atomically(os.fspath(f), write)
    elif callable(getattr(f, "write", None)):
        write(f)
    else:
        raise TypeError(f"mg.save needs a path or a binary file object with write(), "
                        f"got a {type(f).__name__}")


def load(f: FileLike, device: Optional[Device] = None, *, map_location: Optional[Device] = None,
         weights_only: bool = True) -> Any:
    """Read what ``save`` wrote, from a path or a binary file object. Tensors land on
    ``device`` (PyTorch's name: ``map_location``; default: the active backend, or for a
    pickled object the backend each tensor was saved from); NumPy arrays saved as such
    come back as NumPy arrays. An archive holding a pickled object loads only with
    ``weights_only=False``: unpickling can run arbitrary code, so do it only for files
    you trust.

    Two foreign formats are recognised by their content and read without running any
    code: safetensors files (:mod:`minigrad.utils.safetensors`) and PyTorch's
    ``torch.save`` zip files of state dicts (:mod:`minigrad.utils.torch_load`). A damaged
    file raises ValueError saying so; nothing is returned half-read."""
    device = _one_device(device, map_location)
    if _is_path(f):
        source, name = os.fspath(f), repr(os.fspath(f))
    elif callable(getattr(f, "read", None)):
        name = repr(f.name) if hasattr(f, "name") else f"the {type(f).__name__} object"
        source = f if _seekable(f) else io.BytesIO(f.read())  # zip reading needs seek()
    else:
        raise TypeError(f"mg.load needs a path or a binary file object with read(), "
                        f"got a {type(f).__name__}")
    kind, start = _sniff(source)
    if kind == "safetensors":
        from .utils import safetensors
        if isinstance(source, str):
            return safetensors.load_file(source, device=device)
        return safetensors.load(source.read(), device=device)
    if kind != "zip":
        raise ValueError(f"{name} is not a minigrad checkpoint: {_NOT_ZIP[kind]}")
    try:
        archive = np.load(source, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise ValueError(f"{name} is a damaged checkpoint, not a readable zip archive "
                         f"(truncated or corrupted?): {exc}") from exc
    with archive:
        if _HEADER not in archive.files:
            if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in archive.files):
                raise ValueError(f"{name} is not a minigrad checkpoint (no {_HEADER!r} "
                                 "entry); it was not written by mg.save")
            archive.close()
            from .utils import torch_load
            if not isinstance(source, str):
                source.seek(start)
            return torch_load.load(source, device=device)
        header = _intact(name, lambda: json.loads(archive[_HEADER].tobytes().decode("utf-8")))
        version = header.get("version") if isinstance(header, dict) else None
        if version not in (_STATE_DICT, _PICKLED) or header.get("format") != _FORMAT:
            found = header.get("format") if isinstance(header, dict) else header
            raise ValueError(f"{name}: unsupported checkpoint format {found!r} "
                             f"version {version!r}")
        if version == _STATE_DICT:
            return _intact(name, lambda: _decode(header["object"], archive, device))
        if weights_only:
            raise pickle.UnpicklingError(
                f"mg.load: {name} holds arbitrary Python objects (a pickled "
                f"{header.get('type', 'object')}), and unpickling can run arbitrary code, so "
                "weights_only=True (the default) refuses it. If you trust the source of this "
                "file, load it with mg.load(..., weights_only=False). (A state dict, e.g. "
                "model.state_dict(), saves without pickle and loads with weights_only=True.)")
        stream = io.BytesIO(_intact(name, lambda: archive[header["pickle"]].tobytes()))
        return _Unpickler(stream, device).load()


_NOT_ZIP = {
    "empty": "it is empty (was its writing interrupted?)",
    "pickle": "it is a bare pickle, as written by pickle.dump or by torch.save in PyTorch's "
              "legacy format (_use_new_zipfile_serialization=False, or torch < 1.6), which "
              "minigrad does not read; re-save it with a current torch.save",
    "npy": "it is a single NumPy array (.npy); mg.save writes a zip archive",
    "other": "it is not a zip archive, which mg.save writes (nor a safetensors file)",
}


def _sniff(source: Union[str, IO[bytes]]) -> tuple:
    """(What the bytes at the start of ``source`` look like, where they start): 'zip'
    (mg.save's archives and torch.save's), 'safetensors' (an 8-byte little-endian header
    length, then a JSON object), 'pickle', 'npy', 'empty' or 'other'. A file object is
    left where it was."""
    if isinstance(source, str):
        with open(source, "rb") as f:
            head, size = f.read(16), os.fstat(f.fileno()).st_size
        start = 0
    else:
        start = source.tell()
        head = source.read(16)
        size = source.seek(0, io.SEEK_END) - start
        source.seek(start)
    if not head:
        return "empty", start
    if head[:2] == b"PK":
        return "zip", start
    if head.startswith(b"\x93NUMPY"):
        return "npy", start
    if head[:1] == b"\x80":
        return "pickle", start
    if len(head) > 8 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") <= size - 8:
        return "safetensors", start
    return "other", start


def _intact(name: str, read: Callable[[], Any]) -> Any:
    """``read()``, whose low-level failures inside an archive mean it is damaged (a CRC
    mismatch, a member cut short, a header that is not JSON) and are reported so."""
    try:
        return read()
    except (zipfile.BadZipFile, EOFError, KeyError, ValueError, UnicodeDecodeError,
            zlib.error, NotImplementedError, RuntimeError) as exc:  # (a flipped flag byte)
        raise ValueError(f"{name} is a damaged checkpoint (truncated or corrupted?): "
                         f"{type(exc).__name__}: {exc}") from exc


def _is_path(f: Any) -> bool:
    return isinstance(f, (str, os.PathLike))


def _seekable(f: Any) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _one_device(device: Optional[Device], map_location: Optional[Device]) -> Optional[Device]:
    """``map_location`` is PyTorch's name for ``device``; as a dict or a function (PyTorch
    remaps storages one by one) it has no minigrad meaning."""
    if map_location is not None and device is not None and map_location != device:
        raise TypeError(f"mg.load got device={device!r} and map_location={map_location!r}; "
                        "they are the same argument, pass one")
    device = device if device is not None else map_location
    if device is not None and not isinstance(device, (str, ArrayBackend)):
        raise TypeError(f"mg.load: device/map_location must be a device or backend name "
                        f"such as 'cpu' or 'cuda', got a {type(device).__name__}")
    return device


def _pickle(obj: Any, reason: _NotStateDict) -> bytes:
    """The whole object in one pickle (so objects it shares stay shared)."""
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise TypeError(f"mg.save cannot store {reason}: that is not state-dict data "
                        "(tensors, arrays, numbers, strings, bools, None, and dicts/lists/"
                        f"tuples of them), so the {type(obj).__name__} is pickled, and "
                        f"pickling failed: {exc}") from exc


class _Unpickler(pickle.Unpickler):
    """A plain unpickler whose tensors land on ``device`` when one is given."""

    def __init__(self, stream: IO[bytes], device: Optional[Device]) -> None:
        super().__init__(stream)
        self._device = device

    def find_class(self, module: str, name: str) -> Any:
        found = super().find_class(module, name)
        if found is pickling.rebuild_tensor and self._device is not None:
            return functools.partial(found, device=self._device)
        return found


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
            raise _NotStateDict(f"{where}: an object array")
        key = f"a{len(arrays)}"
        arrays[key] = array
        return {"tensor" if isinstance(obj, Tensor) else "ndarray": key}
    if isinstance(obj, Mapping):
        items = []
        for k, v in obj.items():
            if not isinstance(k, _KEY_TYPES):
                raise _NotStateDict(f"{where}: key {k!r} is a {type(k).__name__} (keys "
                                    "must be str, int, float, bool or None)")
            items.append([k, _encode(v, arrays, f"{where}[{k!r}]")])
        return {"odict" if isinstance(obj, OrderedDict) else "dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        return {kind: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    raise _NotStateDict(f"{where}: a {type(obj).__name__}")


def _decode(node: Any, archive: Any, device: Optional[Device]) -> Any:
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


def write_atomically(path: str, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write`` on a temp file in the target's directory (same filesystem, so the
    rename is atomic), flush and fsync it, then ``os.replace`` it onto ``path``; on any
    failure (a full disk, a permission error, a crash) remove it and leave ``path`` as it
    was. Shared by every format minigrad writes."""
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
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
