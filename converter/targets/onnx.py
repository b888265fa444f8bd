"""The ONNX target: one export per run, its ONNX passes, then one quantizer
per precision. Verified in onnxruntime (as servers run it) and
onnxruntime-web (as pages run it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from converter.emitters import onnx_bundle
from converter.graphs.layout import LAYOUTS
from converter.targets.base import KERAS_FORM, ONNX_FORM, Target, onnx_weights
from converter.targets.base import Emitter as BaseEmitter

# What a runtime really cannot run, recorded on the artifact instead of run
# (TF.js artifacts are never exempt; float32 ones only for what their graph
# holds: JSEP_FREE_SLICE).
UNSUPPORTED = {
    ("int8", "chromium-ort-jsep"): (
        "the WebGPU kernels of onnxruntime-web's default build (JSEP, deprecated since 1.29) compute "
        "QuantizeLinear/DequantizeLinear of uint8 activations wrongly; use onnxruntime-web/webgpu or wasm"
    ),
}
JSEP_FREE_SLICE = (
    "the WebGPU kernels of onnxruntime-web's default build (JSEP, deprecated since 1.29) reject a Slice counted "
    "from the end of a dimension of free size (such as {node}: \"cannot get valid size from specified dimension range\"), "
    "which ONNX allows and onnxruntime-web/webgpu and wasm run; fix the size for such a runtime, or use those"
)


class Emitter(BaseEmitter):
    def __init__(self, target: Target, form: Any, options: Any, stage: Path, progress: Any,
                 shared: dict | None = None) -> None:
        super().__init__(target, form, options, stage, progress, shared)
        # One base per form and layout, whichever target needs it first (ONNX, transformers.js):
        # its passes run and are recorded once. Quantizers and writers copy it, never edit it.
        key = ("onnx-base", id(form), options.onnx_layout)
        if key not in self.shared:
            self.shared[key] = self._base(form, options)
            self.applied = self.shared[key][2]
        self.base, self.record, _, self.graph_exempt = self.shared[key]

    def _base(self, form: Any, options: Any) -> tuple[Any, dict[str, Any], list, dict[str, str]]:
        """The float32 ONNX base of `form` with its ONNX passes run: the
        graph, what the manifest records of it, the passes that changed it,
        and the runtimes its graph is exempt from."""
        from converter import passes
        from converter.emitters import onnx_bundle
        from converter.passes import fixes, optimize

        if form.kind == ONNX_FORM:  # the source graph itself: no re-export
            self.progress.step(f"taking the source graph as the ONNX base ({options.onnx_layout.upper()})")
            base = form.graph_in(options.onnx_layout)
            record = {"onnx_exporter": "none (the source graph)"}
        else:
            self.progress.step(f"exporting ONNX (opset {options.opset}, {options.onnx_layout.upper()})")
            base = onnx_bundle.export(form, options.opset, options.onnx_layout, options.onnx_exporter)
            record = {"onnx_exporter": onnx_bundle.exporter_of(base)}
        steps = (*fixes.ONNX_FIXES, *(optimize.ONNX_PASSES if options.optimize else ()))
        applied = passes.apply(steps, passes.ONNX, base, disabled=options.disabled_fixes)
        slices = free_slices_from_the_end(base)
        exempt = {"chromium-ort-jsep": JSEP_FREE_SLICE.format(node=slices[0])} if slices else {}
        return base, record, applied, exempt

    def emit(self, precision: str):
        from converter.emitters import onnx_bundle

        self.progress.step(f"writing {self.target.folder}/{precision}")
        proto, scheme = self._quantize(precision)
        files = onnx_bundle.write(proto, self.folder(precision))
        exempt = {**(self.target.unsupported_for(precision) or {}), **self.graph_exempt}
        return self.artifact(precision, files, layout=self.options.onnx_layout, quantization=scheme,
                             unsupported_backends=exempt or None)

    def _quantize(self, precision: str) -> tuple[Any, dict[str, str] | None]:
        """The float32 export quantized to `precision`, and its scheme."""
        if precision == "float32":
            return self.base, None
        from converter.quantizers import QUANTIZERS, mixed_precision
        from converter.quantizers.calibration import calibration_batches

        quantizer = QUANTIZERS.of(self.target.quantizers, precision)
        options, form = self.options, self.form

        def calibration():
            return calibration_batches(
                options.calibration_images, form.input_channels, options.onnx_layout, options.input_range,
                form.input_multiple, form.input_size,
            )

        goal = (mixed_precision.goal(form, options, precision, options.onnx_layout, self.progress)
                if quantizer.searched is not None else None)
        if goal is None:
            return quantizer.quantize(self.base, calibration), quantizer.scheme
        model, decision = quantizer.searched(self.base, calibration, goal)
        return model, {**quantizer.scheme, "mixed_precision": decision.record()}


def free_slices_from_the_end(model: Any) -> list[str]:
    """The Slice nodes counting from the end (a negative constant start or
    end) along a dimension whose size is free, by ONNX shape inference: what
    onnxruntime-web's JSEP WebGPU build rejects (measured on SwinIR's
    shifted-window mask). Reversals to the very start are left out."""
    import onnx
    from onnx import numpy_helper

    constants = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer if len(i.dims) <= 1}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    slices = [n for n in model.graph.node if n.op_type == "Slice" and len(n.input) > 3
              and all(name in constants for name in n.input[1:4])]
    if not slices:
        return []
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # onnx raises its own error types; nothing inferred, nothing named
        return []
    dims = {v.name: v.type.tensor_type.shape.dim for v in (*inferred.graph.value_info, *inferred.graph.input)}
    found = []
    for node in slices:
        starts, ends, axes = (constants[name].reshape(-1) for name in node.input[1:4])
        steps = constants.get(node.input[4]) if len(node.input) > 4 else None
        steps = steps.reshape(-1) if steps is not None else [1] * len(starts)
        shape = dims.get(node.input[0])
        for start, end, axis, step in zip(starts, ends, axes, steps):
            counted_from_end = step > 0 and (start < 0 or -(2 ** 31) < end < 0)
            if counted_from_end and shape is not None and axis < len(shape) and not shape[axis].HasField("dim_value"):
                found.append(node.name or node.output[0])
                break
    return found


def traces_with_tf2onnx(form: Any, options: Any) -> bool:
    """Whether the export from `form` goes through tf2onnx, which builds and
    traces a Keras model: asked for, or the direct map does not cover it."""
    from converter.emitters import onnx_bundle

    if form.kind != KERAS_FORM:
        return False
    return options.onnx_exporter == "tf2onnx" or onnx_bundle.direct(form, options.opset, options.onnx_layout) is None


def exported_form(document: dict[str, Any]) -> str:
    """The form an ONNX base was made from, as its emitter recorded it (a
    manifest from before the plan was recorded): the source graph taken as
    it is, or an export of the Keras form."""
    return ONNX_FORM if str(document.get("onnx_exporter") or "").startswith("none") else KERAS_FORM


OPTIONS = (
    click.Option(["--opset"], type=click.IntRange(min(onnx_bundle.OPSETS), max(onnx_bundle.OPSETS)),
                 default=onnx_bundle.DEFAULT_OPSET, show_default=True, help="ONNX opset."),
    click.Option(["--onnx-layout"], type=click.Choice(LAYOUTS), default=None,
                 help="ONNX input/output layout. Default: the source's (nchw for an ONNX source, nhwc for Keras)."),
    click.Option(["--onnx-exporter"], type=click.Choice(onnx_bundle.EXPORTERS), default=onnx_bundle.EXPORTERS[0],
                 show_default=True,
                 help="auto: map the layers directly, tf2onnx for models with other layers; tf2onnx: always trace."),
)


ONNX = Target(
    "onnx", "onnx", None, "onnx", ("float32", "float16", "uint8", "int8"), (ONNX_FORM, KERAS_FORM),
    ("onnxruntime", "onnxruntime-web"), ("chromium-ort-wasm", "chromium-ort-webgpu", "chromium-ort-jsep"), Emitter,
    needs_tensorflow=False,  # the direct exporter maps layers itself (tf2onnx, its fallback, does import TF)
    keras_builder=traces_with_tf2onnx,
    unsupported=UNSUPPORTED, label="ONNX", records={"onnx_exporter": None},
    weights=onnx_weights, follows_layout=True, quantizers="onnx", libraries=("tf2onnx", "onnx"), page_kind="onnx",
    recorded_form=exported_form, options=OPTIONS,
)
