"""The ONNX target: one export per run, its ONNX passes, then one quantizer
per precision. Verified in onnxruntime (as servers run it) and
onnxruntime-web (as pages run it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from converter.targets.base import KERAS_FORM, ONNX_FORM, Emitter as BaseEmitter, Target

# What a runtime really cannot run, recorded on the artifact instead of run
# (float32 and TF.js artifacts are never exempt).
UNSUPPORTED = {
    ("int8", "chromium-ort-jsep"): (
        "the WebGPU kernels of onnxruntime-web's default build (JSEP, deprecated since 1.29) compute "
        "QuantizeLinear/DequantizeLinear of uint8 activations wrongly; use onnxruntime-web/webgpu or wasm"
    ),
}
ONNX = Target(
    "onnx", "onnx", None, "onnx", ("float32", "float16", "uint8", "int8"), (ONNX_FORM, KERAS_FORM),
    ("onnxruntime", "onnxruntime-web"), ("chromium-ort-wasm", "chromium-ort-webgpu", "chromium-ort-jsep"), __name__,
    needs_tensorflow=False,  # the direct exporter maps layers itself (tf2onnx, its fallback, does import TF)
    unsupported=UNSUPPORTED, label="ONNX",
)
# precision -> module in converter.quantizers (float32 is the export itself)
QUANTIZERS = {"float16": "onnx_float16", "uint8": "onnx_weight_uint8", "int8": "onnx_int8_static"}


class Emitter(BaseEmitter):
    def __init__(self, target: Target, form: Any, options: Any, stage: Path, progress: Any) -> None:
        super().__init__(target, form, options, stage, progress)
        from converter import fixes, optimize, passes
        from converter.emitters import onnx_bundle

        from converter.onnx_form import OnnxForm

        if isinstance(form, OnnxForm):  # the source graph itself: no re-export
            progress.step(f"taking the source graph as the ONNX base ({options.onnx_layout.upper()})")
            self.base = form.graph_in(options.onnx_layout)
            self.record = {"onnx_exporter": "none (the source graph)"}
        else:
            progress.step(f"exporting ONNX (opset {options.opset}, {options.onnx_layout.upper()})")
            self.base = onnx_bundle.export(form, options.opset, options.onnx_layout, options.onnx_exporter)
            self.record = {"onnx_exporter": onnx_bundle.exporter_of(self.base)}
        steps = fixes.ONNX_FIXES + (optimize.ONNX_PASSES if options.optimize else ())
        self.applied = passes.apply(steps, self.base, disabled=options.disabled_fixes)

    def emit(self, precision: str):
        from converter.emitters import onnx_bundle

        self.progress.step(f"writing {self.target.folder}/{precision}")
        proto, scheme = self._quantize(precision)
        files = onnx_bundle.write(proto, self.folder(precision))
        return self.artifact(precision, files, layout=self.options.onnx_layout, quantization=scheme,
                             unsupported_backends=self.target.unsupported_for(precision))

    def _quantize(self, precision: str) -> tuple[Any, dict[str, str] | None]:
        """The float32 export quantized to `precision`, and its scheme."""
        if precision == "float32":
            return self.base, None
        import importlib

        from converter.quantizers import onnx_int8_static

        quantizer = importlib.import_module(f"converter.quantizers.{QUANTIZERS[precision]}")
        options, form = self.options, self.form

        def calibration():
            return onnx_int8_static.calibration_batches(
                options.calibration_images, form.input_channels, options.onnx_layout, options.input_range,
                form.input_multiple, form.input_size,
            )

        return quantizer.quantize(self.base, calibration), quantizer.SCHEME
