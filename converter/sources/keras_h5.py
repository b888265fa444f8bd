"""Keras HDF5 full models, as written by Keras 2 (tf_keras) or Keras 3."""

from __future__ import annotations

from typing import Any

from converter.core import tf_runtime
from converter.core.errors import BadInput
from converter.sources import declared, native, safe_json
from converter.sources.detect import KERAS2_H5, KERAS3_H5, Probe

NAME = "keras-h5"
"""The reader's name in sources.READERS."""
FORMATS = {KERAS2_H5: "Keras 2 (tf_keras) HDF5 full model", KERAS3_H5: "Keras 3 HDF5 full model"}
LIBRARIES = ("h5py",)


def detect(probe: Probe) -> str | None:
    if not probe.is_hdf5 or "model_config" not in probe.h5_attrs:
        return None
    return KERAS3_H5 if str(probe.h5_attrs.get("keras_version", "2")).startswith("3") else KERAS2_H5


def content_bytes(probe: Probe) -> declared.Content:
    path = probe.given
    return declared.Content(declared.hdf5(path), path.stat().st_size)


def describe(probe: Probe, fmt: str, options) -> dict[str, Any]:
    path = probe.given
    attrs = probe.h5_attrs
    if not isinstance(attrs["model_config"], str):
        raise BadInput("the model_config attribute is not text", path=path, hint="re-save the model with Keras")
    topology = safe_json.loads(attrs["model_config"], path, "the model_config attribute")
    if not isinstance(topology, dict):
        raise BadInput("the model_config attribute is not a JSON object", path=path,
                       hint="re-save the model with Keras")
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
        return native.loaded(model, keras2=True)
    else:
        keras = tf_runtime.keras3()
        objects = native.custom_objects(keras, info.topology, options.user_layers)
        model = native.load_natively(
            info.path,
            lambda: keras.saving.load_model(
                info.path, custom_objects=objects, compile=False, safe_mode=not options.allow_lambda
            ),
        )
    return native.loaded(model)
