"""safetensors files: the weight format of Hugging Face and PyTorch, in and out.

A safetensors file is a flat map from names to dense arrays, plus a ``str -> str``
metadata map, behind a JSON header: no pickle, so loading one never runs code. Reading
and writing go through the ``safetensors`` package's NumPy API, an optional extra
(``pip install 'minigrad[formats]'``); minigrad itself needs only NumPy.

The names follow ``safetensors.torch`` (``save_file`` / ``load_file`` / ``save`` /
``load``), so ported code changes only its import. ``save_file`` writes atomically, as
``mg.save`` does; ``mg.save(state, path, format="safetensors")`` and ``mg.load(path)``
(which recognises the format by its content) lead here.

NumPy has no bfloat16 and no float8 types, so files holding them are refused, naming the
tensors (cast them to float32 in PyTorch first); safetensors has no complex128.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Union

import numpy as np

import minigrad as mg
from minigrad.serialization import write_atomically

__all__ = ["save", "save_file", "load", "load_file", "read_metadata"]

PathLike = Union[str, "os.PathLike[str]"]

# The safetensors dtype codes that have a NumPy dtype, hence a minigrad one.
_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16,
           "I16": np.int16, "U32": np.uint32, "I32": np.int32, "U64": np.uint64,
           "I64": np.int64, "F16": np.float16, "F32": np.float32, "F64": np.float64,
           "C64": np.complex64}
_WRITABLE = frozenset(np.dtype(d) for d in _DTYPES.values())


def _package() -> Any:
    """The ``safetensors`` package, imported on first use (it is an optional extra)."""
    try:
        import safetensors
        import safetensors.numpy  # noqa: F401  (the NumPy API lives in this submodule)
    except ImportError as exc:
        raise ImportError("safetensors files need the 'safetensors' package: "
                          "pip install 'minigrad[formats]' (or pip install safetensors)") from exc
    return safetensors


def save(tensors: Mapping[str, Any], metadata: Optional[Mapping[str, str]] = None) -> bytes:
    """The safetensors encoding of a flat ``{name: tensor or array}`` map (a state dict)."""
    arrays = _arrays(tensors)
    return _package().numpy.save(arrays, metadata=_metadata(metadata))


def save_file(tensors: Mapping[str, Any], filename: PathLike,
              metadata: Optional[Mapping[str, str]] = None) -> None:
    """Write ``tensors`` to ``filename`` atomically: a failure (disk full, a crash) leaves
    any previous file there untouched."""
    data = save(tensors, metadata)
    write_atomically(os.fspath(filename), lambda f: f.write(data))


def load(data: Union[bytes, bytearray], device: Any = None) -> dict:
    """The ``{name: Tensor}`` map held in the bytes of a safetensors file."""
    package = _package()
    try:
        entries = package.deserialize(bytes(data))
    except package.SafetensorError as exc:
        raise ValueError(f"not a readable safetensors file (truncated or corrupted?): "
                         f"{exc}") from exc
    _check_dtypes({name: entry["dtype"] for name, entry in entries}, "the safetensors data")
    return {name: mg.tensor(np.frombuffer(entry["data"], dtype=_DTYPES[entry["dtype"]])
                            .reshape(entry["shape"]), device=device)
            for name, entry in entries}


def load_file(filename: PathLike, device: Any = None) -> dict:
    """The ``{name: Tensor}`` map in the safetensors file ``filename``, on ``device``."""
    package, path = _package(), os.fspath(filename)
    try:
        with package.safe_open(path, framework="np") as f:
            _check_dtypes({k: f.get_slice(k).get_dtype() for k in f.keys()}, repr(path))
            return {k: mg.tensor(f.get_tensor(k), device=device) for k in f.keys()}
    except package.SafetensorError as exc:
        raise ValueError(f"{path!r} is not a readable safetensors file (truncated or "
                         f"corrupted?): {exc}") from exc


def read_metadata(filename: PathLike) -> dict:
    """The file's ``str -> str`` metadata (``{}`` when it has none)."""
    package, path = _package(), os.fspath(filename)
    try:
        with package.safe_open(path, framework="np") as f:
            return dict(f.metadata() or {})
    except package.SafetensorError as exc:
        raise ValueError(f"{path!r} is not a readable safetensors file (truncated or "
                         f"corrupted?): {exc}") from exc


def _arrays(tensors: Mapping[str, Any]) -> dict:
    """Validated, C-contiguous host arrays (the NumPy API writes raw memory, so a
    transposed view must be made contiguous first, or its bytes come out in the wrong
    order)."""
    if not isinstance(tensors, Mapping):
        raise TypeError(f"safetensors holds a flat {{name: tensor}} map (a state dict), "
                        f"got a {type(tensors).__name__}")
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"safetensors names must be strings, got {name!r} "
                            f"({type(name).__name__})")
        if isinstance(value, mg.Tensor):
            array = value.detach().numpy()
        elif isinstance(value, np.ndarray):
            array = value
        else:
            raise TypeError(f"safetensors holds only tensors and arrays, but {name!r} is a "
                            f"{type(value).__name__} (a nested dict or a number cannot be "
                            "stored: save those with mg.save)")
        if array.dtype not in _WRITABLE:
            raise TypeError(f"safetensors cannot store {name!r}: dtype {array.dtype} has no "
                            "safetensors type (complex128 does not exist there; "
                            "use complex64 or mg.save)")
        arrays[name] = np.ascontiguousarray(array)
    return arrays


def _metadata(metadata: Optional[Mapping[str, str]]) -> Optional[dict]:
    if metadata is None:
        return None
    bad = [k for k, v in dict(metadata).items() if not (isinstance(k, str) and isinstance(v, str))]
    if bad:
        raise TypeError(f"safetensors metadata maps strings to strings; not so for {bad!r}")
    return dict(metadata)


def _check_dtypes(dtypes: Mapping[str, str], where: str) -> None:
    """Refuse, naming every tensor concerned, dtypes that NumPy cannot hold."""
    bad: dict = {}
    for name, code in dtypes.items():
        if code not in _DTYPES:
            bad.setdefault(code, []).append(name)
    if bad:
        listed = "; ".join(f"{code}: {', '.join(repr(n) for n in sorted(names))}"
                           for code, names in sorted(bad.items()))
        hint = (" (bfloat16 is BF16: cast to float32 in PyTorch before saving, "
                "e.g. {k: v.float() for k, v in state_dict.items()})" if "BF16" in bad else "")
        raise TypeError(f"{where} holds tensors whose dtype NumPy (hence minigrad) has no "
                        f"type for: {listed}{hint}")
