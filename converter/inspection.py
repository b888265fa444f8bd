"""`srconvert inspect`: what a source is, read from its files without
loading it into TensorFlow (a SavedModel's Keras metadata is the exception)."""

from __future__ import annotations

import collections
import io
import math
import zipfile
from pathlib import Path
from typing import Any

import custom_layers
from converter import checks, fixes, memory, topology
from converter.sources import FORMAT_TITLES, SourceOptions, derived, describe, detect, topology_of
from converter.sources.tfjs_layers import model_json_path


def inspect_source(path: Path, arch: str | None = None, arch_params: dict[str, Any] | None = None,
                   max_memory: int | None = None) -> dict[str, Any]:
    # A PyTorch checkpoint is detected, not exported: inspect reads only.
    info = describe(path, SourceOptions(arch=arch, arch_params=arch_params or {}, max_memory=max_memory,
                                        export_graph=False))
    if info.format in detect.CHECKPOINT_FORMATS:
        return _checkpoint_facts(path, info)
    with memory.guard(info.budget, path):  # an ONNX source's topology comes from running it
        model = topology_of(info)
    classes = collections.Counter(custom_layers.plain_class_name(l.get("class_name", "?")) for l in topology.iter_layers(model))
    found_custom = sorted(
        {l["class_name"] for l in topology.iter_layers(model) if custom_layers.find(l.get("class_name", ""))}
    )
    fixed, applied = fixes.apply_fixes(model)
    return {
        "path": str(path),
        "format": info.format,
        "format_title": FORMAT_TITLES[info.format],
        "keras_version": info.keras_version,
        "layers": sum(classes.values()),
        "layer_classes": dict(sorted(classes.items())),
        "custom_layers": found_custom,
        # The same verdicts `convert` reaches: loadable at all, and loadable as a TF.js layers model.
        "unknown_layers": checks.unknown_layer_classes(model),
        "keras_only_layers": checks.layers_without_tfjs_twin(model, set()),
        "params": _params(info),
        "input_shape": topology.input_shape(model),
        "scale": static_scale(fixed),
        "input_range_guess": _input_range_guess(model),
        "fixes": [fix.as_dict() for fix in applied],
        "architecture": info.architecture,
    }


def _checkpoint_facts(path: Path, info) -> dict[str, Any]:
    arch = info.architecture
    return {"path": str(path), "format": info.format, "format_title": FORMAT_TITLES[info.format],
            "architecture": arch, "params": arch["parameters"], "scale": arch["scale"],
            "input_channels": info.input_channels}


def _render_checkpoint(facts: dict[str, Any]) -> str:
    arch = facts["architecture"]
    size = arch["size_requirements"]
    needs = ", ".join(part for part in (
        f"a multiple of {size['multiple_of']}" if size["multiple_of"] > 1 else "",
        f"at least {size['minimum']}" if size["minimum"] > 1 else "",
        "square" if size["square"] else "") if part) or "any size"
    return "\n".join([
        f"{facts['path']}: {facts['format_title']} ({facts['format']})",
        f"  architecture      {arch['family']} ({arch['name']}, {arch['purpose']}; {arch['detected_by']})",
        f"  hyperparameters   " + (" ".join(f"{k}={v}" for k, v in arch["params"].items()) or "none recorded"),
        f"  tags              {', '.join(arch['tags']) or 'none'}",
        f"  scale             x{arch['scale']}",
        f"  channels          {arch['input_channels']} in, {arch['output_channels']} out",
        f"  params            {arch['parameters']:,}",
        f"  input size        {needs}",
        f"  weights from      {arch['container'] or 'the top level'} of the checkpoint",
        f"  code licence      {arch['architecture_licence']}; the weights' licence is the publisher's",
    ])


def static_scale(model: dict[str, Any]) -> int | None:
    """The upscale factor read off a Keras 2 form topology: each layer's output
    scale is its first input's times what the layer does (PixelShuffle,
    UpSampling2D, strided transposed convs up; strides and unshuffles down),
    followed to the output layer. Keras lists layers in topological order."""
    scales: dict[str, float] = {}
    for layer in model.get("config", {}).get("layers", []):
        nodes = layer.get("inbound_nodes") or []
        first = nodes[0][0][0] if nodes and nodes[0] and isinstance(nodes[0][0], list) else None
        scales[layer.get("name")] = scales.get(first, 1.0) * _layer_factor(layer)
    outputs = model.get("config", {}).get("output_layers") or []
    if not outputs or not isinstance(outputs[0], list) or outputs[0][0] not in scales:
        return None
    scale = scales[outputs[0][0]]
    return int(scale) if scale >= 1 and scale == int(scale) else None


def _layer_factor(layer: dict[str, Any]) -> float:
    cls = custom_layers.plain_class_name(layer.get("class_name", ""))
    config = layer.get("config", {})
    spec = custom_layers.find(cls)
    if spec is custom_layers.PIXEL_SHUFFLE:
        return spec.normalise(layer["class_name"], config)["scale"]
    if spec is custom_layers.PIXEL_UNSHUFFLE:
        return 1 / spec.normalise(layer["class_name"], config)["scale"]
    if cls in ("UpSampling2D", "ResizeBilinear"):
        return _first(config.get("size", 2))
    if cls == "Conv2DTranspose":
        return _first(config.get("strides", 1))
    if cls in ("Conv2D", "DepthwiseConv2D", "MaxPooling2D", "AveragePooling2D"):
        return 1 / _first(config.get("strides", 1))
    return 1.0


def _first(value: Any) -> int:
    if isinstance(value, dict):  # tf_keras SavedModel metadata: {"class_name": "__tuple__", "items": [...]}
        value = value.get("items", [1])
    return int(value[0] if isinstance(value, (list, tuple)) else value)


def _input_range_guess(model: dict[str, Any]) -> str:
    for layer in topology.iter_layers(model):
        if layer.get("class_name") == "Rescaling":
            scale = float(layer.get("config", {}).get("scale", 1.0))
            if math.isclose(scale, 1 / 255, rel_tol=1e-3):
                return "0:255 (the model rescales by 1/255 itself)"
    return "0:1 (no rescaling layer; the usual for ISR and ESRGAN Keras models)"


def _params(info) -> int | None:
    if info.topology is None:  # weights-only and ONNX sources: the weights are in hand
        _, weights = derived(info)
        return int(sum(w.size for values in weights.values() for w in values))
    if info.format == detect.TFJS_LAYERS:
        manifest = detect.read_json(model_json_path(info.path)).get("weightsManifest", [])
        return sum(math.prod(w["shape"]) for group in manifest for w in group["weights"])
    if info.format in (detect.KERAS2_H5, detect.KERAS3_H5):
        return _h5_params(info.path)
    if info.format == detect.KERAS3_ARCHIVE:
        with zipfile.ZipFile(info.path) as archive:
            return _h5_params(io.BytesIO(archive.read("model.weights.h5")))
    return None


def _h5_params(source) -> int:
    import h5py

    total = 0

    def visit(_name, obj):
        nonlocal total
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
            total += obj.size

    with h5py.File(source, "r") as handle:
        (handle["model_weights"] if "model_weights" in handle else handle).visititems(visit)
    return total


def render(facts: dict[str, Any]) -> str:
    if facts["format"] in detect.CHECKPOINT_FORMATS:
        return _render_checkpoint(facts)
    lines = [
        f"{facts['path']}: {facts['format_title']} ({facts['format']})",
        f"  Keras version     {facts['keras_version'] or 'unknown'}",
        *(
            [f"  architecture      {facts['architecture']['family']} "
             + " ".join(f"{k}={v}" for k, v in facts["architecture"]["params"].items())]
            if facts.get("architecture") else []
        ),
        f"  layers            {facts['layers']}: "
        + ", ".join(f"{name} x{count}" for name, count in facts["layer_classes"].items()),
        f"  custom layers     {', '.join(facts['custom_layers']) or 'none'}",
        f"  params            {facts['params']:,}" if facts["params"] is not None else "  params            unknown",
        f"  input shape       {facts['input_shape']}",
        f"  scale             x{facts['scale']}" if facts["scale"] else "  scale             unknown",
        f"  input range guess {facts['input_range_guess']}",
    ]
    if facts["unknown_layers"]:
        lines.append(f"  UNKNOWN layers    {', '.join(facts['unknown_layers'])} (need --custom-layer module:Class)")
    if facts["keras_only_layers"]:
        lines.append(f"  no TF.js layer    {', '.join(facts['keras_only_layers'])} (convert with --tfjs-model graph)")
    lines.append("  fixes that apply  " + (", ".join(f"{f['name']} ({f['changes']})" for f in facts["fixes"]) or "none"))
    return "\n".join(lines)
