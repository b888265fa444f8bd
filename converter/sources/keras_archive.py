"""Keras 3 `.keras` archives (a zip of config.json, metadata.json, weights)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from converter.core import tf_runtime
from converter.core.errors import BadInput
from converter.sources import declared, native, safe_json
from converter.sources.detect import KERAS3_ARCHIVE, Probe

NAME = "keras-archive"
"""The reader's name in sources.READERS."""
FORMATS = {KERAS3_ARCHIVE: "Keras 3 .keras archive"}
LIBRARIES = ("h5py", "zipfile")


def detect(probe: Probe) -> str | None:
    names = probe.zip_names
    return KERAS3_ARCHIVE if names is not None and {"config.json", "metadata.json"} <= names else None


def content_bytes(probe: Probe) -> declared.Content:
    path = probe.given
    loaded = declared.zip_archive(path, json_members=("config.json", "metadata.json"),
                                  hdf5_members=("model.weights.h5",))
    return declared.Content(loaded, path.stat().st_size)


def describe(probe: Probe, fmt: str, options) -> dict[str, Any]:
    path = probe.given
    try:
        with zipfile.ZipFile(path) as archive:
            _check_members(path, archive.namelist())
            topology = safe_json.loads(archive.read("config.json"), path, "config.json")
            metadata = safe_json.loads(archive.read("metadata.json"), path, "metadata.json")
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise BadInput(f"a damaged .keras archive ({exc})", path=path, hint="re-export the model") from None
    for name, value in (("config.json", topology), ("metadata.json", metadata)):
        if not isinstance(value, dict):
            raise BadInput(f"{name} is not a JSON object", path=path, hint="re-export the model")
    return {"keras_version": metadata.get("keras_version"), "topology": topology}


def _check_members(path: Path, names: list[str]) -> None:
    """Refuse archives whose members would land outside a folder they were
    extracted into (absolute paths, `..`): nothing legitimate needs them."""
    for name in names:
        parts = Path(name).parts
        if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise BadInput(
                f"archive member {name!r} points outside the archive",
                path=path,
                hint="this .keras file was not written by Keras; do not use it",
            )


def load(info, options):
    keras = tf_runtime.keras3()
    objects = native.custom_objects(keras, info.topology, options.user_layers)
    model = native.load_natively(
        info.path,
        lambda: keras.saving.load_model(
            info.path, custom_objects=objects, compile=False, safe_mode=not options.allow_lambda
        ),
    )
    return native.loaded(model)
