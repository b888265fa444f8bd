"""Helpers the Keras-backed loaders share: custom objects, weights, load errors."""

from __future__ import annotations

from typing import Any, Callable

import custom_layers
from converter.core.errors import BadInput, one_line
from converter.graphs.topology import iter_objects


def custom_objects(keras: Any, topology: dict[str, Any], user_layers: dict[str, type]) -> dict[str, Any]:
    """Every spelling of a known custom layer in `topology`, mapped to a class
    the given Keras can load it with, plus the user's own layers."""
    objects: dict[str, Any] = {spec.name: spec.keras_loader(keras, spec.name) for spec in custom_layers.LAYERS}
    for obj in iter_objects(topology):
        for key in ("class_name", "registered_name"):
            name = obj.get(key)
            spec = custom_layers.find(name) if isinstance(name, str) else None
            if spec is not None:
                objects[name] = spec.keras_loader(keras, name)
    objects.update(user_layers)
    return objects


def layer_weights(model: Any) -> dict[str, list[Any]]:
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def loaded(model: Any, keras2: bool = False):
    """What a Keras loader returns: the weights, the model as the parity
    reference, and the model itself when it is tf_keras (then canonical too)."""
    from converter.backends.keras.runner import KerasRunner
    from converter.sources.loaded import Loaded

    return Loaded(layer_weights(model), KerasRunner(model), model if keras2 else None)


def load_natively(path, loader: Callable[[], Any]) -> Any:
    """Run a Keras loader, turning its failures into one clear line."""
    try:
        return loader()
    except BadInput:
        raise
    except Exception as exc:  # Keras raises ValueError/TypeError/OSError/KeyError alike
        raise BadInput(
            f"Keras could not load the model: {one_line(exc)}",
            path=path,
            hint="check that the file is complete and was saved by Keras; run `srconvert inspect` on it",
        ) from None
