"""TensorFlow.js targets: a layers model (needs custom-layers.js) and a graph
model (needs nothing). tensorflowjs's own writer quantizes the weights and
TF.js dequantizes them to float32 at load, so every precision computes in
float32."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from converter.core.errors import BadInput
from converter.core.options import csv_choice
from converter.targets.base import KERAS_FORM, ONNX_FORM, Target, model_json_weights
from converter.targets.base import Emitter as BaseEmitter

PRECISIONS = ("float32", "float16", "uint16", "uint8")
RUNTIMES = ("tfjs",)
BROWSER_RUNTIMES = ("chromium-webgl", "chromium-webgpu")

QUANTIZATION = {
    "float16": {"weights": "float16", "activations": "float32"},
    "uint16": {"weights": "uint16, affine per tensor, dequantized at load", "activations": "float32"},
    "uint8": {"weights": "uint8, affine per tensor, dequantized at load", "activations": "float32"},
}


def check(target: Target, info: Any, form: str, options: Any) -> None:
    """A layers model can only hold layers TF.js (or a JS twin) defines; a
    graph model of an ONNX graph only ops `onnx_to_tf` writes."""
    from converter.sources import detect, onnx_import

    if form == ONNX_FORM:
        return _check_onnx_graph(target, info, options)
    if info.format in detect.GRAPH_FORMATS:  # through the Keras translation
        from converter.forms.onnx_form import static_size
        from converter.graphs import onnx_ops

        fixed = static_size(info.payload)
        if fixed is not None:
            raise BadInput(
                f"the graph is fixed to {fixed[0]}x{fixed[1]} inputs, and a TF.js layers "
                "model is rebuilt only from a graph whose size is free",
                path=info.path, hint="use --tfjs-model graph, or export with dynamic height and width")

        onnx_import.refuse_unsupported(
            onnx_ops.keras_blockers(info.payload), info.path, "for a TF.js layers model",
            "use --tfjs-model graph, or --format onnx; README lists the supported ops; nothing was written")
    if target.variant != "layers" or info.topology is None:
        return
    from converter.core.user_layers import js_twins
    from converter.forms import checks

    missing = checks.layers_without_tfjs_twin(info.topology, set(js_twins(options.user_layers)))
    if missing:
        raise BadInput(
            f"TensorFlow.js has no layer for {', '.join(missing)}, so a layers model cannot load",
            path=info.path,
            hint="use --tfjs-model graph (needs no JavaScript layers)",
        )


def _check_onnx_graph(target: Target, info: Any, options: Any) -> None:
    from converter.forms import onnx_form
    from converter.graphs import onnx_ops
    from converter.sources import onnx_import

    # What a fixed size folds away is never translated; a graph that reads its
    # size is fixed to one (or refused below), and then only its image path
    # counts, unless --tfjs-free-size writes its shape arithmetic as TF.js ops.
    fixed = options.input_size is not None or onnx_form.static_size(info.payload) is not None
    needs_size = not fixed and onnx_form.computes_from_size(info.payload) and (
        not options.tfjs_free_size or bool(onnx_ops.free_size_blockers(info.payload)))
    onnx_import.refuse_unsupported(
        onnx_ops.tf_blockers(info.payload, fixed or needs_size), info.path, "for TF.js",
        "--format onnx converts it as it is; README lists the supported ops; nothing was written")
    lacking = {kernel: node for kernel, node in onnx_ops.tf_kernels(info.payload).items()
               if kernel in target.runtimes_lack}
    if lacking:
        kernel, node = next(iter(lacking.items()))
        raise BadInput(f"the TF.js graph would need the {kernel} kernel for {node}: "
                       f"{target.runtimes_lack[kernel]}", path=info.path,
                       hint="--format onnx (or transformersjs) converts it as it is; nothing was written")
    if needs_size:
        size = onnx_form.suggested_size(info.payload)
        raise BadInput(
            "the graph computes from its input size (window partitions, masks or crops), so its TF.js graph "
            "model is built for one patch size",
            path=info.path,
            hint=f"pass --input-size HxW, e.g. --input-size {size} (a multiple of its window)",
        )


class Emitter(BaseEmitter):
    def __init__(self, target: Target, form: Any, options: Any, stage: Path, progress: Any,
                 shared: dict | None = None) -> None:
        super().__init__(target, form, options, stage, progress, shared)
        from converter.bundle import custom_layers_js
        from converter.core.user_layers import js_twins
        from converter.emitters import tfjs

        progress.step(f"building the TFJS {target.variant} model")
        self._shared: list[Path] = []
        if target.variant == "layers":
            self.model = tfjs.layers_model(form)
            used = custom_layers_js.used_layers(self.model.document["modelTopology"])
            # A layers bundle cannot load without its layers' JavaScript twins.
            self._shared = list(custom_layers_js.write(stage / target.folder, used, js_twins(options.user_layers)))
            esm, cjs = (p.relative_to(stage).as_posix() for p in self._shared)
            self.record = {"custom_layers_js": {"esm": esm, "cjs": cjs}}
        elif form.kind == ONNX_FORM:
            from converter.emitters.onnx_to_tf import Interpreter

            # Built at the patch size where one is set; the ONNX target keeps the source's sizes.
            self.form = form = form.at_patch()
            self.applied.extend(form.applied)
            self.sizes = form.sizes
            size = form.facts.input_shape[1:3]
            shape = [1, *size, form.facts.input_channels] if all(size) else [None, None, None,
                                                                              form.facts.input_channels]
            self.model = tfjs.function_graph_model(Interpreter(form.model, form.info.path), shape)
            self.record = {"tfjs_graph_from": "onnx"}
        else:
            self.model = tfjs.graph_model(form.model())

    def emit(self, precision: str):
        from converter.emitters import tfjs

        quantize, scheme = self._quantizer(precision)
        self.progress.step(f"writing {self.target.folder}/{precision}")
        files = tfjs.write(self.model, precision, self.folder(precision), quantize) + self._shared
        return self.artifact(precision, files, quantization=scheme)

    def _quantizer(self, precision: str):
        """tensorflowjs's quantization, and the scheme the manifest records;
        for a one-range-per-tensor precision (uint8, uint16), with the weights
        that mixed_precision measures it must keep at float16 (TF.js reads a
        dtype per weight) found on the model's ONNX translation, whose
        weights are these, laid out as ONNX lays them."""
        import numpy as np

        from converter.quantizers import mixed_precision, tfjs_weights

        scheme = QUANTIZATION.get(precision)
        base, layout = self._translation() if precision in tfjs_weights.AFFINE else (None, None)
        if base is None:
            return tfjs_weights.quantize, scheme

        def fake(name, array):
            return tfjs_weights.expanded(array, precision) if array.dtype == np.float32 else None

        goal = mixed_precision.goal(self.form, self.options, precision, layout, self.progress)
        if goal is None:
            return tfjs_weights.quantize, scheme
        stored = np.dtype(tfjs_weights.AFFINE[precision]).itemsize
        decision = mixed_precision.search(base, fake, goal, stored)
        from onnx import numpy_helper

        chosen = set(decision.kept)
        values = [numpy_helper.to_array(init) for init in base.graph.initializer if init.name in chosen]
        kept = {mixed_precision.signature(value) for value in values}
        sizes = {value.size for value in values}

        def wider(data) -> bool:
            return data.size in sizes and mixed_precision.signature(data) in kept

        def quantize(data, precision):
            return tfjs_weights.quantize(data, "float16" if wider(data) else precision)

        names = [entry["name"] for entry in self.model.weights
                 if np.asarray(entry["data"]).dtype == np.float32 and wider(np.asarray(entry["data"]))]
        return quantize, {**scheme, "mixed_precision": decision.record(names)}

    def _translation(self):
        """The model as ONNX, and its layout, for measuring; (None, None)
        where there is none without tracing TensorFlow (a Keras model the
        direct map does not cover)."""
        if self.form.kind == ONNX_FORM:
            return self.form.graph_in("nchw"), "nchw"
        from converter.emitters import onnx_bundle

        return onnx_bundle.direct(self.form, onnx_bundle.DEFAULT_OPSET, "nhwc"), "nhwc"


def graph_form(document: dict[str, Any]) -> str:
    """The form a TF.js graph was made from, as its emitter recorded it (a
    manifest from before the plan was recorded)."""
    return ONNX_FORM if document.get("tfjs_graph_from") == "onnx" else KERAS_FORM


RUNTIMES_LACK = {
    "Einsum": "TF.js 4.22's wasm backend, which srconvert verifies in and UpscalerJS's users run, registers no "
              "Einsum kernel (only a batched matrix product's equation becomes MatMul)",
}
OPTIONS = (
    click.Option(["--tfjs-model", "tfjs_models"], default=None, callback=csv_choice(("layers", "graph"), "--tfjs-model"),
                 help="TFJS model kind: layers (needs custom-layers.js), graph (needs none), or both. Default: "
                      "layers; for an ONNX or PyTorch source whose ops the Keras rebuild lacks, graph."),
    click.Option(["--tfjs-backend"], type=click.Choice(["wasm", "cpu"]), default="wasm", show_default=True,
                 help="TensorFlow.js backend for parity."),
    click.Option(["--tfjs-free-size"], is_flag=True,
                 help="ONNX and PyTorch sources whose graph reads its size: write that arithmetic as TF.js shape "
                      "ops, so the TF.js graph model takes every size the source takes (wasm and WebGL; TF.js "
                      "4.22's WebGPU backend fails such graphs, so the default is one patch size)."),
)
# What both TF.js targets declare alike: the page runs TF.js on wasm as Node's TF.js lane does.
FACTS = dict(weights=model_json_weights, libraries=("tensorflowjs",), page_backends=(("wasm", "tfjs-wasm"),),
             runtimes_lack=RUNTIMES_LACK, options=OPTIONS)

# A layers model is written from the topology and weights (emitters.tfjs.layers_model): no TensorFlow.
TFJS_LAYERS = Target("tfjs-layers", "tfjs", "layers", "tfjs", PRECISIONS, (KERAS_FORM,), RUNTIMES, BROWSER_RUNTIMES,
                     Emitter, needs_tensorflow=False, label="TF.js layers", records={"custom_layers_js": None},
                     refuses=check, page_kind="layers", upscalerjs=0, **FACTS)
# From an ONNX source, a graph model is traced from the Keras translation
# where one exists (it runs at any size), else from the graph itself, at one
# patch size where the graph computes from its size.
TFJS_GRAPH = Target("tfjs-graph", "tfjs", "graph", "tfjs-graph", PRECISIONS, (KERAS_FORM, ONNX_FORM), RUNTIMES,
                    BROWSER_RUNTIMES, Emitter, label="TF.js graph", refuses=check, fixed_size_from=(ONNX_FORM,),
                    page_kind="graph", recorded_form=graph_form, upscalerjs=1, **FACTS)
