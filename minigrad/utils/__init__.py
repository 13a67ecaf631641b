"""``minigrad.utils``: helpers built on the public API (data loading: ``utils.data``;
activation checkpointing: ``utils.checkpoint``; weight files: ``utils.safetensors``,
``utils.torch_load``)."""
from . import checkpoint, data, safetensors, torch_load  # noqa: F401
