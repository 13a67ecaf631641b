"""``minigrad.onnx``: write a model as a standard ONNX file, as ``torch.onnx`` does.

    import minigrad.onnx
    minigrad.onnx.export(model, (x,), "model.onnx", input_names=["x"],
                         output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})

PyTorch's signature and meaning, so a program's ``torch.onnx.export(model, args, f,
input_names=..., output_names=..., dynamic_axes=...)`` runs with ``import minigrad as
torch``. The forward pass is traced on the primitives (export.py, ops.py); recurrent
layers, convolutions, pooling and embeddings are written as ONNX's own operators
(modules.py). Importing this package needs nothing beyond minigrad; exporting needs the
``onnx`` package (``pip install 'minigrad[formats]'``), running the result
``onnxruntime``.
"""
from .errors import OnnxExporterError, UnsupportedOperatorError
from .export import TrainingMode, export

__all__ = ["export", "TrainingMode", "OnnxExporterError", "UnsupportedOperatorError"]
