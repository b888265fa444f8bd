"""Which kind of model a path holds, decided from its content, not its name.

Only reads headers and JSON (h5py, zipfile, json): no TensorFlow.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from converter.errors import BadInput

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
# An ONNX file is a protobuf ModelProto; writers put ir_version (field 1,
# varint) first, so the first byte is its tag.
ONNX_FIRST_BYTE = b"\x08"

KERAS2_H5 = "keras2-h5"
KERAS3_H5 = "keras3-h5"
KERAS3_ARCHIVE = "keras3-keras"
SAVEDMODEL = "savedmodel"
TFJS_LAYERS = "tfjs-layers"
ONNX = "onnx"
WEIGHTS_ONLY = "keras-weights-h5"

FORMAT_TITLES = {
    KERAS2_H5: "Keras 2 (tf_keras) HDF5 full model",
    KERAS3_H5: "Keras 3 HDF5 full model",
    KERAS3_ARCHIVE: "Keras 3 .keras archive",
    SAVEDMODEL: "TensorFlow SavedModel folder",
    TFJS_LAYERS: "TensorFlow.js layers model folder",
    ONNX: "ONNX model (e.g. exported by PyTorch)",
    WEIGHTS_ONLY: "Keras weights-only HDF5 (architecture rebuilt from a known family)",
}


def detect_format(path: Path) -> str:
    if not path.exists():
        raise BadInput("no such file or folder", path=path, hint="check the path")
    if path.is_dir():
        return _detect_folder(path)
    if path.name == "model.json":
        return _detect_folder(path.parent)
    with path.open("rb") as handle:
        head = handle.read(8)
    if not head:
        raise BadInput("the file is empty", path=path, hint="re-download or re-export the checkpoint")
    if head == HDF5_MAGIC:
        return _detect_h5(path)
    if head.startswith(ZIP_MAGIC):
        return _detect_zip(path)
    if head[:1] == ONNX_FIRST_BYTE and (path.suffix == ".onnx" or _is_onnx(path)):
        return ONNX  # a damaged .onnx gets the ONNX loader's clear error
    raise BadInput(
        "not a model format srconvert reads",
        path=path,
        hint="give a Keras .h5/.keras file, a SavedModel folder or a TFJS layers-model folder",
    )


def _detect_folder(path: Path) -> str:
    if (path / "saved_model.pb").is_file():
        return SAVEDMODEL
    model_json = path / "model.json"
    if model_json.is_file():
        document = read_json(model_json)
        fmt = document.get("format")
        if fmt in ("layers-model", None) and "modelTopology" in document:
            return TFJS_LAYERS
        if fmt == "graph-model":
            raise BadInput(
                "a TFJS graph model holds no Keras layers to convert from",
                path=model_json,
                hint="convert the original checkpoint instead",
            )
    raise BadInput(
        "the folder holds no model (no saved_model.pb or model.json)",
        path=path,
        hint="point at the model file or the folder that holds it",
    )


def _detect_h5(path: Path) -> str:
    attrs = h5_attrs(path)
    if "model_config" not in attrs:
        if "layer_names" in attrs:
            return WEIGHTS_ONLY
        raise BadInput(
            "an HDF5 file that is neither a Keras model nor Keras weights",
            path=path,
            hint="give a file written by Keras model.save or model.save_weights",
        )
    version = str(attrs.get("keras_version", "2"))
    return KERAS3_H5 if version.startswith("3") else KERAS2_H5


def _detect_zip(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise BadInput(f"a damaged zip archive ({exc})", path=path, hint="re-download the file") from None
    if {"config.json", "metadata.json"} <= names:
        return KERAS3_ARCHIVE
    raise BadInput("a zip archive that is not a Keras .keras file", path=path, hint="give a Keras .keras file")


def _is_onnx(path: Path) -> bool:
    import onnx

    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception:  # not a protobuf ModelProto
        return False
    return len(model.graph.node) > 0


def h5_attrs(path: Path) -> dict[str, object]:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            return {key: _text(value) for key, value in handle.attrs.items()}
    except OSError as exc:
        raise BadInput(
            f"not a readable HDF5 file ({exc.args[0] if exc.args else exc})",
            path=path,
            hint="the download may be truncated: fetch it again",
        ) from None


def read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"not valid JSON ({exc})", path=path, hint="re-export the model") from None
    if not isinstance(value, dict):
        raise BadInput("JSON is not an object", path=path, hint="re-export the model")
    return value


def _text(value: object) -> object:
    return value.decode("utf-8") if isinstance(value, bytes) else value
