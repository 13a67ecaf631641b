"""Einstein summation, differentiable in every operand.

The subscripts are first brought to a canonical form: the ellipsis spelled out as
letters (aligned from the right), size-1 axes broadcast, and a subscript repeated
inside one operand (``'ii->i'``) taken as a diagonal, by :func:`diagonal`, whose own
gradient puts values back on the diagonal. What remains is an einsum whose operands
each name an axis at most once; the gradient for one operand is then again an
einsum, of the output's gradient with the other operands, broadcast over the axes
only that operand had (they were summed away).
"""
import math
import string
from typing import Any, Optional

from ..primitive import as_input, variadic_primitive
from .shape import broadcast_to
from .structure import diagonal

ELLIPSIS = "..."
OPTIMIZE_FROM = 4096  # elements: below this, planning a contraction order costs more


def _optimize(operands: tuple) -> bool:
    """Ask NumPy/CuPy for a contraction order (and BLAS) when the operands are large."""
    return len(operands) > 1 and max(math.prod(o.shape) for o in operands) >= OPTIMIZE_FROM


def _einsum_grad(xp: Any, g: Any, y: Any, *operands: Any, spec: str, optimize: bool,
                 index: int) -> Any:
    inputs, output = spec.split("->")
    terms = inputs.split(",")
    mine = terms[index]
    others = terms[:index] + terms[index + 1:]
    reached = set(output).union(*others)
    kept = "".join(label for label in mine if label in reached)
    rest = operands[:index] + operands[index + 1:]
    grad = xp.einsum(",".join((output,) + tuple(others)) + "->" + kept, g, *rest,
                     optimize=optimize)
    if kept != mine:  # axes summed away in the forward: the gradient is the same along them
        summed = tuple(i for i, label in enumerate(mine) if label not in reached)
        grad = xp.broadcast_to(xp.expand_dims(grad, summed), operands[index].shape)
    return grad


_einsum = variadic_primitive(
    "einsum", lambda xp, *operands, spec, optimize:
        xp.einsum(spec, *operands, optimize=optimize), _einsum_grad, saves_output=False)


def _parse_term(term: str, subscripts: str) -> list:
    """'a...b' -> ['a', '...', 'b']."""
    labels = []
    rest = term
    while rest:
        if rest.startswith(ELLIPSIS):
            if ELLIPSIS in labels:
                raise ValueError(f"einsum: more than one ellipsis in {term!r} of {subscripts!r}")
            labels.append(ELLIPSIS)
            rest = rest[3:]
        elif rest[0] in string.ascii_letters:
            labels.append(rest[0])
            rest = rest[1:]
        else:
            raise ValueError(f"einsum: invalid subscript {rest[0]!r} in {subscripts!r} "
                             "(use letters a-z, A-Z and '...')")
    return labels


def _implicit_output(terms: list) -> list:
    """NumPy's and PyTorch's rule: the ellipsis axes, then every letter that occurs exactly
    once, in alphabetical (ASCII) order."""
    letters = [label for term in terms for label in term if label != ELLIPSIS]
    once = sorted(label for label in set(letters) if letters.count(label) == 1)
    has_ellipsis = any(ELLIPSIS in term for term in terms)
    return ([ELLIPSIS] if has_ellipsis else []) + once


def einsum(subscripts: str, *operands: Any, optimize: Optional[bool] = None) -> Any:
    """Einstein summation as NumPy's ``einsum`` and PyTorch's: explicit (``'ij,jk->ik'``)
    or implicit output, ellipsis broadcasting, size-1 axes broadcasting, and repeated
    subscripts (diagonals and traces, ``'ii->i'``, ``'ii'``). ``optimize``: plan the
    contraction order (None: when the operands are large)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])  # PyTorch also takes the operands as one list
    if not operands:
        raise ValueError("einsum needs at least one operand")
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: the equation must be a string, got {subscripts!r}")
    operands = tuple(as_input("einsum", o, "an operand") for o in operands)
    spec = subscripts.replace(" ", "")
    if spec.count("->") > 1:
        raise ValueError(f"einsum: {subscripts!r} has more than one '->'")
    lhs, arrow, rhs = spec.partition("->")
    terms = [_parse_term(t, subscripts) for t in lhs.split(",")]
    if len(terms) != len(operands):
        raise ValueError(f"einsum: {subscripts!r} names {len(terms)} operand(s) but "
                         f"{len(operands)} were given")
    output = _parse_term(rhs, subscripts) if arrow else _implicit_output(terms)

    # spell the ellipsis out with unused letters, aligned from the right
    shapes = [tuple(o.shape) for o in operands]
    ellipsis_dims = 0
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term) - (ELLIPSIS in term)
        if len(shape) < named or ELLIPSIS not in term and len(shape) != named:
            raise ValueError(f"einsum: operand {i} has shape {shape} ({len(shape)} "
                             f"dimensions) but {''.join(term)!r} in {subscripts!r} names "
                             f"{named}")
        ellipsis_dims = max(ellipsis_dims, len(shape) - named)
    free = [c for c in string.ascii_letters if c not in spec]
    if ellipsis_dims > len(free):
        raise ValueError(f"einsum: {subscripts!r} needs more than 52 distinct subscripts")
    spelled = free[:ellipsis_dims]

    def expand(term: list, dims: int) -> list:
        if ELLIPSIS not in term:
            return term
        at = term.index(ELLIPSIS)
        return term[:at] + spelled[ellipsis_dims - dims:] + term[at + 1:]

    terms = [expand(t, len(s) - len(t) + (ELLIPSIS in t)) for t, s in zip(terms, shapes)]
    output = expand(output, ellipsis_dims)
    inputs_letters = {label for term in terms for label in term}
    for label in output:
        if output.count(label) > 1:
            raise ValueError(f"einsum: output subscript {label!r} appears more than once "
                             f"in {subscripts!r}")
        if label not in inputs_letters:
            raise ValueError(f"einsum: output subscript {label!r} of {subscripts!r} does not "
                             "appear in any operand")

    # one size per subscript: size-1 axes broadcast, anything else must agree
    sizes: dict = {}
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        for label, n in zip(term, shape):
            known = sizes.get(label, 1)
            if known == 1:
                sizes[label] = n
            elif n not in (1, known):
                name = "an ellipsis axis" if label in spelled else f"subscript {label!r}"
                raise ValueError(f"einsum: {name} has size {known} in one operand and {n} in "
                                 f"operand {i} ({subscripts!r} with shapes {shapes})")

    canonical = []
    for i, (term, x) in enumerate(zip(terms, operands)):
        full = tuple(sizes[label] for label in term)
        if tuple(x.shape) != full:
            x = broadcast_to(x, full)
        while len(set(term)) != len(term):  # a repeated subscript: take that diagonal
            label = next(label for label in term if term.count(label) > 1)
            first = term.index(label)
            second = term.index(label, first + 1)
            x = diagonal(x, 0, first, second)
            term = [t for k, t in enumerate(term) if k not in (first, second)] + [label]
        canonical.append((term, x))
    operands = tuple(x for _, x in canonical)
    spec = ",".join("".join(term) for term, _ in canonical) + "->" + "".join(output)
    if optimize is None:
        optimize = _optimize(operands)
    return _einsum(*operands, spec=spec, optimize=bool(optimize))
