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
