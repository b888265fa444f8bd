"""The transformers.js target (issue 28): a Hugging Face model folder that
`pipeline('image-to-image', ...)` of @huggingface/transformers loads
unchanged (emitters/hf_folder.py), one ONNX file per precision, named by the
`dtype` a user passes. Made like the ONNX target's artifacts (one export,
its passes, one quantizer per precision), NCHW, with the pipeline's names
and its 0..1 convention folded in. Verified through the real pipeline in
Node (backends/transformersjs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from converter.targets import onnx as onnx_target
from converter.targets.base import KERAS_FORM, ONNX_FORM, Target

FOLDER = "transformersjs"
UNSUPPORTED = {
    ("float16", "chromium-transformersjs-webgpu"): (
        "transformers.js 4.3.1 refuses dtype fp16 on a WebGPU adapter without shader-f16 (\"The device (webgpu) "
        "does not support fp16\"; SwiftShader has none), though this file computes in fp32; on such an adapter "
        "load it as { dtype: 'fp32', model_file_name: 'model_fp16' }, or use the wasm device"
    ),
}


class Emitter(onnx_target.Emitter):
    def __init__(self, target: Target, form: Any, options: Any, stage: Path, progress: Any,
                 shared: dict | None = None) -> None:
        super().__init__(target, form, dataclasses.replace(options, onnx_layout="nchw"), stage, progress, shared)
        self._configs: list[Path] | None = None

    def emit(self, precision: str):
        from converter.emitters import hf_folder, onnx_bundle

        self.progress.step(f"writing {FOLDER}/{hf_folder.file_of(precision)} (dtype {hf_folder.DTYPES[precision]})")
        proto, scheme = self._quantize(precision)
        value_range = tuple(self.options.input_range)
        folded = hf_folder.for_pipeline(proto, value_range, value_range)
        folder = self.stage / FOLDER
        files = onnx_bundle.write(folded, folder, hf_folder.file_of(precision))
        files += self._write_configs(folder)
        self.record = {**self.record, "transformersjs_dtypes": {p: hf_folder.DTYPES[p] for p in self.target.precisions
                                                                if p in self.options.precisions}}
        return self.artifact(precision, files, layout="nchw", quantization=scheme,
                             unsupported_backends=self.target.unsupported_for(precision))

    def _write_configs(self, folder: Path) -> list[Path]:
        from converter.emitters import hf_folder

        if self._configs is None:
            form, options = self.form, self.options
            precisions = tuple(p for p in self.target.precisions if p in options.precisions)
            scale = measured_scale(self.base, form.input_channels, form.input_multiple)
            card = hf_folder.card(options.release or {"name": Path(str(options.source)).stem}, scale,
                                  form.input_multiple, precisions)
            self._configs = hf_folder.write_configs(folder, scale, form.input_multiple, card)
        return self._configs


def measured_scale(model: Any, channels: int, multiple: int) -> int:
    """The upscale factor, run on a small NCHW input (the card and config state it)."""
    import numpy as np

    from converter.graphs.onnx_graph import session

    side = 8 * max(1, multiple)
    run = session(model, threads=1)
    (output,) = run.run(None, {run.get_inputs()[0].name: np.zeros((1, channels, side, side), np.float32)})
    return int(round(output.shape[-1] / side))


TRANSFORMERSJS = Target(
    "transformersjs", "transformersjs", None, FOLDER, ("float32", "float16", "uint8", "int8"), (ONNX_FORM, KERAS_FORM),
    ("transformersjs",), ("chromium-transformersjs-webgpu", "chromium-transformersjs-wasm"), Emitter,
    needs_tensorflow=False, label="transformers.js",
    channels=(3,),  # the app and the pipeline feed the network RGB
    unsupported=UNSUPPORTED, default=False,  # recorded (transformersjs_dtypes) only by the runs that write it
    weights=onnx_target.onnx_weights, one_range=True, quantizers="onnx", libraries=("onnx",),
    recorded_form=onnx_target.exported_form,
)
