"""TensorFlow.js bundles: a layers model (needs custom-layers.js) or a graph
model (needs nothing), each written in every precision from one in-memory
model.

A layers model needs no TensorFlow: its topology and weights come from the
canonical form (the HDF5 holds both), and `write` shards and quantizes as
tensorflowjs's writer does (weight order, 4 MiB shards, file names,
manifest fields), so the shards are byte for byte what
`tensorflowjs_converter` writes (tests/test_tfjs_writer.py holds it to
that). A graph model is traced by TensorFlow and converted by tensorflowjs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

import custom_layers
from converter.core import tf_runtime
from converter.emitters import tfjs_lean
from converter.forms.keras_model import Canonical

# 4 MiB is the largest file every major browser caches; tensorflowjs's default.
SHARD_BYTES = 4 * 1024 * 1024
LAYERS_MODEL_FORMAT = "layers-model"  # tensorflowjs.converters.common.TFJS_LAYERS_MODEL_FORMAT
# What tensorflowjs stores a weight of another dtype as (write_weights._AUTO_DTYPE_CONVERSION).
STORED_AS = {np.dtype(np.float16): np.float32, np.dtype(np.float64): np.float32, np.dtype(np.int64): np.int32,
             np.dtype(np.complex128): np.complex64}
STRING_LENGTH = np.dtype("<u4")  # tensorflowjs.read_weights.STRING_LENGTH_DTYPE: a string's byte count before it


@dataclass
class TfjsModel:
    kind: str
    document: dict[str, Any]
    """model.json without its weightsManifest."""
    weights: list[dict[str, Any]]
    """One weight group: `{name, data}` entries in the order TFJS reads them."""


def layers_model(canonical: Canonical) -> TfjsModel:
    """Written from the canonical topology and weights, as
    tensorflowjs_converter writes an HDF5 file's: no Keras model needed."""
    custom = {spec.name for spec in custom_layers.LAYERS} | set(canonical.user_layers)
    topology = tfjs_lean.topology(canonical.topology, custom)  # fixed already (forms.keras_form)
    # The versions tensorflowjs_converter stamps (tf_keras's, its own), read
    # without importing either: importing them starts TensorFlow.
    keras_version = metadata.version("tf_keras")
    topology = {
        "class_name": topology["class_name"],
        "config": topology["config"],
        "keras_version": keras_version,
        "backend": "tensorflow",
    }
    weights = [{"name": f"{layer}/{name}", "data": value} for layer, name, value in canonical.named_weights()]
    document = {
        "format": LAYERS_MODEL_FORMAT,
        "generatedBy": f"keras v{keras_version}",
        "convertedBy": f"srconvert (TensorFlow.js Converter v{metadata.version('tensorflowjs')})",
        "modelTopology": topology,
    }
    return TfjsModel("layers", document, weights)


def graph_model(model: Any) -> TfjsModel:
    """A Keras model as a graph model, at any input size."""
    return function_graph_model(lambda x: model(x, training=False), [None, None, None, int(model.inputs[0].shape[-1])],
                                keep=model)


def function_graph_model(fn: Any, input_shape: list[int | None], keep: Any = None) -> TfjsModel:
    """`fn` (NHWC image -> NHWC image) traced once at `input_shape` through a
    SavedModel and tensorflowjs's graph converter (grappler-optimised,
    float32), then read back for re-quantization. `keep`: an object whose
    variables `fn` reads."""
    tf = tf_runtime.tensorflow()
    tf_runtime.tensorflowjs()
    from tensorflowjs import read_weights
    from tensorflowjs.converters import tf_saved_model_conversion_v2 as graph_converter

    # No autograph: `fn` has no tensor-dependent control flow to convert, and
    # autograph would wrap srconvert's own errors (BadInput) in StagingError.
    @tf.function(input_signature=[tf.TensorSpec(input_shape, tf.float32, name="input")], autograph=False)
    def serve(x):
        return {"output": fn(x)}

    with tempfile.TemporaryDirectory(prefix="srconvert-graph-") as tmp:
        saved, converted = Path(tmp, "saved"), Path(tmp, "tfjs")
        module = tf.Module()
        module.model = keep
        tf.saved_model.save(module, str(saved), signatures={"serving_default": serve})
        with _rank1_bias_adds_only():
            graph_converter.convert_tf_saved_model(str(saved), str(converted))
        document = json.loads((converted / "model.json").read_text())
        weights = read_weights.read_weights(document.pop("weightsManifest"), str(converted), flatten=True)
    document["convertedBy"] = f"srconvert ({document.get('convertedBy')})"
    return TfjsModel("graph", document, _one_constant_per_value(document["modelTopology"], weights))


MIN_SHARED_FLOATS = 8
MIN_SHARED_ELEMENTS = 1024
"""Only weights are merged (float tensors of a few values up, kernels and
biases; any tensor of 1,024 values up); the shape and index constants stay
one per node. Merged, they broke TF.js's WebGPU backend on SwinIR (its window
roll concatenated wrong shapes: "Error in concat4D"), for a reason not pinned
down."""


def _weight_like(data: np.ndarray) -> bool:
    return data.size >= (MIN_SHARED_FLOATS if data.dtype.kind == "f" else MIN_SHARED_ELEMENTS)


def _one_constant_per_value(graph: dict[str, Any], weights: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The graph's constants of equal dtype, shape and bytes as one, read by
    every node that read any of them. Freezing makes each read of a variable
    its own constant (a Keras layer called 400 times reads its kernel 400
    times), and a graph traced from ONNX one per node reading an
    initializer: kept apart, a shared kernel is written once per use."""
    consts = {node["name"] for node in graph.get("node", []) if node.get("op") == "Const"}  # not a function's
    first: dict[tuple[Any, ...], str] = {}
    renamed: dict[str, str] = {}
    for entry in weights:
        data = entry["data"]
        if entry["name"] not in consts or data.dtype.kind not in "fiub" or not _weight_like(data):
            continue
        key = (data.dtype.str, data.shape, hashlib.sha256(np.ascontiguousarray(data).tobytes()).digest())
        kept = first.setdefault(key, entry["name"])
        if kept != entry["name"]:
            renamed[entry["name"]] = kept
    if not renamed:
        return weights
    graph["node"] = [node for node in graph["node"] if node["name"] not in renamed]
    for node in graph["node"]:
        if "input" in node:
            node["input"] = [_input_renamed(ref, renamed) for ref in node["input"]]
    return [entry for entry in weights if entry["name"] not in renamed]


def _input_renamed(ref: str, renamed: dict[str, str]) -> str:
    """A node input (`name`, `name:1` or control `^name`) with its node renamed."""
    control = "^" if ref.startswith("^") else ""
    name, colon, port = ref[len(control):].partition(":")
    return control + renamed.get(name, name) + colon + port


@contextlib.contextmanager
def _rank1_bias_adds_only():
    """tensorflowjs's normalize_bias_add turns every Add/AddV2 whose first
    input is a single-consumer Conv2D/DepthwiseConv2dNative/MatMul into a
    BiasAdd without looking at the second input, so grappler's remapper then
    fuses a whole feature map in as the "bias" of a _FusedConv2D, which the
    TF.js wasm backend rejects ("FusedConv2D only supports rank-1 bias but got
    rank 4"). A Conv2D feeds an Add directly when it has no bias, or when its
    bias is all zeros (an untrained ISR RRDN's post_blocks_conv, whose output
    is GRL's first input): grappler's constant folding drops a zero BiasAdd
    before that pass runs. Keep such Adds as Adds unless the other input is a
    rank-1 constant."""
    from tensorflowjs.converters import normalize_bias_add

    original = normalize_bias_add.normalize_bias_add_op

    def guarded(graph_def):
        adds = {node.name for node in graph_def.node if node.op in ("Add", "AddV2")}
        graph_def = original(graph_def)
        nodes = {node.name: node for node in graph_def.node}
        for node in graph_def.node:
            if node.name in adds and node.op == "BiasAdd" and not _rank1_const(nodes, node.input[1]):
                node.op = "AddV2"
                del node.attr["data_format"]
        return graph_def

    normalize_bias_add.normalize_bias_add_op = guarded
    try:
        yield
    finally:
        normalize_bias_add.normalize_bias_add_op = original


def _rank1_const(nodes: dict[str, Any], name: str) -> bool:
    node = nodes.get(name.lstrip("^").split(":")[0])
    while node is not None and node.op == "Identity":
        node = nodes.get(node.input[0].split(":")[0])
    return node is not None and node.op == "Const" and len(node.attr["value"].tensor.tensor_shape.dim) == 1


def write(model: TfjsModel, precision: str, out_dir: Path, quantize: Callable | None = None,
          shard_bytes: int = SHARD_BYTES) -> list[Path]:
    """Write model.json and its shards for one precision; return the files.

    As tensorflowjs's `write_weights` does: every weight's bytes in the
    model's order, each float32 one quantized to `precision` by
    `quantize(data, precision) -> (stored, metadata)` (quantizers.tfjs_weights;
    needed for any precision but float32), the others kept, concatenated and
    cut into `shard_bytes` files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    specs, chunks = [], []
    for entry in model.weights:
        data = np.asarray(entry["data"])
        data = data.astype(STORED_AS[data.dtype]) if data.dtype in STORED_AS else data
        spec = {"name": entry["name"], "shape": list(data.shape), "dtype": _dtype_name(data)}
        if precision != "float32" and data.dtype == np.float32:
            data, quantization = quantize(data, precision)
            spec["quantization"] = {"dtype": data.dtype.name, **quantization, "original_dtype": "float32"}
        specs.append(spec)
        chunks.append(_string_bytes(data) if data.dtype == object else data.tobytes())
    group = b"".join(chunks)
    count = -(-len(group) // shard_bytes)
    shards = []
    for index in range(count):
        shard = out_dir / f"group1-shard{index + 1}of{count}.bin"
        shard.write_bytes(group[index * shard_bytes:(index + 1) * shard_bytes])
        shards.append(shard)
    manifest = [{"paths": [shard.name for shard in shards], "weights": specs}]
    document = {**model.document, "weightsManifest": tfjs_lean.weights_manifest(manifest)}
    model_json = out_dir / "model.json"
    model_json.write_text(json.dumps(document, sort_keys=True, separators=(",", ":")), encoding="utf-8")
    return [model_json, *shards]


def _dtype_name(data: np.ndarray) -> str:
    return "string" if data.dtype == object else data.dtype.name


def _string_bytes(data: np.ndarray) -> bytes:
    """A string tensor as TF.js reads one: each value's UTF-8 bytes after
    their length as a little-endian uint32."""
    encoded = [value if isinstance(value, bytes) else value.encode("utf-8") for value in data.flatten().tolist()]
    return b"".join(np.array(len(value), STRING_LENGTH).tobytes() + value for value in encoded)
