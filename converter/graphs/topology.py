"""Walking Keras model configs (the JSON a Keras file and a TFJS model.json hold).

Pure JSON: nothing here imports TensorFlow, so `inspect` and the fixes stay light.
"""

from __future__ import annotations

from typing import Any, Iterator

# Layer classes TensorFlow.js 4.22 can deserialise (from tfjs-layers' registry).
# A layers-model bundle may only use these, plus the registered custom layers.
TFJS_LAYER_CLASSES = frozenset(
    """Activation Add AlphaDropout Average AveragePooling1D AveragePooling2D
    AveragePooling3D BatchNormalization Bidirectional CategoryEncoding CenterCrop
    Concatenate Conv1D Conv2D Conv2DTranspose Conv3D Conv3DTranspose ConvLSTM2D
    Cropping2D Dense DepthwiseConv2D Dot Dropout ELU Embedding Flatten Functional
    GRU GaussianDropout GaussianNoise GlobalAveragePooling1D GlobalAveragePooling2D
    GlobalMaxPooling1D GlobalMaxPooling2D InputLayer LSTM LayerNormalization
    LeakyReLU Masking MaxPooling1D MaxPooling2D MaxPooling3D Maximum Minimum Model
    Multiply PReLU Permute RNN RandomWidth ReLU RepeatVector Rescaling Reshape
    Resizing SeparableConv2D Sequential SimpleRNN Softmax SpatialDropout1D
    ThresholdedReLU TimeDistributed UpSampling2D ZeroPadding2D""".split()
)

MODEL_CLASSES = frozenset({"Functional", "Model", "Sequential"})


def model_config(topology: dict[str, Any]) -> dict[str, Any]:
    """The `{class_name, config}` model object inside any wrapper.

    TFJS `modelTopology` is either that object or, from older converters,
    `{keras_version, backend, model_config: {...}}`.
    """
    return topology.get("model_config", topology)


def malformed(topology: Any) -> str | None:
    """What makes a topology read from a file unlike any Keras writes, or
    None: the shape every reader of it relies on (a model object with a
    class name, its layers a list of such objects, configs objects), checked
    once where it enters so that nothing later trips on a damaged file."""
    if not isinstance(topology, dict):
        return "the topology is not a JSON object"
    model = model_config(topology)
    pending: list[tuple[str, Any]] = [("the model", model)]
    while pending:
        where, item = pending.pop()
        if not isinstance(item, dict):
            return f"{where} is not a JSON object"
        if not isinstance(item.get("class_name"), str):
            return f"{where} has no class_name"
        config = item.get("config")
        if not isinstance(config, dict):  # Keras writes one for every model and layer, and every reader reads it
            return f"{where} has no config object"
        layers = config.get("layers", [])
        if layers is not None and not isinstance(layers, list):
            return f"{where}'s layers are not a list"
        name = config.get("name", item.get("class_name"))
        for key in GEOMETRY:
            if key in config and not _positive_integers(config[key]):
                return f"{name}'s {key} is {str(config[key])[:40]}, not positive integers"
        pending += [(f"layer {index} of {name}", layer) for index, layer in enumerate(layers or [])]
    return next(filter(None, (_unconnected(nested) for nested in iter_models(model))), None)


def _unconnected(model: dict[str, Any]) -> str | None:
    """Why tf_keras could not connect a functional model's layers, or None.

    Its rebuild (tf_keras/src/engine/functional.py, reconstruct_from_config)
    puts back a call whose input does not exist yet and retries it until it
    does, with no end: a call reading a layer the model does not have, a
    call of a layer that is never made, or calls waiting on each other would
    spin forever. A layer's calls are its `inbound_nodes`; an InputLayer has
    its one call without any, and Keras 2 numbers a nested model's calls
    from 1 (`first_call`)."""
    config = model["config"]  # malformed() has checked that every model and layer has one
    layers = config.get("layers") or []
    if not any("inbound_nodes" in layer for layer in layers):
        return None  # a Sequential model: its layers are chained in order
    where = config.get("name", model["class_name"])
    keras3 = keras3_calls(layers)
    names = [layer.get("name", layer["config"].get("name")) for layer in layers]
    calls: dict[str, tuple[int, int]] = {}  # layer name -> (calls made, the number of its first)
    for name, layer in zip(names, layers):
        nodes = layer.get("inbound_nodes") or []
        if not isinstance(name, str) or not isinstance(nodes, list):
            return f"a layer of {where} has no name or its calls are not a list"
        if name in calls:
            return f"{where} has two layers named {name!r}"
        made = 1 if layer["class_name"] == "InputLayer" else len(nodes)
        calls[name] = (made, 0 if keras3 else first_call(layer))
    waits: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for name, layer in zip(names, layers):
        for call, node in enumerate(layer.get("inbound_nodes") or []):
            waits[(name, call)] = []
            for ref in inbound_refs(node):
                if not (isinstance(ref, list) and len(ref) >= 3 and isinstance(ref[0], str)
                        and all(_index(i) for i in ref[1:3])):
                    return f"call {call} of {name!r} reads {str(ref)[:60]}, not [layer, call, tensor]"
                if ref[0] == CONSTANT:
                    continue
                if ref[0] not in calls:
                    return f"{name!r} reads from {ref[0]!r}, which {where} does not have"
                made, first = calls[ref[0]]
                if not first <= ref[1] < first + made:
                    return f"{name!r} reads call {ref[1]} of {ref[0]!r}, whose calls are {first}-{first + made - 1}"
                waits[(name, call)].append((ref[0], ref[1] - first))
    return _loop(waits)


def keras3_calls(layers: list[dict[str, Any]]) -> bool:
    """Whether a model's calls are written as Keras 3 writes them ({args, kwargs}), not Keras 2's lists."""
    return any(isinstance(node, dict) for layer in layers for node in layer.get("inbound_nodes") or [])


def first_call(layer: dict[str, Any]) -> int:
    """The number Keras 2 gives a layer's first call in a file: a nested
    model built on an Input keeps call 0, its own, out of the file
    (tf_keras/src/engine/functional.py, _should_skip_first_node)."""
    config = layer["config"]
    if "layers" not in config:
        return 0
    if layer["class_name"] != "Sequential":
        return 1
    first = (config.get("layers") or [{}])[0]
    return int(isinstance(first, dict) and first.get("class_name") == "InputLayer")


CONSTANT = "_CONSTANT_VALUE"
"""tf_keras's name for a constant argument in a call's inputs (no layer, call -1)."""


def _index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= -1


def _loop(waits: dict[tuple[str, int], list[tuple[str, int]]]) -> str | None:
    """A call that waits, directly or not, on itself, or None (Kahn's
    order: a call is ready once every call it reads is; one never ready is
    in a loop or waits on one)."""
    missing = {key: sum(dep in waits for dep in deps) for key, deps in waits.items()}
    readers: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for key, deps in waits.items():
        for dep in deps:
            readers.setdefault(dep, []).append(key)
    ready = [key for key, count in missing.items() if count == 0]
    while ready:
        for reader in readers.get(ready.pop(), []):
            missing[reader] -= 1
            if missing[reader] == 0:
                ready.append(reader)
    stuck = sorted(key for key, count in missing.items() if count > 0)
    return f"call {stuck[0][1]} of {stuck[0][0]!r} waits on its own output" if stuck else None


def inbound_refs(node: Any) -> list[Any]:
    """What one call (an entry of a layer's `inbound_nodes`) reads, as
    written: Keras 2's `[layer, call, tensor(, kwargs)]` lists, or the
    `keras_history` of each Keras 3 tensor in its args."""
    if isinstance(node, dict):
        return tensor_histories(node.get("args", []))
    return list(node) if isinstance(node, list) else [node]


def tensor_histories(value: Any) -> list[Any]:
    """The `keras_history` (`[layer, call, tensor]`) of every Keras 3 tensor in call arguments."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            config = value.get("config")
            return [config.get("keras_history") if isinstance(config, dict) else None]
        return [history for item in value.values() for history in tensor_histories(item)]
    if isinstance(value, list):
        return [history for item in value for history in tensor_histories(item)]
    return []


GEOMETRY = ("kernel_size", "strides", "dilation_rate", "size", "pool_size")
"""Layer settings that are counts of pixels: every reader divides or multiplies by them."""


def _positive_integers(value: Any) -> bool:
    """An int > 0, or a list (or tf_keras's {"class_name": "__tuple__", "items": [...]}) of them."""
    if isinstance(value, dict):
        value = value.get("items")
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in items)


def iter_layers(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every layer object, depth first, including those of nested models."""
    for layer in model.get("config", {}).get("layers", []) or []:
        yield layer
        if layer.get("class_name") in MODEL_CLASSES or "layers" in layer.get("config", {}):
            yield from iter_layers(layer)


def iter_models(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The model object and every nested model object."""
    yield model
    for layer in iter_layers(model):
        if "layers" in layer.get("config", {}):
            yield layer


def iter_objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON value, depth first (layers, initialisers, policies...)."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from iter_objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_objects(item)


def input_shape(model: dict[str, Any]) -> list[int | None] | None:
    """The batch input shape of the first InputLayer, either Keras spelling."""
    for layer in iter_layers(model):
        if layer.get("class_name") == "InputLayer":
            config = layer.get("config", {})
            shape = config.get("batch_input_shape") or config.get("batch_shape")
            if isinstance(shape, dict):  # tf_keras SavedModel metadata: {"class_name": "__tuple__", "items": [...]}
                shape = shape.get("items")
            return list(shape) if shape is not None else None
    return None
