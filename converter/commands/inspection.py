"""`srconvert inspect`: what a source is, read from its files without
loading it into TensorFlow (a SavedModel's Keras metadata is the exception),
and what `convert` would make of it.

A graph source (ONNX, or a PyTorch checkpoint's exported graph) is described
from the graph itself, as `convert` works from it (`onnx_form.OnnxForm`):
its ops, weights, scale and input multiple from onnxruntime runs, whether
the Keras rebuild covers it (a TF.js layers model) or not (a TF.js graph
model), and whether it computes from its input size. The Keras translation's
facts (layer classes, custom layers, fixes) are shown where the rebuild
takes the graph; elsewhere one line says why not. A PyTorch checkpoint is
read, not exported, unless an input size is given: its graph is then
exported at that size, as `convert` exports it.
"""

from __future__ import annotations

import collections
import math
import zipfile
from pathlib import Path
from typing import Any

import custom_layers
from converter.core import memory
from converter.core.errors import BadInput
from converter.forms import checks, keras_model
from converter.graphs import topology
from converter.passes import fixes
from converter.sources import FORMAT_TITLES, SourceOptions, declared, derived, describe, detect, topology_of
from converter.sources.tfjs_layers import model_json_path


def inspect_source(path: Path, arch: str | None = None, arch_params: dict[str, Any] | None = None,
                   max_memory: int | None = None, input_size: Any = None,
                   max_compute: float | None = None) -> dict[str, Any]:
    """The facts `render` prints. `input_size` (an input_size.InputSize) is
    `convert --input-size`: an ONNX or PyTorch source's graph fixed to one
    patch size (a PyTorch checkpoint is then exported, as convert does)."""
    path = Path(path)
    # A PyTorch checkpoint is detected, not exported, unless a size asks for its graph.
    options = SourceOptions(arch=arch, arch_params=arch_params or {}, max_memory=max_memory, max_compute=max_compute,
                            input_size=input_size, export_graph=input_size is not None)
    info = describe(path, options)
    if input_size is not None and info.format not in detect.GRAPH_FORMATS:
        raise BadInput("--input-size applies to ONNX and PyTorch sources", path=path,
                       hint="a Keras model's input size is set in the model itself")
    if info.format in detect.CHECKPOINT_FORMATS:
        return _checkpoint_facts(path, info, input_size)
    if info.format in detect.GRAPH_FORMATS:
        return _onnx_facts(path, info, input_size)
    return _keras_facts(path, info, options)


def _keras_facts(path: Path, info, options: SourceOptions) -> dict[str, Any]:
    model = topology_of(info)
    shape, multiple = topology.input_shape(model), _input_multiple(model)
    return {
        **input_range_facts(info, shape, multiple, options),
        **_common(path, info),
        **_translation_facts(model),
        "params": _params(info),
        "input_shape": shape,
        "input_multiple": multiple,
        "scale": static_scale(fixes.apply_fixes(model)[0]),
        "tfjs_models": _tfjs_models(info),
        "convert": convert_verdicts(info),
    }


def _onnx_facts(path: Path, info, input_size) -> dict[str, Any]:
    graph = graph_facts(info, input_size)
    model, why_not = None, graph.pop("keras_why_not")
    if why_not is None:  # the rebuild takes the graph: translate it for the Keras facts
        try:
            with memory.guard(info.budget, path):  # the translation runs the graph in onnxruntime
                model = topology_of(info)
        except BadInput as error:
            why_not = f"the Keras rebuild fails: {error.message}"
    facts = {**_common(path, info), **_translation_facts(model), **graph,
             "keras_facts_unavailable": why_not}
    facts.update(input_range_facts(info, facts["input_shape"], facts["input_multiple"], SourceOptions(),
                                   input_size))
    return facts


def input_range_facts(info, input_shape, multiple: int, options: SourceOptions,
                      input_size=None) -> dict[str, Any]:
    """The input range as convert would find it (parity.input_range): the
    source run on a photo at 0:1 and at 0:255, under the memory guard."""
    from converter.core import deadline
    from converter.core.photos import DEFAULT_IMAGES
    from converter.parity import input_range
    from converter.pipeline.execute import source_form

    work = None
    try:
        with memory.guard(info.budget, info.path):
            if info.format in detect.CHECKPOINT_FORMATS:
                runner = info.reference()
            else:
                form = source_form(info, options, input_size=input_size)
                runner, work = form.reference(), form.facts.compute
                deadline.current().compute = work
            finding = input_range.measure(runner, input_shape, multiple, input_range.photo(DEFAULT_IMAGES))
    except BadInput as error:  # inspect still describes a source convert would refuse (an unknown layer)
        finding = input_range.RangeFinding(input_range.DEFAULT, "assumed",
                                           f"the model cannot be loaded to measure it ({error.message})")
    return {"input_range": input_range.text(finding.range), "input_range_origin": finding.origin,
            "input_range_reason": finding.reason, **compute_facts(work)}


def compute_facts(work) -> dict[str, Any]:
    """The work the model does per pixel (converter.graphs.compute), as inspect shows it."""
    if work is None:
        return {"compute": None}
    return {"compute": work.as_dict()}


def _common(path: Path, info) -> dict[str, Any]:
    return {"path": str(path), "format": info.format, "format_title": FORMAT_TITLES[info.format],
            "keras_version": info.keras_version, "producer": info.producer, "architecture": info.architecture}


def _translation_facts(model: dict[str, Any] | None) -> dict[str, Any]:
    """The facts of a Keras topology (a Keras source's own, or a graph's
    translation); each None where there is none."""
    if model is None:
        return {key: None for key in ("layers", "layer_classes", "custom_layers", "unknown_layers",
                                      "keras_only_layers", "fixes")}
    classes = collections.Counter(custom_layers.plain_class_name(l.get("class_name", "?"))
                                  for l in topology.iter_layers(model))
    _, applied = fixes.apply_fixes(model)
    return {
        "layers": sum(classes.values()),
        "layer_classes": dict(sorted(classes.items())),
        "custom_layers": sorted({l["class_name"] for l in topology.iter_layers(model)
                                 if custom_layers.find(l.get("class_name", ""))}),
        # The same verdicts `convert` reaches: loadable at all, and loadable as a TF.js layers model.
        "unknown_layers": checks.unknown_layer_classes(model),
        "keras_only_layers": checks.layers_without_tfjs_twin(model, set()),
        "fixes": [fix.as_dict() for fix in applied],
    }


def graph_facts(info, input_size) -> dict[str, Any]:
    """What `convert` knows of a graph source (an ONNX file, or a checkpoint's
    export) before it writes anything: the canonical ONNX form's facts, the
    ops, and the plan's choices, all read from the graph as convert reads it."""
    from converter.forms import onnx_form
    from converter.graphs import onnx_ops
    from converter.pipeline import plan

    source = info.payload
    with memory.guard(info.budget, info.path):  # the facts come from onnxruntime runs
        form = onnx_form.OnnxForm(info, input_size).at_patch()  # as the TF.js graph is built
    facts = form.facts
    static = onnx_form.static_size(source)
    sized = onnx_form.computes_from_size(source)
    lacks = sorted({entry.split(" ", 1)[0] for entry in onnx_ops.keras_blockers(source)})
    ops = collections.Counter(node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
                              for node in source.graph.node)
    why_not = "; ".join(part for part in (
        f"the Keras rebuild lacks {', '.join(lacks)}" if lacks else "",
        f"the graph is fixed to {static[0]}x{static[1]} inputs and the Keras rebuild needs a free size"
        if static else "") if part) or None
    return {
        "ops": dict(sorted(ops.items())),
        "nodes": len(source.graph.node),
        "params": facts.params,
        "input_shape": facts.input_shape,
        "input_multiple": facts.input_multiple,
        "scale": facts.scale,
        "input_size": str(form.input_size) if form.input_size is not None else None,
        "exported_size": f"{static[0]}x{static[1]}" if static else None,
        "computes_from_size": sized,
        "suggested_size": onnx_form.suggested_size(source) if sized else None,
        # What keeps a TF.js graph model of it from taking every size ([]: nothing).
        "free_size_blockers": onnx_ops.free_size_blockers(source) if sized else [],
        "keras_rebuild": plan.translatable(info),
        "rebuild_lacks": lacks,
        "keras_why_not": why_not,
        "tfjs_models": _tfjs_models(info),
        "convert": convert_verdicts(info, input_size),
    }


def _tfjs_models(info) -> list[str]:
    from converter.pipeline import plan

    return list(plan.default_tfjs_models(info))


def convert_verdicts(info, input_size=None) -> dict[str, dict[str, Any]]:
    """Per `--format`, what `convert` (its other options left at their
    defaults) plans for this source: the targets and the form each is made
    from, with the input size it settles on, or its refusal. The plan's own
    calls, so inspect and convert cannot disagree."""
    from converter.pipeline import plan
    from converter.pipeline.convert import ConvertOptions
    from converter.core.precisions import DEFAULT
    from converter.targets import FORMATS, offered

    verdicts = {}
    for fmt in FORMATS:  # the default precisions the format writes, as `convert --format fmt` takes them
        options = ConvertOptions(source=info.path, out=info.path, formats=(fmt,), precisions=offered((fmt,), DEFAULT),
                                 input_size=input_size)
        try:
            options = plan.resolve(options, info)
            made = plan.make(options, info)
        except BadInput as error:
            verdicts[fmt] = {"refused": error.message, "hint": error.hint}
            continue
        verdicts[fmt] = {"targets": [{"target": step.target.name, "from": step.form} for step in made.steps],
                         "input_size": str(made.patch) if made.patch is not None else None}
    return verdicts


def _checkpoint_facts(path: Path, info, input_size=None) -> dict[str, Any]:
    arch = info.architecture
    facts = {"path": str(path), "format": info.format, "format_title": FORMAT_TITLES[info.format],
             "architecture": arch, "params": arch["parameters"], "scale": arch["scale"],
             "input_channels": info.input_channels}
    facts.update(input_range_facts(info, [None, None, None, info.input_channels],
                                   arch["size_requirements"]["multiple_of"], SourceOptions()))
    if info.payload is None:
        facts["graph"] = None
        facts["graph_unavailable"] = ("not exported: inspect reads the checkpoint only; with an input size "
                                      "(--input-size HxW) it exports the graph at that size and describes it")
        return facts
    graph = graph_facts(info, input_size)
    graph.pop("keras_why_not")
    facts["graph"] = graph  # the export's own params count its folded constants too
    facts["graph_unavailable"] = None
    return facts


def _render_checkpoint(facts: dict[str, Any]) -> str:
    arch = facts["architecture"]
    size = arch["size_requirements"]
    needs = ", ".join(part for part in (
        f"a multiple of {size['multiple_of']}" if size["multiple_of"] > 1 else "",
        f"at least {size['minimum']}" if size["minimum"] > 1 else "",
        "square" if size["square"] else "") if part) or "any size"
    lines = [
        f"{facts['path']}: {facts['format_title']} ({facts['format']})",
        f"  architecture      {arch['family']} ({arch['name']}, {arch['purpose']}; {arch['detected_by']})",
        "  hyperparameters   " + (" ".join(f"{k}={v}" for k, v in arch["params"].items()) or "none recorded"),
        f"  tags              {', '.join(arch['tags']) or 'none'}",
        f"  scale             x{arch['scale']}",
        f"  input range       {facts['input_range']} ({facts['input_range_origin']}: {facts['input_range_reason']})",
        f"  channels          {arch['input_channels']} in, {arch['output_channels']} out",
        f"  params            {arch['parameters']:,}",
        f"  input size        {needs}",
        f"  weights from      {arch['container'] or 'the top level'} of the checkpoint",
        f"  code licence      {arch['architecture_licence']}; the weights' licence is the publisher's",
    ]
    graph = facts.get("graph")
    if graph is None:
        lines.append(f"  exported graph    {facts.get('graph_unavailable') or 'none'}")
        return "\n".join(lines)
    export = arch.get("export") or {}
    lines.append(f"  exported graph    by {export.get('exporter', 'srconvert')}, opset {export.get('opset', '?')}"
                 f", size {export.get('size', '?')}")
    lines.extend([
        _row("ops", _ops(graph), "    "),
        _row("params", _graph_params(graph), "    "),
        _row("input shape", str(graph["input_shape"]), "    "),
        _row("input multiple", _multiple(graph["input_multiple"]), "    "),
        _row("scale", f"x{graph['scale']}", "    "),
        *_graph_plan_lines(graph, "    "),
    ])
    return "\n".join(lines)


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
    return int(_items(value)[0])


def _items(value: Any) -> list[Any]:
    if isinstance(value, dict):  # tf_keras SavedModel metadata: {"class_name": "__tuple__", "items": [...]}
        value = value.get("items", [1])
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _input_multiple(model: dict[str, Any]) -> int:
    """What input sizes must divide by, as convert computes it from the
    loaded model (`keras_model.input_multiple`), over the topology's layers."""
    def pairs():
        for layer in topology.iter_layers(model):
            cls = custom_layers.plain_class_name(layer.get("class_name", ""))
            config = dict(layer.get("config", {}))
            if custom_layers.find(cls) is custom_layers.PIXEL_UNSHUFFLE:
                cls, config = "PixelUnshuffle", custom_layers.PIXEL_UNSHUFFLE.normalise(layer["class_name"], config)
            if config.get("strides") is not None:
                config["strides"] = [int(s) for s in _items(config["strides"])]
            yield cls, config

    return keras_model.input_multiple(pairs())


def _params(info) -> int | None:
    from converter.sources import reading

    with reading(info):  # it reads the file itself: what h5py or zipfile raise is the file's
        return _counted_params(info)


def _counted_params(info) -> int | None:
    if info.topology is None:  # weights-only sources: the weights are in hand
        _, weights = derived(info)
        return int(sum(w.size for values in weights.values() for w in values))
    if info.format == detect.TFJS_LAYERS:
        manifest = detect.read_json(model_json_path(info.path)).get("weightsManifest", [])
        return sum(math.prod(w["shape"]) for group in manifest for w in group["weights"])
    if info.format in (detect.KERAS2_H5, detect.KERAS3_H5):
        return _h5_params(info.path)
    if info.format == detect.KERAS3_ARCHIVE:
        with zipfile.ZipFile(info.path) as archive:
            return _h5_params(info.path, (archive, "model.weights.h5"))
    return None


def _h5_params(source: Path, member=None) -> int:
    import h5py

    total = 0

    def visit(_name, obj):
        nonlocal total
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
            total += obj.size

    with declared.hdf5_file(source, member) as handle:
        (handle["model_weights"] if "model_weights" in handle else handle).visititems(visit)
    return total


def _work(facts: dict[str, Any]) -> str:
    from converter.graphs.compute import Compute

    if not facts.get("compute"):
        return "unknown (the model could not be loaded)"
    work = facts["compute"]
    counted = Compute(work["macs_per_input_pixel"], work["exact"], tuple(work.get("uncounted", ())))
    return counted.text(facts["scale"] or None) + " (multiply-accumulates)"


def render(facts: dict[str, Any]) -> str:
    if facts["format"] in detect.CHECKPOINT_FORMATS:
        return _render_checkpoint(facts)
    graph = facts["format"] in detect.GRAPH_FORMATS
    lines = [f"{facts['path']}: {facts['format_title']} ({facts['format']})"]
    if graph:
        lines.append(f"  producer          {facts['producer'] or 'unknown'}")
    else:
        lines.append(f"  Keras version     {facts['keras_version'] or 'unknown'}")
    if facts.get("architecture"):
        lines.append(f"  architecture      {facts['architecture']['family']} "
                     + " ".join(f"{k}={v}" for k, v in facts["architecture"]["params"].items()))
    if graph:
        lines.append(_row("ops", _ops(facts)))
    lines.extend([
        _row("params", _graph_params(facts) if graph else _count(facts["params"])),
        _row("input shape", str(facts["input_shape"])),
        _row("input multiple", _multiple(facts["input_multiple"])),
        _row("scale", f"x{facts['scale']}" if facts["scale"] else "unknown"),
        _row("input range", f"{facts['input_range']} ({facts['input_range_origin']}: {facts['input_range_reason']})"),
        _row("work", _work(facts)),
    ])
    lines.extend(_graph_plan_lines(facts) if graph else [
        _row("TF.js model", f"{', '.join(facts['tfjs_models'])} (convert's default)"),
        *_verdict_lines(facts["convert"]),
    ])
    if facts["layer_classes"] is None:
        lines.append(_row("Keras facts", f"none (layers, custom layers, fixes): {facts['keras_facts_unavailable']}"))
        return "\n".join(lines)
    lines.extend([
        _row("layers", f"{facts['layers']}: "
             + ", ".join(f"{name} x{count}" for name, count in facts["layer_classes"].items())),
        _row("custom layers", ", ".join(facts["custom_layers"]) or "none"),
    ])
    if facts["unknown_layers"]:
        lines.append(_row("UNKNOWN layers", f"{', '.join(facts['unknown_layers'])} (need --custom-layer module:Class)"))
    if facts["keras_only_layers"]:
        lines.append(_row("no TF.js layer",
                          f"{', '.join(facts['keras_only_layers'])} (convert with --tfjs-model graph)"))
    lines.append(_row("fixes that apply", ", ".join(f"{f['name']} ({f['changes']})" for f in facts["fixes"]) or "none"))
    return "\n".join(lines)


def _row(label: str, text: str, indent: str = "  ") -> str:
    """One fact, its value in the column the labels leave (20 characters in)."""
    return f"{indent}{label:<{20 - len(indent) - 1}} {text}"


def _graph_params(facts: dict[str, Any]) -> str:
    """A graph's params: its floating-point initializers, which at a size
    fixed by --input-size include what was folded to constants."""
    folded = facts["input_size"] is not None and facts["exported_size"] is None
    return _count(facts["params"]) + (f" (the graph fixed to {facts['input_size']}: folded constants count too)"
                                      if folded else "")


def _ops(facts: dict[str, Any]) -> str:
    return f"{facts['nodes']} nodes: " + ", ".join(f"{op} x{n}" for op, n in facts["ops"].items())


def _graph_plan_lines(facts: dict[str, Any], indent: str = "  ") -> list[str]:
    """What convert decides from a graph (`graph_facts`): its size, the
    Keras rebuild, the TF.js model kind and each format's plan."""
    if facts["input_size"] is None:
        size = "free"
    elif facts["exported_size"] is not None:
        size = f"fixed to {facts['input_size']} (as exported)"
    else:
        size = f"fixed to {facts['input_size']} (--input-size; what depends on the size is folded to constants)"
    if not facts["computes_from_size"]:
        sized = "no"
    elif facts["input_size"] is not None:
        sized = f"yes (window partitions, masks or crops), folded to constants at {facts['input_size']}"
    elif facts["keras_rebuild"]:
        sized = ("yes (it reads its input's shape); the TF.js layers model rebuilt from it takes any size "
                 f"(a TF.js graph model of the graph itself would be built for one, e.g. {facts['suggested_size']})")
    elif not facts["free_size_blockers"]:
        sized = ("yes (window partitions, masks or crops): its TF.js graph model is built for one patch size, "
                 f"e.g. {facts['suggested_size']}, or with --tfjs-free-size computes those sizes at run time "
                 "(wasm and WebGL)")
    else:
        blockers = facts["free_size_blockers"]
        more = f" and {len(blockers) - 1} more" if len(blockers) > 1 else ""
        sized = ("yes (window partitions, masks or crops): its TF.js graph model is built for one patch size, "
                 f"e.g. {facts['suggested_size']} (at a free size, {blockers[0]}{more} would need a constant)")
    if facts["keras_rebuild"]:
        rebuild = "covers every op: a TF.js layers model is possible"
    else:
        lacking = f"lacks {', '.join(facts['rebuild_lacks'])}" if facts["rebuild_lacks"] else "covers every op"
        fixed = f"; the graph is fixed to {facts['exported_size']}" if facts["exported_size"] else ""
        rebuild = f"{lacking}{fixed}: no TF.js layers model, so convert makes a TF.js graph model"
    return [
        _row("input size", size, indent),
        _row("size-dependent", sized, indent),
        _row("Keras rebuild", rebuild, indent),
        _row("TF.js model", f"{', '.join(facts['tfjs_models'])} (convert's default)", indent),
        *_verdict_lines(facts["convert"], indent),
    ]


def _verdict_lines(verdicts: dict[str, dict[str, Any]], indent: str = "  ") -> list[str]:
    lines = []
    for fmt, verdict in verdicts.items():
        if "refused" in verdict:
            hint = f"; {verdict['hint']}" if verdict.get("hint") else ""
            lines.append(_row(f"convert {fmt}", f"refused: {verdict['refused']}{hint}", indent))
            continue
        made = ", ".join(f"{t['target']} from the {FORM_NAMES.get(t['from'], t['from'])}" for t in verdict["targets"])
        at = f", at {verdict['input_size']}" if verdict["input_size"] else ""
        lines.append(_row(f"convert {fmt}", made + at, indent))
    return lines


FORM_NAMES = {"keras": "Keras form", "onnx": "ONNX graph"}


def _count(value: int | None) -> str:
    return f"{value:,}" if value is not None else "unknown"


def _multiple(value: int) -> str:
    return "1 (any height and width)" if value == 1 else f"{value} (height and width must be multiples of {value})"
