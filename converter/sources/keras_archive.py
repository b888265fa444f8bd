"""Keras 3 `.keras` archives (a zip of config.json, metadata.json, weights)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from converter import tf_runtime
from converter.errors import BadInput
from converter.sources import native


def describe(path: Path, fmt: str) -> tuple[str | None, dict[str, Any]]:
    try:
        with zipfile.ZipFile(path) as archive:
            topology = json.loads(archive.read("config.json"))
            metadata = json.loads(archive.read("metadata.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise BadInput(f"a damaged .keras archive ({exc})", path=path, hint="re-export the model") from None
    return metadata.get("keras_version"), topology


def load(info, options):
    keras = tf_runtime.keras3()
    objects = native.custom_objects(keras, info.topology, options.user_layers)
    model = native.load_natively(
        info.path,
        lambda: keras.saving.load_model(
            info.path, custom_objects=objects, compile=False, safe_mode=not options.allow_lambda
        ),
    )
    return native.layer_weights(model), native.keras_call(model)
