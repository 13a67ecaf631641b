"""Every Tensor method on bad input: it works as PyTorch's does, or it says what is wrong.

The methods come from the tables in minigrad/tensor_methods.py (bound to the mg.* functions,
their in-place forms, the vararg shape methods and the extras) and from the Tensor class
itself (conversions, autograd, indexing, operators); a method in those tables without a
spec here fails the suite. In-place methods are held to PyTorch on their result and on the
tensor they changed.
"""
from __future__ import annotations

import operator

import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad import tensor_methods
import differences
from harness import checked, share, torch
from oracle import compare_with_torch, restored
from strategies import Spec, arguments, call_label, tensors
from test_fuzz_functions import SPECS as FUNCTION_SPECS

SHAPE = "shape*"
# Operators are called as Python calls them (x + y, y + x, x += y, -x, float(x)), so a
# NotImplemented from one side becomes Python's own TypeError, as it does for users.
BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
          "truediv": operator.truediv, "pow": operator.pow, "matmul": operator.matmul,
          "floordiv": operator.floordiv, "mod": operator.mod, "and": operator.and_,
          "or": operator.or_, "xor": operator.xor}
COMPARE = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
           "eq": operator.eq, "ne": operator.ne}
UNARY = {"neg": operator.neg, "pos": operator.pos, "abs": abs, "invert": operator.invert,
         "len": len, "bool": bool, "float": float, "int": int, "index": operator.index}
CALLS = {f"__{n}__": f for n, f in (BINARY | COMPARE | UNARY).items()} | {
    f"__r{n}__": (lambda f: lambda x, y: f(y, x))(f) for n, f in BINARY.items()} | {
    "__iadd__": operator.iadd, "__isub__": operator.isub, "__imul__": operator.imul,
    "__itruediv__": operator.itruediv, "__getitem__": operator.getitem,
    "__setitem__": operator.setitem}
OPERATORS = {name: ("" if name[2:-2] in UNARY else "index TN" if name == "__setitem__"
                    else "index" if name == "__getitem__" else "TN") for name in CALLS}
EXTRAS = {
    "size": "dim?", "to": "dtype", "type": "dtype?", "where": "B TN", "type_as": "T",
    "new_full": "shape N", "new_tensor": "data", "fill_": "N", "zero_": "", "copy_": "T",
    "requires_grad_": "bool?", "element_size": "", "new_zeros": SHAPE, "new_ones": SHAPE,
    "new_empty": SHAPE, "uniform_": "N? N?", "normal_": "N? N?", "bernoulli_": "N?",
    "exponential_": "N?", "nelement": "", "ndimension": "", "float": "", "double": "",
    "half": "", "long": "", "int": "", "bool": "", "item": "", "tolist": "", "numpy": "",
    "detach": "", "clone": "", "cpu": "", "astype": "dtype",
    "register_hook": "fn", "retain_grad": "", "dim": "", "numel": "", "view_as": "T", "reshape_as": "T", "expand_as": "T",
} | OPERATORS
# Set aside: x.backward(...) on bad input answers from autograd/ (outside this suite's
# fixes; an error from user code inside backward must pass unrenamed): see the report.
NOT_FUZZED = {"backward": "autograd/: x.backward('x') says \"invalid literal for int()\""}
IN_PLACE_OPERATORS = {"__iadd__", "__isub__", "__imul__", "__itruediv__", "__setitem__"}
NO_ORACLE = {"astype", "type", "register_hook", "backward", "retain_grad", "expand_dims",
             "__index__"}
RANDOM = {"uniform_", "normal_", "bernoulli_", "exponential_", "new_empty"}
# Python's own names for what an operator does, as messages say them.
ALIASES = {"__truediv__": ["divide", "div"], "__rtruediv__": ["divide", "div"],
           "__pow__": ["power"], "__rpow__": ["power"], "__and__": ["bitwise_and"],
           "__or__": ["bitwise_or"], "__invert__": ["bitwise_not"], "__lt__": ["less"],
           "__le__": ["less_equal"], "__gt__": ["greater"], "__ge__": ["greater_equal"],
           "__eq__": ["equal"], "__ne__": ["not_equal"], "__neg__": ["negative"],
           "__floordiv__": ["floor_divide", "div"], "__rfloordiv__": ["floor_divide", "div"],
           "__mod__": ["remainder"], "__rmod__": ["remainder"], "__sub__": ["subtract"],
           "__rsub__": ["subtract"], "__mul__": ["multiply"], "__rmul__": ["multiply"],
           "__itruediv__": ["div_", "divide"], "__iadd__": ["add_"], "__isub__": ["sub_"],
           "__imul__": ["mul_"], "__float__": ["item"], "__int__": ["item"],
           "__bool__": ["truth value"], "__index__": ["index"], "__len__": ["len()"],
           "__getitem__": ["getitem", "index"], "__setitem__": ["setitem", "index_put",
                                                              "in-place"],
           "new_zeros": ["new", "zeros"], "new_ones": ["new", "ones"],
           "new_empty": ["new", "empty"], "new_full": ["full"], "new_tensor": ["tensor"],
           "to": ["dtype", "backend"], "type_as": ["astype"], "size": ["size"],
           "fill_": ["fill"], "copy_": ["copy"], "item": ["item()"], "zero_": ["fill_"],
           "register_hook": ["hook"], "backward": ["grad", "gradient"],
           "requires_grad_": ["require gradients"], "astype": ["dtype"],
           "__neg__": ["negative"], "neg_": ["negative"], "negative_": ["negative"],
           "view": ["reshape"], "new_tensor": ["tensor"]}
# Indexing errors are NumPy's own, from tensor.py (outside this suite's fixes): they say
# what was wrong with the index, without a name (x[...] has none to give).
UNNAMED = {"__getitem__", "__setitem__"}


def _receiver_spec(text: str) -> str:
    """A function's spec without its first tensor: the method's own arguments."""
    first, _, rest = text.strip().partition(" ")
    assert first in ("T", "F"), f"{text!r} does not start with a tensor"
    return rest


def method_specs() -> dict:
    specs: dict = {}
    for name in tensor_methods.SAME_AS_FUNCTION:
        spec = FUNCTION_SPECS.get(name)
        if spec is None or name == "where":
            continue
        texts = spec if isinstance(spec, list) else [spec]
        specs[name] = [_receiver_spec(t) for t in texts]
        if name in tensor_methods.IN_PLACE:
            specs[name + "_"] = specs[name]
    for name in tensor_methods.VARARG_SHAPES:
        specs[name] = [SHAPE]
    return specs | {name: [spec] for name, spec in EXTRAS.items()}


SPECS = method_specs()


def test_every_bound_method_is_fuzzed():
    tables = (list(tensor_methods.SAME_AS_FUNCTION) + list(tensor_methods.VARARG_SHAPES)
              + [n + "_" for n in tensor_methods.IN_PLACE if hasattr(mg, n)])
    missing = [n for n in tables if n not in SPECS and n != "expand_dims"]
    assert not missing, f"give these methods a spec: {missing}"


def function_name(name: str) -> str:
    """The mg function a method or operator stands for (``__radd__`` and ``add_``: add)."""
    op = name[2:-2] if name.startswith("__") else name.rstrip("_")
    if name.startswith("__") and op[:1] in "ri" and op[1:] in BINARY:
        op = op[1:]
    return OPERATOR_FUNCTIONS.get(op, op)


OPERATOR_FUNCTIONS = {"truediv": "div", "floordiv": "floor_divide", "mod": "remainder",
                      "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
                      "invert": "bitwise_not",
                      "getitem": "getitem", "setitem": "index_put"}


def op_names(name: str) -> list:
    """The method's names, its function's (and that function's aliases, in mg)."""
    base = function_name(name)
    names = [name, base, getattr(getattr(mg.Tensor, name, None), "__name__", "")]
    if callable(getattr(mg, base, None)):
        fn = getattr(mg, base)
        names += [getattr(fn, "__name__", ""), getattr(fn, "name", "")]
        names += [n for n in mg.__all__ if getattr(mg, n, None) is fn]
    op = name[2:-2] if name.startswith("__") else ""
    return names + ALIASES.get(name, []) + ALIASES.get(f"__{op[1:]}__", [])


def _call(name: str):
    """``receiver.name(...)`` (or the operator), returning the result and the receiver
    (for in-place methods both count)."""
    def call(receiver, *args, **kwargs):
        if name in CALLS:
            return CALLS[name](receiver, *args), receiver
        return getattr(receiver, name)(*args, **kwargs), receiver
    return call


@pytest.mark.parametrize("name", sorted(SPECS))
@given(data=st.data())
@share(4)
def test_method_on_bad_input(name, data):
    spec = data.draw(st.sampled_from([Spec.parse("T " + s) for s in SPECS[name]]), label="spec")
    base = data.draw(st.lists(st.sampled_from([1, 2, 3, 0]), max_size=3).map(tuple))
    receiver = data.draw(tensors(base), label="receiver")
    args, kwargs = data.draw(arguments(Spec(spec.required[1:], spec.optional, spec.keywords,
                                            spec.splat), base), label="arguments")
    args = (receiver,) + args
    label = call_label(f"Tensor.{name}", args, kwargs)
    before = receiver.detach().clone()
    if receiver.requires_grad:
        before.requires_grad_(True)
    ours = restored(lambda: checked(op_names(name), label, _call(name), args, kwargs,
                                    named=name not in UNNAMED))
    if torch is None or name in NO_ORACLE or not (name in CALLS or hasattr(torch.Tensor, name)) \
            or differences.device_mix(args, kwargs):
        return
    in_place = name in IN_PLACE_OPERATORS or name.endswith("_") and \
        not name.startswith("__") and name != "requires_grad_"  # (changes no values)
    # in place, PyTorch starts from the receiver as it was before our call changed it
    start = before if in_place else receiver
    compare_with_torch(function_name(name), spec, (start,) + args[1:], kwargs, ours, label,
                       _call(name), random=name in RANDOM)
