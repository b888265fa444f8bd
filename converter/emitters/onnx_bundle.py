"""ONNX bundles, exported in-process from the canonical model.

Layers are mapped directly (emitters/onnx_direct) when every one has a
mapping, which covers the super-resolution families; anything else is traced
by tf2onnx, where PixelShuffle reaches it as TF's DepthToSpace (ONNX
DepthToSpace, DCR mode) and MultiplyBeta as a Mul. Batch, height and width
stay dynamic either way, and the result is put in canonical order so the same
model always serialises to the same bytes.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

from converter.core import tf_runtime
from converter.core.errors import Unsupported

FILE_NAME = "model.onnx"
DEFAULT_OPSET = 17
OPSETS = range(13, 19)  # --opset choices. Per-channel DequantizeLinear needs 13; tf2onnx 1.17 writes up to 18
INPUT_NAME = "input"
OUTPUT_NAME = "output"
DIM_NAMES = {"nhwc": ("batch", "height", "width", None), "nchw": ("batch", None, "height", "width")}

EXPORTERS = ("auto", "tf2onnx")
"""--onnx-exporter choices: auto maps the layers directly and falls back to tf2onnx."""


def export(canonical: Any, opset: int = DEFAULT_OPSET, layout: str = "nhwc", exporter: str = "auto") -> Any:
    """The float32 ModelProto, input `input` and output `output` in `layout`.

    `auto` maps the layers directly (onnx_direct) and falls back to tf2onnx for
    a model with anything the direct map does not cover; `tf2onnx` always
    traces. The ModelProto's producer_name says which one wrote it."""
    proto = direct(canonical, opset, layout) if exporter == "auto" else None
    return proto if proto is not None else _finished(_export_tf2onnx(canonical.model(), opset, layout), layout)


def direct(canonical: Any, opset: int = DEFAULT_OPSET, layout: str = "nhwc") -> Any:
    """The direct export, or None where it does not cover the model. Made
    once per canonical form (the input-range probe and the ONNX target both
    read it: pipeline.convert); each caller gets its own copy to rewrite."""
    import onnx

    from converter.emitters import onnx_direct

    key = (opset, layout)
    if key not in canonical.exports:
        try:
            proto = _finished(onnx_direct.export(canonical, opset, layout, INPUT_NAME, OUTPUT_NAME), layout)
        except Unsupported:
            proto = None
        canonical.exports[key] = proto
    if canonical.exports[key] is None:
        return None
    copy = onnx.ModelProto()
    copy.CopyFrom(canonical.exports[key])
    return copy


def _finished(proto: Any, layout: str) -> Any:
    # Same dim_param means same size to onnxruntime: the output's height and
    # width are the input's times the scale, so they get their own names.
    _name_dims(proto.graph.input[0], DIM_NAMES[layout], "")
    _name_dims(proto.graph.output[0], DIM_NAMES[layout], "out_")
    _canonical_order(proto.graph)
    return proto


def exporter_of(proto: Any) -> str:
    return "tf2onnx" if proto.producer_name == TF2ONNX_PRODUCER else "direct"


TF2ONNX_PRODUCER = "srconvert (tf2onnx)"


def _export_tf2onnx(model: Any, opset: int, layout: str) -> Any:
    tf = tf_runtime.tensorflow()
    import tf2onnx

    channels = int(model.inputs[0].shape[-1])
    spec = [tf.TensorSpec([None, None, None, channels], tf.float32, name=INPUT_NAME)]
    output = model.output_names[0]
    extra = {"inputs_as_nchw": [INPUT_NAME], "outputs_as_nchw": [output]} if layout == "nchw" else {}
    try:
        with _optimizer_errors_raise():
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset, **extra)
    except Exception:  # noqa: BLE001 - a tf2onnx optimiser pass that throws (see below): go the safe way
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset, **extra)
    _rename_output(proto, OUTPUT_NAME)
    proto.producer_name = TF2ONNX_PRODUCER
    return proto


@contextlib.contextmanager
def _optimizer_errors_raise():
    """tf2onnx deep-copies the whole graph, weights included, before each of
    its ~50 optimizer passes so it can roll back a pass that throws; on a
    4 M-parameter model that is 3-4 s of a 9 s export. Setting
    TF2ONNX_CATCH_ERRORS (to any value: tf2onnx 1.17 compares the variable's
    name, not its value, with "TRUE") turns the copies off. A pass that throws
    (its transpose pass does on a scalar Add) then fails the export, which is
    retried with tf2onnx's default copy-and-roll-back."""
    key = "TF2ONNX_CATCH_ERRORS"
    previous = os.environ.get(key)
    os.environ[key] = "FALSE"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[key]
        else:
            os.environ[key] = previous


def _canonical_order(graph: Any) -> None:
    """The same model must serialise to the same bytes. tf2onnx emits
    initializers in set order, and names a constant it deduplicated after
    whichever user it met first; both vary with Python's hash seed. Shared
    constants get a name from their content, then everything is sorted."""
    import hashlib

    from onnx import numpy_helper

    users: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1
    renames = {}
    for init in graph.initializer:
        if users.get(init.name, 0) > 1:
            array = numpy_helper.to_array(init)
            digest = hashlib.sha256(f"{array.dtype}{array.shape}".encode() + array.tobytes()).hexdigest()[:16]
            renames[init.name] = f"shared_const_{digest}"
            init.name = renames[init.name]
    if renames:
        for node in graph.node:
            node.input[:] = [renames.get(name, name) for name in node.input]
    _renumber_generated_names(graph)
    for field in (graph.initializer, graph.value_info):
        ordered = sorted(field, key=lambda item: item.name)
        copies = [type(item)() for item in ordered]
        for copy, item in zip(copies, ordered):
            copy.CopyFrom(item)
        del field[:]
        field.extend(copies)


def _rename_output(proto: Any, name: str) -> None:
    old = proto.graph.output[0].name
    if old == name:
        return
    for node in proto.graph.node:
        node.output[:] = [name if out == old else out for out in node.output]
        node.input[:] = [name if inp == old else inp for inp in node.input]
    proto.graph.output[0].name = name


def _name_dims(value: Any, names: tuple[str | None, ...], prefix: str) -> None:
    """Readable dynamic dims (`batch`, `height`, `width`) instead of `unk__12`."""
    dims = value.type.tensor_type.shape.dim
    for dim, name in zip(dims, names):
        if name is not None and not dim.HasField("dim_value"):
            dim.dim_param = name if name == "batch" else prefix + name


_GENERATED = re.compile(r"__(\d+)")


def _renumber_generated_names(graph: Any) -> None:
    """tf2onnx suffixes the names it makes up with a global counter
    (`Shape__314`) whose value depends on what ran before; renumber those
    suffixes by first appearance in node order."""
    numbers: dict[str, str] = {}

    def rename(name: str) -> str:
        return _GENERATED.sub(lambda m: "__" + numbers.setdefault(m.group(1), str(len(numbers) + 1)), name)

    for node in graph.node:
        node.name = rename(node.name)
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    for item in (*graph.initializer, *graph.value_info, *graph.input, *graph.output):
        item.name = rename(item.name)


def write(proto: Any, folder: Path, name: str = FILE_NAME) -> list[Path]:
    import onnx

    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(path))
    return [path]
