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
        config = item.get("config", {})
        if not isinstance(config, dict):
            return f"{where}'s config is not a JSON object"
        layers = config.get("layers", [])
        if layers is not None and not isinstance(layers, list):
            return f"{where}'s layers are not a list"
        name = config.get("name", item.get("class_name"))
        for key in GEOMETRY:
            if key in config and not _positive_integers(config[key]):
                return f"{name}'s {key} is {str(config[key])[:40]}, not positive integers"
        pending += [(f"layer {index} of {name}", layer) for index, layer in enumerate(layers or [])]
    return None


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
            config = layer["config"]
            shape = config.get("batch_input_shape") or config.get("batch_shape")
            if isinstance(shape, dict):  # tf_keras SavedModel metadata: {"class_name": "__tuple__", "items": [...]}
                shape = shape.get("items")
            return list(shape) if shape is not None else None
    return None
