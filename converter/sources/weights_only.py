"""Keras weights-only HDF5 files (ISR publishes its networks this way): the
family is detected from layer names and weight shapes, every hyperparameter
inferred from the shapes, and the network rebuilt with srconvert's layers.

`describe` reads the weights and names the family (h5py only); the network
is built in tf_keras when it is loaded.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from converter import architectures
from converter.core import tf_runtime
from converter.sources import declared, h5_weights
from converter.sources.detect import WEIGHTS_ONLY, Probe
from converter.sources.loaded import Loaded

NAME = "weights-only"
"""The reader's name in sources.READERS."""
FORMATS = {WEIGHTS_ONLY: "Keras weights-only HDF5 (architecture rebuilt from a known family)"}
LIBRARIES = ("h5py",)


def detect(probe: Probe) -> str | None:
    attrs = probe.h5_attrs if probe.is_hdf5 else {}
    return WEIGHTS_ONLY if "layer_names" in attrs and "model_config" not in attrs else None


def content_bytes(probe: Probe) -> declared.Content:
    path = probe.given
    return declared.Content(declared.hdf5(path), path.stat().st_size)


def describe(probe: Probe, fmt: str, options) -> dict[str, Any]:
    path = probe.given
    index, arrays = read(path)
    family, params = architectures.resolve(index, options.arch, options.arch_params)
    return {
        "keras_version": None,
        "topology": None,
        "payload": (family, params, arrays),
        "architecture": {"family": family.name, "params": dataclasses.asdict(params)},
        "input_channels": 3,
    }


def read(path: Path) -> tuple[architectures.WeightsIndex, dict[str, list[Any]]]:
    """A Keras 2 `save_weights` HDF5 file: `layer_names`, then per layer its
    `weight_names` in weight order; indexed by shape for family detection."""
    arrays, _ = h5_weights.read(path)
    return architectures.WeightsIndex({layer: [a.shape for a in values] for layer, values in arrays.items()},
                                      str(path)), arrays


def derive_topology(info) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The family's network in tf_keras, as topology JSON, and the file's weights."""
    family, params, arrays = info.payload
    model = family.build(tf_runtime.tf_keras(), params, name=family.name)
    return json.loads(model.to_json()), arrays


def load(info, options):
    topology, arrays = derive_topology(info)
    return Loaded(arrays, None, topology=topology)
