"""Source loaders: a path in, a `Source` out.

`describe` reads what a file says about itself (format, Keras version, the
topology JSON) without TensorFlow, for `inspect` and the input checks.
`load` then brings the model up in its own Keras, once, for its weights and as
the parity reference. One module per format family; `_MODULES` maps formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from converter.sources import detect, keras_archive, keras_h5, onnx_import, savedmodel, tfjs_layers, weights_only


@dataclass
class SourceInfo:
    path: Path
    format: str
    keras_version: str | None
    topology: dict[str, Any]
    """The `{class_name, config}` model object exactly as the source holds it
    (for an ONNX source: the Keras topology it was translated to)."""
    payload: Any = None
    """What describing already produced and loading reuses (an ONNX or
    weights-only source's weights)."""
    architecture: dict[str, Any] | None = None
    """For a weights-only file: the detected family and its parameters."""
    producer: str | None = None
    """For an ONNX file: the tool that wrote it."""


@dataclass
class LoadOptions:
    user_layers: dict[str, type] = field(default_factory=dict)
    allow_lambda: bool = False


@dataclass
class Source:
    info: SourceInfo
    layer_weights: dict[str, list[Any]]
    """Weights per top-level layer name, in that layer's Keras order."""
    reference: Any
    """A Runner for the source model in its own runtime (NHWC in and out);
    None when the canonical model is the source itself (a TFJS folder)."""
    keras2_model: Any = None
    """The loaded model when the source loads in tf_keras itself: it then
    serves as the canonical model too, and nothing is built twice."""


_MODULES = {
    detect.KERAS2_H5: keras_h5,
    detect.KERAS3_H5: keras_h5,
    detect.KERAS3_ARCHIVE: keras_archive,
    detect.SAVEDMODEL: savedmodel,
    detect.TFJS_LAYERS: tfjs_layers,
    detect.ONNX: onnx_import,
    detect.WEIGHTS_ONLY: weights_only,
}


def describe(path: Path, arch: str | None = None, arch_params: dict[str, Any] | None = None) -> SourceInfo:
    """`arch`/`arch_params` override detection for weights-only files."""
    path = Path(path)
    fmt = detect.detect_format(path)
    if fmt == detect.WEIGHTS_ONLY:
        fields = weights_only.describe(path, fmt, arch, arch_params or {})
    else:
        fields = _MODULES[fmt].describe(path, fmt)
    return SourceInfo(path=path, format=fmt, **fields)


def load(info: SourceInfo, options: LoadOptions) -> Source:
    loaded = _MODULES[info.format].load(info, options)
    return Source(info, loaded.layer_weights, loaded.reference, loaded.keras2_model)
