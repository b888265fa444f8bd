"""The canonical model: one tf_keras model every emitter works from.

Whatever the source (Keras 2 or 3, SavedModel, a TFJS bundle), its fixed
topology is rebuilt in tf_keras with srconvert's own custom layer classes and
given the source's weights. TFJS's layers format is Keras 2's, so this is
also what proves the fixed topology is loadable before any JavaScript runs.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable

import numpy as np

from converter.core import tf_runtime
from converter.core.errors import BadInput, one_line
from converter.passes import KERAS
from converter.sources.h5_weights import short_weight_name


@dataclass
class Canonical:
    """What every emitter works from: the fixed (and optimised) Keras 2
    topology and its weights. The emitters that only write files (TFJS
    layers, the direct ONNX map) never need a Keras model of it; `model()`
    builds one, once, for those that trace (TFJS graph, tf2onnx)."""

    topology: dict[str, Any]
    """`{class_name, config}`, as tf_keras serialises a functional model."""
    weights: dict[str, list[Any]]
    weight_names: dict[str, list[str]]
    """Short names (`kernel`, `bias`) of each layer's weights, in order."""
    input_channels: int
    output_channels: int | None
    """None until a Keras model has been loaded (the direct ONNX map infers it)."""
    input_multiple: int
    user_layers: dict[str, type]
    path: Any
    kind: ClassVar[str] = KERAS
    """The form (passes.KERAS); targets ask this, not the class."""
    built: Any = None
    """The Keras model of exactly this topology and these weights, once one exists."""
    input_size: Any = None
    """A fixed patch size (input_size.InputSize) the model is built for, if any."""
    exports: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """(opset, layout) -> its direct ONNX export, once made (emitters.onnx_bundle.direct);
    not an init field, so a `dataclasses.replace`d form starts without it."""

    def model(self) -> Any:
        if self.built is None:
            self.built = build(self.topology, self.weights, self.user_layers, self.path)
        return self.built

    @property
    def weight_bytes(self) -> int:
        """The bytes the source declares (each artifact is weighed against them)."""
        return source_weight_bytes(self.path)

    @property
    def macs_per_pixel(self) -> float:
        """The work per input pixel, counted in the topology."""
        from converter.graphs import compute

        shapes = {name: [np.shape(value) for value in values] for name, values in self.weights.items()}
        return compute.of_keras(self.topology, shapes).macs_per_pixel

    def named_weights(self) -> list[tuple[str, str, Any]]:
        """(layer, short weight name, value), layers in topology order."""
        return [
            (layer["name"], name, value)
            for layer in self.topology["config"]["layers"]
            for name, value in zip(self.weight_names.get(layer["name"], []), self.weights.get(layer["name"], []))
        ]


def weight_names(model: Any) -> dict[str, list[str]]:
    """Each layer's short weight names, in order."""
    return {layer.name: [short_weight_name(w.name) for w in layer.weights] for layer in model.layers if layer.weights}


def check_finite(layer_weights: dict[str, list[Any]], weight_names: dict[str, list[str]], path) -> None:
    for layer, values in layer_weights.items():
        for index, value in enumerate(values):
            if not np.all(np.isfinite(value)):
                bad = "NaN" if np.isnan(value).any() else "Inf"
                name = (weight_names.get(layer) or [])[index:index + 1] or [str(index)]
                raise BadInput(
                    f"weight {layer}/{name[0]} holds {bad} values",
                    path=path,
                    hint="the checkpoint is corrupt or diverged in training; use another epoch's weights",
                )


@dataclass(frozen=True)
class ModelFacts:
    params: int
    input_channels: int
    scale: int
    input_shape: list[int | None]
    """Batch input shape, e.g. [None, None, None, 3]."""
    input_multiple: int = 1
    """Input height and width must be multiples of this (pixel-unshuffle, strides)."""
    compute: Any = None
    """converter.graphs.compute.Compute: the work it does per input pixel, counted in its graph."""


def build(fixed_topology: dict[str, Any], layer_weights: dict[str, list[Any]], user_layers: dict[str, type], path) -> Any:
    from converter.sources.native import custom_objects

    keras = tf_runtime.tf_keras()
    objects = custom_objects(keras, fixed_topology, user_layers)
    try:
        model = keras.models.model_from_json(json.dumps(fixed_topology), custom_objects=objects)
    except Exception as exc:  # Keras reports unknown classes and bad configs as assorted errors
        raise BadInput(
            f"the topology cannot be rebuilt in Keras: {one_line(exc)}",
            path=path,
            hint="run `srconvert inspect` on it; unknown layers need --custom-layer module:Class",
        ) from None
    if not isinstance(model, keras.Model):  # an unknown class_name that names some other Keras object
        raise BadInput(
            f"the topology is not a Keras model: Keras made a {type(model).__name__} of it",
            path=path,
            hint="the file is damaged, or was not written by Keras: save the model again",
        )
    for layer in model.layers:
        if not layer.weights:
            continue
        values = layer_weights.get(layer.name)
        expected = [tuple(w.shape) for w in layer.weights]
        found = [tuple(np.shape(v)) for v in values or []]
        if found != expected:
            raise BadInput(
                f"layer {layer.name!r} has weights shaped {found or 'nothing'}, its config needs {expected}",
                path=path,
                hint="the weights do not belong to this topology; re-export the model",
            )
        check_finite({layer.name: values}, weight_names(model), path)
        layer.set_weights(values)
    return model


def integer_upscale(size: tuple[int, int], out_size: Any, path: Path | None = None) -> int:
    """The scale a run measured, mapping `size` (height, width) to `out_size`
    (None: not an image): the same whole factor on both sides, else BadInput.
    Keras and ONNX sources are measured by this one rule."""
    height, width = size
    if (out_size is None or out_size[0] % height or out_size[1] % width
            or out_size[0] // height != out_size[1] // width or out_size[0] < height):
        shown = tuple(int(d) for d in out_size) if out_size is not None else "no image"
        raise BadInput(f"the model maps {height}x{width} to {shown}: not an integer upscale", path=path,
                       hint="srconvert converts super-resolution models")
    return int(out_size[0] // height)


def facts(model: Any) -> ModelFacts:
    shape = [None if d is None else int(d) for d in model.inputs[0].shape]
    if len(model.inputs) != 1 or len(model.outputs) != 1 or len(shape) != 4:
        raise BadInput(
            f"the model takes {len(model.inputs)} input(s) shaped {shape} and gives {len(model.outputs)} output(s); "
            "srconvert converts single-image models (one NHWC image in, one out)",
            hint="export just the super-resolution network",
        )
    multiple = input_multiple((type(layer).__name__, layer.get_config()) for layer in model.layers)
    height = shape[1] or 16 * multiple
    width = shape[2] or 16 * multiple
    probe = np.zeros((1, height, width, shape[3]), np.float32)
    out = model(probe, training=False).numpy()
    scale = integer_upscale((height, width), out.shape[1:3] if out.ndim == 4 else None)
    from converter.graphs import compute

    return ModelFacts(
        params=int(model.count_params()),
        input_channels=int(shape[3]),
        scale=scale,
        input_shape=shape,
        input_multiple=multiple,
        compute=compute.of_keras(topology_of(model),
                                 {layer.name: [tuple(w.shape) for w in layer.weights] for layer in model.layers}),
    )


def input_multiple(layers: Iterable[tuple[str, dict[str, Any]]]) -> int:
    """What input sizes must divide by: the product of every downsampling
    step, over (class name, config) pairs."""
    multiple = 1
    for class_name, config in layers:
        if class_name == "PixelUnshuffle":
            multiple *= int(config["scale"])
        strides = config.get("strides")
        if strides and max(strides) > 1 and class_name != "Conv2DTranspose":
            multiple *= int(max(strides))
    return multiple


def facts_from_topology(topology: dict[str, Any], layer_weights: dict[str, list[Any]]) -> ModelFacts | None:
    """What parity needs to know before any Keras model exists (the scale
    comes later, from the model itself); None for a topology this cannot read."""
    layers = topology.get("config", {}).get("layers", [])
    inputs = [layer for layer in layers if layer.get("class_name") == "InputLayer"]
    shape = inputs[0].get("config", {}).get("batch_input_shape") if len(inputs) == 1 else None
    if not isinstance(shape, list) or len(shape) != 4 or not isinstance(shape[3], int):
        return None
    from converter.graphs import compute

    return ModelFacts(
        params=sum(int(np.size(value)) for values in layer_weights.values() for value in values),
        input_channels=shape[3],
        scale=0,
        input_shape=shape,
        input_multiple=input_multiple((layer["class_name"], layer.get("config", {})) for layer in layers),
        compute=compute.of_keras(topology, {name: [np.shape(v) for v in values]
                                            for name, values in layer_weights.items()}),
    )


def topology_of(model: Any) -> dict[str, Any]:
    return json.loads(model.to_json())


def source_weight_bytes(path: Path) -> int:
    """The bytes the source declares its content takes once loaded, as its
    format module reads them for the memory budget (metadata only)."""
    stat = Path(path).stat()
    return _declared(Path(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _declared(path: Path, mtime_ns: int, size: int) -> int:
    # Once per source and run, not per artifact: an ONNX source is parsed for it.
    from converter import sources
    from converter.sources import detect

    fmt, content = sources.declared_content(path)
    if fmt != detect.ONNX:
        return content.loaded
    # An ONNX file's `loaded` counts the parsed graph too, which holds inline
    # weights a second time: count the tensors alone.
    from converter.graphs.onnx_graph import tensor_bytes
    from converter.sources.onnx_import import graph

    return tensor_bytes(graph.parse(path))
