"""What a path holds, sniffed from its content, never its name.

`Probe` reads each thing at most once (the first bytes, the HDF5 root
attributes, the zip member names, and what a format module keeps with
`cached`); the format modules' `detect`, `content_bytes` and `describe`
all ask the same one. When no module claims a path, `unclaimed` says what kind
of container it was and what to give instead. Only headers and JSON are read
here (h5py, zipfile, safe_json): no TensorFlow.
"""

from __future__ import annotations

import functools
import os
import zipfile
from pathlib import Path
from typing import Any, Callable

from converter.core.errors import BadInput
from converter.sources import admission, declared, safe_json

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"

KERAS2_H5 = "keras2-h5"
KERAS3_H5 = "keras3-h5"
KERAS3_ARCHIVE = "keras3-keras"
SAVEDMODEL = "savedmodel"
TFJS_LAYERS = "tfjs-layers"
ONNX = "onnx"
WEIGHTS_ONLY = "keras-weights-h5"
SAFETENSORS = "safetensors"
PYTORCH = "pytorch"
NCNN = "ncnn"
CHECKPOINT_FORMATS = frozenset({PYTORCH, SAFETENSORS})
"""PyTorch checkpoints: srconvert exports them to ONNX itself."""
GRAPH_FORMATS = frozenset({ONNX, NCNN, *CHECKPOINT_FORMATS})
"""Formats whose canonical form is an ONNX graph (a PyTorch checkpoint's is
its export, an NCNN model's its rebuild): the ONNX target takes it as it
is, TF.js translates it."""


class Probe:
    def __init__(self, path: Path) -> None:
        # A TFJS model.json stands for its folder.
        self.path = path.parent if path.name == "model.json" and path.is_file() else path
        admission.admit(self.path)
        self.given = path
        self.is_dir = self.path.is_dir()
        self._read: dict[str, Any] = {}

    def cached(self, key: str, read: Callable[[], Any]) -> Any:
        """What a format module read from this path (a parsed graph, a
        model.json), read once: detection, the declared-content check and
        `describe` share it, so a source is parsed once, not three times."""
        if key not in self._read:
            self._read[key] = read()
        return self._read[key]

    @functools.cached_property
    def head(self) -> bytes:
        if self.is_dir:
            return b""
        with admission.open_regular(self.path) as handle:
            head = handle.read(8)
        if not head:
            raise BadInput("the file is empty", path=self.path, hint="re-download or re-export the checkpoint")
        return head

    @property
    def is_hdf5(self) -> bool:
        return not self.is_dir and self.head == HDF5_MAGIC

    @functools.cached_property
    def h5_attrs(self) -> dict[str, object]:
        return h5_attrs(self.path)

    @functools.cached_property
    def zip_names(self) -> set[str] | None:
        """The members of a zip file; None for anything else."""
        if self.is_dir or not self.head.startswith(ZIP_MAGIC):
            return None
        try:
            with admission.open_regular(self.path) as raw:
                declared.zip_entries(raw, self.path)
                with zipfile.ZipFile(raw) as archive:
                    return set(archive.namelist())
        except zipfile.BadZipFile as exc:
            raise BadInput(f"a damaged zip archive ({exc})", path=self.path, hint="re-download the file") from None


def unclaimed(probe: Probe) -> BadInput:
    """The error for a path no format module recognised."""
    if probe.is_dir:
        return BadInput(
            "the folder holds no model (no saved_model.pb or model.json)",
            path=probe.path,
            hint="point at the model file or the folder that holds it",
        )
    if probe.is_hdf5:
        return BadInput(
            "an HDF5 file that is neither a Keras model nor Keras weights",
            path=probe.path,
            hint="give a file written by Keras model.save or model.save_weights",
        )
    if probe.zip_names is not None:
        return BadInput("a zip archive that is not a Keras .keras file", path=probe.path, hint="give a Keras .keras file")
    return BadInput(
        "not a model format srconvert reads",
        path=probe.path,
        hint="give a Keras .h5/.keras file, a SavedModel folder, a TFJS layers-model folder, an ONNX file or a "
             "PyTorch .pth/.safetensors checkpoint",
    )


# The root attributes the format modules ask about; no other is read.
H5_ATTRS = ("model_config", "keras_version", "layer_names")


def h5_attrs(path: Path) -> dict[str, object]:
    try:
        with declared.hdf5_file(path) as handle:
            attrs = handle.attrs
            return {key: declared.hdf5_attribute(path, attrs, key) for key in H5_ATTRS if key in attrs}
    except OSError as exc:
        raise BadInput(
            f"not a readable HDF5 file ({exc.args[0] if exc.args else exc})",
            path=path,
            hint="the download may be truncated: fetch it again",
        ) from None


def read_json(path: Path) -> dict:
    try:
        with admission.open_regular(path) as handle:
            declared.json_size(path, path.name, os.fstat(handle.fileno()).st_size)
            data = handle.read()
    except OSError as exc:
        raise BadInput(f"not valid JSON ({exc})", path=path, hint="re-export the model") from None
    value = safe_json.loads(data, path, path.name)
    if not isinstance(value, dict):
        raise BadInput("JSON is not an object", path=path, hint="re-export the model")
    return value
