"""Keras HDF5 full models, as written by Keras 2 (tf_keras) or Keras 3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from converter import tf_runtime
from converter.errors import BadInput
from converter.sources import native
from converter.sources.detect import KERAS2_H5, h5_attrs
from converter.sources.loaded import Loaded


def describe(path: Path, fmt: str) -> dict[str, Any]:
    attrs = h5_attrs(path)
    try:
        topology = json.loads(attrs["model_config"])
    except (TypeError, ValueError) as exc:
        raise BadInput(f"the model_config attribute is not valid JSON ({exc})", path=path) from None
    version = str(attrs.get("keras_version")) if "keras_version" in attrs else None
    return {"keras_version": version, "topology": topology}


def load(info, options):
    if info.format == KERAS2_H5:
        keras = tf_runtime.tf_keras()
        objects = native.custom_objects(keras, info.topology, options.user_layers)
        model = native.load_natively(
            info.path,
            lambda: keras.models.load_model(
                info.path, custom_objects=objects, compile=False, safe_mode=not options.allow_lambda
            ),
        )
        return Loaded(native.layer_weights(model), native.keras_call(model), model)
    else:
        keras = tf_runtime.keras3()
        objects = native.custom_objects(keras, info.topology, options.user_layers)
        model = native.load_natively(
            info.path,
            lambda: keras.saving.load_model(
                info.path, custom_objects=objects, compile=False, safe_mode=not options.allow_lambda
            ),
        )
    return Loaded(native.layer_weights(model), native.keras_call(model))
