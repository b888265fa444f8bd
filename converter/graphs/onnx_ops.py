"""The one registry of the ONNX ops srconvert translates, and what each
becomes: in the Keras rebuild (sources/onnx_import/translate.py: a layer
of its own, a step of a pixel-(un)shuffle chain, or a shape computation
folded to a constant) and in the TF graph translation
(emitters/onnx_to_tf.py), with the inputs that translation needs constant.

What a source can become is asked here, of the graph alone, before any
work: the plan, the TF.js target and `inspect` read these verdicts without
importing a translation. Each translation's handler table is checked
against this registry when it loads (`check`), so the two never drift, and
README's op tables are checked against the handlers (tests/test_op_tables.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from converter.core.registry import Registry
from converter.graphs import onnx_graph

LAYER, MOVEMENT, SHAPE = "layer", "movement", "shape"
"""How the Keras rebuild takes an op: as a layer of its own, inside a chain
identified as pixel (un)shuffle by the values it moves, or computed only
from the input's size and constants (folded to a constant at the probe)."""


@dataclass(frozen=True)
class Op:
    name: str
    keras: tuple[str, ...] = ()
    """How the Keras rebuild takes it (LAYER, MOVEMENT, SHAPE); () not at all."""
    tf: bool = False
    """The TF graph translation writes it."""
    constant: tuple[int, ...] = ()
    """Inputs the TF graph translation needs constant (weights, kernel sizes,
    split sizes, axes): one computed from the input's size keeps the graph
    from taking a free size."""


OPS: Registry[Op] = Registry("ONNX op", (
    Op("Abs", keras=("shape",), tf=True),
    Op("Add", keras=("layer", "shape"), tf=True),
    Op("AveragePool", tf=True),
    Op("BatchNormalization", tf=True, constant=(1, 2, 3, 4)),
    Op("Cast", keras=("shape",), tf=True),
    Op("Ceil", keras=("shape",)),
    Op("Clip", keras=("layer",), tf=True, constant=(1, 2)),
    Op("Concat", keras=("layer", "shape"), tf=True),
    Op("Constant", keras=("shape",)),
    Op("ConstantOfShape", keras=("shape",), tf=True),
    Op("Conv", keras=("layer",), tf=True, constant=(1, 2)),
    Op("ConvTranspose", keras=("layer",)),
    Op("DepthToSpace", keras=("layer",), tf=True),
    Op("Div", keras=("layer", "shape"), tf=True),
    Op("Dropout", keras=("layer",), tf=True),
    Op("Einsum", tf=True),
    Op("Elu", tf=True),
    Op("Equal", keras=("shape",), tf=True),
    Op("Erf", tf=True),
    Op("Exp", tf=True),
    Op("Expand", keras=("shape",), tf=True),
    Op("Flatten", keras=("movement",), tf=True),
    Op("Floor", keras=("shape",)),
    Op("Gather", keras=("shape",), tf=True, constant=(1,)),
    Op("Gelu", tf=True),
    Op("Gemm", tf=True),
    Op("GlobalAveragePool", tf=True),
    Op("GlobalMaxPool", tf=True),
    Op("HardSigmoid", tf=True),
    Op("Identity", keras=("layer", "shape"), tf=True),
    Op("InstanceNormalization", tf=True, constant=(1, 2)),
    Op("LayerNormalization", tf=True),
    Op("LeakyRelu", keras=("layer",), tf=True),
    Op("Log", tf=True),
    Op("MatMul", tf=True),
    Op("Max", keras=("shape",), tf=True),
    Op("MaxPool", tf=True),
    Op("Min", keras=("shape",), tf=True),
    Op("Mod", tf=True),
    Op("Mul", keras=("layer", "shape"), tf=True),
    Op("Neg", keras=("shape",), tf=True),
    Op("Not", tf=True),
    Op("PRelu", keras=("layer",), tf=True),
    Op("Pad", keras=("layer",), tf=True, constant=(2, 3)),
    Op("Pow", tf=True, constant=(1,)),
    Op("Range", keras=("shape",), tf=True),
    Op("Reciprocal", tf=True),
    Op("ReduceL2", tf=True, constant=(1,)),
    Op("ReduceMax", tf=True, constant=(1,)),
    Op("ReduceMean", tf=True, constant=(1,)),
    Op("ReduceMin", tf=True, constant=(1,)),
    Op("ReduceProd", keras=("shape",)),
    Op("ReduceSum", tf=True, constant=(1,)),
    Op("Relu", keras=("layer",), tf=True),
    Op("Reshape", keras=("movement", "shape"), tf=True),
    Op("Resize", keras=("layer",), tf=True, constant=(1, 2)),
    Op("ScatterND", tf=True),
    Op("Shape", keras=("shape",), tf=True),
    Op("Sigmoid", keras=("layer",), tf=True),
    Op("Size", keras=("shape",), tf=True),
    Op("Slice", keras=("shape",), tf=True, constant=(3, 4)),
    Op("Softmax", tf=True),
    Op("Softplus", tf=True),
    Op("SpaceToDepth", keras=("layer",), tf=True),
    Op("Split", tf=True, constant=(1,)),
    Op("Sqrt", keras=("shape",), tf=True),
    Op("Squeeze", keras=("movement", "shape"), tf=True, constant=(1,)),
    Op("Sub", keras=("layer", "shape"), tf=True),
    Op("Sum", tf=True),
    Op("Tanh", keras=("layer",), tf=True),
    Op("Tile", tf=True, constant=(1,)),
    Op("TopK", tf=True, constant=(1,)),
    Op("Transpose", keras=("movement",), tf=True),
    Op("Unsqueeze", keras=("movement", "shape"), tf=True, constant=(1,)),
    Op("Upsample", keras=("layer",), tf=True, constant=(1,)),
    Op("Where", keras=("shape",), tf=True),
))


def handled(keras: str | None = None, tf: bool = False) -> frozenset[str]:
    """The ops the Keras rebuild takes as `keras` (any way, with "*"), or,
    with `tf`, those the TF graph translation writes."""
    if tf:
        return frozenset(op.name for op in OPS if op.tf)
    return frozenset(op.name for op in OPS if op.keras and (keras == "*" or keras in op.keras))


def check(table: Iterable[str], keras: str | None = None, tf: bool = False) -> None:
    """A translation's handler table is this registry's: raised at import
    (ImportError) when one handles an op the registry does not list for it,
    or lists one it does not handle."""
    have, declared = frozenset(table), handled(keras, tf)
    if have != declared:
        raise ImportError(f"the handler table and graphs.onnx_ops differ: handled, not declared "
                          f"{sorted(have - declared)}; declared, not handled {sorted(declared - have)}")


def unsupported(nodes: Any, supported: Iterable[str]) -> list[str]:
    """`OpType (node name)` for each of `nodes` whose op is not in `supported`
    (or is in another domain than ONNX's own): how refusals name them."""
    supported = frozenset(supported)
    return [f"{node.op_type} ({node.name or node.output[0]})" for node in nodes
            if node.op_type not in supported or node.domain not in ("", "ai.onnx")]


def keras_blockers(model: Any) -> list[str]:
    """Every node the Keras rebuild has no translation for."""
    return unsupported(model.graph.node, handled("*"))


def tf_blockers(model: Any, fixed_size: bool = False) -> list[str]:
    """Every node on the image's path the TF graph translation has no
    handler for. With `fixed_size`, what is computed from the input's shape
    alone is a constant, evaluated by onnx's reference implementation of any op."""
    image = onnx_graph.image_path(model, through_shape=not fixed_size)
    return unsupported([n for n in model.graph.node if any(o in image for o in n.output)], handled(tf=True))


def free_size_blockers(model: Any) -> list[str]:
    """Every node that keeps the TF graph from being written at a free size:
    one without a handler, or one whose input that must be a constant
    (`Op.constant`) is computed from the input's size. [] means the TF.js
    graph can take every size the source takes."""
    reached = onnx_graph.image_path(model, through_shape=True)
    constant = {op.name: op.constant for op in OPS if op.constant}
    blocked = [f"{n.op_type} ({n.name or '?'})" for n in model.graph.node
               if any(n.input[k] in reached for k in constant.get(n.op_type, ()) if k < len(n.input))]
    return tf_blockers(model, fixed_size=False) + blocked


# `b h i d, b h j d -> b h i j` and friends: attention's two products, which
# TF.js runs as batched matrix products (its einsum covers fewer equations).
_MATMUL_EINSUM = re.compile(r"^(\w*)(\w)(\w),(\w*)(\w)(\w)->(\w*)(\w)(\w)$")


def einsum_as_matmul(equation: str, operands: int) -> bool | None:
    """For an Einsum that is a batched matrix product, whether its second
    operand is transposed; None for any other equation."""
    match = _MATMUL_EINSUM.match(equation.replace(" ", ""))
    if match and operands == 2:
        batch_a, i, k, batch_b, p, q, batch_out, r, c = match.groups()
        if batch_a == batch_b == batch_out and i == r and len({i, k, c}) == 3:
            if (p, q) == (k, c):  # ...ik,...kc->...ic
                return False
            if (p, q) == (c, k):  # ...ik,...ck->...ic
                return True
    return None


def tf_kernels(model: Any) -> dict[str, str]:
    """The TF.js kernels the graph model of `model` needs beyond the ops
    every backend runs, each with the first node that needs it: what a
    target checks against the kernels its runtimes lack, before any work."""
    needed: dict[str, str] = {}
    for node in model.graph.node:
        if node.op_type == "Einsum":
            equation = next((a.s.decode() for a in node.attribute if a.name == "equation"), "")
            if einsum_as_matmul(equation, len(node.input)) is None:
                needed.setdefault("Einsum", f"{node.name or node.output[0]} ({equation})")
    return needed
