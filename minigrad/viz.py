"""Pictures of the recorded graph: Graphviz DOT text, rendered when Graphviz is installed.

``to_dot(loss, params=dict(model.named_parameters()))`` walks ``grad_fn.next_functions``
back from the output, the way backward will, and writes one box per recorded operation
(its name, output shape and dtype), one per leaf that requires grad (named by its module
path when ``params`` names it), and an edge from each input to the operation that used
it -- so a weight reused at every time step of an unrolled RNN shows one edge per step,
the edges whose gradients backward sums. Making the text needs nothing but minigrad;
``render`` hands it to Graphviz's ``dot`` program for an SVG, PNG or PDF.

The walk is iterative (an unrolled recurrent net has thousands of nodes) and the text is
deterministic: nodes are numbered in the order the walk meets them, from the output.
The graph is the one recorded; it survives ``backward`` (only saved values are freed).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from typing import Any, Mapping, Optional, Sequence, Union

import minigrad as mg

__all__ = ["to_dot", "render"]

_OP = 'shape=box, style="rounded,filled", fillcolor=lightgray'
_LEAF = 'shape=box, style=filled, fillcolor=lightblue'
_OUTPUT = 'shape=box, style=filled, fillcolor=darkolivegreen1'


def to_dot(output: Union[mg.Tensor, Sequence[mg.Tensor]],
           params: Optional[Mapping[str, mg.Tensor]] = None, name: str = "minigrad") -> str:
    """DOT text of the graph that produced ``output`` (a tensor or several). ``params``
    (e.g. ``dict(model.named_parameters())``) names the leaves it contains."""
    outputs = [output] if isinstance(output, mg.Tensor) else list(output)
    if not outputs or not all(isinstance(t, mg.Tensor) for t in outputs):
        raise TypeError(f"to_dot needs a Tensor or a sequence of Tensors, got {output!r:.80}")
    names = {}
    for key, value in (params or {}).items():
        if not isinstance(value, mg.Tensor):
            raise TypeError(f"to_dot: params[{key!r}] is a {type(value).__name__}, not a Tensor")
        names[id(value)] = key

    ids: dict = {}      # node key -> DOT id
    lines = [f"digraph {_quote(name)} {{", "  node [fontname=monospace, fontsize=11];",
             "  edge [arrowsize=0.7];"]
    queue: deque = deque()

    def visit(fn: Any) -> str:
        """The DOT id of ``fn`` (a grad_fn or an AccumulateGrad), declared on first sight."""
        key = _key(fn)
        if key not in ids:
            ids[key] = f"n{len(ids)}"
            variable = getattr(fn, "variable", None)
            if variable is not None:
                label, style = [names.get(id(variable), "leaf"), _meta(variable)], _LEAF
            else:
                label, style = [fn.name(), _meta(fn)], _OP
                queue.append(fn)
            lines.append(f"  {ids[key]} [label={_quote(label)}, {style}];")
        return ids[key]

    for i, out in enumerate(outputs):
        title = "output" if len(outputs) == 1 else f"output {i}"
        out_id = f"out{i}"
        lines.append(f"  {out_id} [label={_quote([title, _meta(out)])}, {_OUTPUT}];")
        if out.grad_fn is not None:
            lines.append(f"  {visit(out.grad_fn)} -> {out_id};")
    while queue:
        fn = queue.popleft()
        for upstream, _ in fn.next_functions:
            if upstream is not None:
                lines.append(f"  {visit(upstream)} -> {ids[_key(fn)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot: str, path: Union[str, "os.PathLike[str]"], format: Optional[str] = None) -> str:
    """Write ``dot`` to ``path`` as ``format`` (default: the path's suffix: svg, png,
    pdf...; ``.dot`` / ``.gv`` write the text itself) with Graphviz's ``dot`` program,
    which must be installed. Returns the path."""
    path = os.fspath(path)
    fmt = (format or os.path.splitext(path)[1].lstrip(".")).lower()
    if not fmt:
        raise ValueError(f"render: cannot tell the format of {path!r}; give a suffix "
                         "(.svg, .png, .pdf) or format=")
    if fmt in ("dot", "gv"):
        with open(path, "w", encoding="utf-8") as f:
            f.write(dot)
        return path
    program = shutil.which("dot")
    if program is None:
        raise RuntimeError(
            f"render: writing {path!r} needs Graphviz's 'dot' program, which is not on PATH. "
            "Install Graphviz (apt install graphviz, brew install graphviz, conda install "
            "graphviz), or save the text of to_dot() to a .dot file and render it elsewhere")
    done = subprocess.run([program, f"-T{fmt}", "-o", path], input=dot.encode("utf-8"),
                          capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"render: Graphviz failed to write {path!r} as {fmt}: "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return path


def _key(fn: Any) -> tuple:
    """AccumulateGrad objects are made afresh on each look; the leaf they wrap is not."""
    variable = getattr(fn, "variable", None)
    return ("leaf", id(variable)) if variable is not None else ("op", id(fn))


def _meta(item: Any) -> str:
    """'(2, 3) float32' for a tensor or a recorded node ('' when the node does not say)."""
    shape, dtype = getattr(item, "shape", None), getattr(item, "dtype", None)
    if not isinstance(shape, tuple) or dtype is None:
        return ""
    return f"({', '.join(str(int(n)) for n in shape)}{',' if len(shape) == 1 else ''}) {dtype}"


def _quote(text: Union[str, Sequence[str]]) -> str:
    """A DOT string (lines joined by newlines), with its quotes and backslashes escaped."""
    lines = [text] if isinstance(text, str) else [t for t in text if t]
    escaped = [t.replace("\\", "\\\\").replace('"', '\\"') for t in lines]
    return '"' + "\\n".join(escaped) + '"'
