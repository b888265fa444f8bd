"""Weights of a Keras 2 HDF5 file read with h5py alone: no TensorFlow.

Both `model.save` (weights under `model_weights`) and `save_weights` files
keep, per layer, a `weight_names` attribute in the layer's weight order. This
is how tensorflowjs_converter reads them too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from converter.sources import declared


def short_weight_name(name: str) -> str:
    """`conv2d/kernel:0` -> `kernel`: TFJS names weights `<layer>/<short name>`."""
    return name.split(":")[0].rsplit("/", 1)[-1]


def read(path: Path) -> tuple[dict[str, list[np.ndarray]], dict[str, list[str]]]:
    """(arrays per layer, short weight names per layer: `kernel`, `bias`...)."""
    arrays: dict[str, list[np.ndarray]] = {}
    names: dict[str, list[str]] = {}
    with declared.hdf5_file(path) as handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        for layer in map(_text, _names(path, root, "layer_names")):
            group = root[layer]
            full = [_text(n) for n in _names(path, group, "weight_names")]
            if full:
                arrays[layer] = [np.asarray(group[name]) for name in full]
                names[layer] = [short_weight_name(name) for name in full]
    return arrays, names


def _names(path: Path, group, name: str) -> list:
    """A name-list attribute, its size checked before it is read."""
    names = declared.hdf5_attribute(path, group.attrs, name, [])
    return names if isinstance(names, list) else [names]


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
