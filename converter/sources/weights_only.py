"""Keras weights-only HDF5 files (ISR publishes its networks this way): the
family is detected from layer names and weight shapes, every hyperparameter
inferred from the shapes, and the network rebuilt with srconvert's layers."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from converter import architectures, tf_runtime
from converter.sources.loaded import Loaded


def describe(path: Path, fmt: str, arch: str | None, arch_params: dict[str, Any]) -> dict[str, Any]:
    index, arrays = architectures.read_weights_only(path)
    family, params = architectures.resolve(index, arch, arch_params)
    model = family.build(tf_runtime.tf_keras(), params, name=family.NAME)
    return {
        "keras_version": None,
        "topology": json.loads(model.to_json()),
        "payload": arrays,
        "architecture": {"family": family.NAME, "params": dataclasses.asdict(params)},
    }


def load(info, options):
    return Loaded(info.payload, None)
