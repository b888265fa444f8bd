"""TensorFlow.js targets: a layers model (needs custom-layers.js) and a graph
model (needs nothing). tensorflowjs's own writer quantizes the weights and
TF.js dequantizes them to float32 at load, so every precision computes in
float32."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from converter.errors import BadInput
from converter.targets.base import KERAS_FORM, Emitter as BaseEmitter, Target

PRECISIONS = ("float32", "float16", "uint16", "uint8")
RUNTIMES = ("tfjs",)
BROWSER_RUNTIMES = ("chromium-webgl", "chromium-webgpu")

TFJS_LAYERS = Target("tfjs-layers", "tfjs", "layers", "tfjs", PRECISIONS, KERAS_FORM, RUNTIMES, BROWSER_RUNTIMES,
                     __name__)
TFJS_GRAPH = Target("tfjs-graph", "tfjs", "graph", "tfjs-graph", PRECISIONS, KERAS_FORM, RUNTIMES, BROWSER_RUNTIMES,
                    __name__)

QUANTIZATION = {
    "float16": {"weights": "float16", "activations": "float32"},
    "uint16": {"weights": "uint16, affine per tensor, dequantized at load", "activations": "float32"},
    "uint8": {"weights": "uint8, affine per tensor, dequantized at load", "activations": "float32"},
}


def check(target: Target, topology: dict[str, Any] | None, options: Any, path: Path) -> None:
    """A layers model can only hold layers TF.js (or a JS twin) defines."""
    if target.variant != "layers" or topology is None:
        return
    from converter import checks
    from converter.user_layers import js_twins

    missing = checks.layers_without_tfjs_twin(topology, set(js_twins(options.user_layers)))
    if missing:
        raise BadInput(
            f"TensorFlow.js has no layer for {', '.join(missing)}, so a layers model cannot load",
            path=path,
            hint="use --tfjs-model graph (needs no JavaScript layers)",
        )


class Emitter(BaseEmitter):
    def __init__(self, target: Target, form: Any, options: Any, stage: Path, progress: Any) -> None:
        super().__init__(target, form, options, stage, progress)
        from converter.emitters import custom_layers_js, tfjs
        from converter.user_layers import js_twins

        progress.step(f"building the TFJS {target.variant} model")
        self._shared: list[Path] = []
        if target.variant == "layers":
            self.model = tfjs.layers_model(form, options.disabled_fixes)
            used = custom_layers_js.used_layers(self.model.document["modelTopology"])
            # A layers bundle cannot load without its layers' JavaScript twins.
            self._shared = list(custom_layers_js.write(stage / target.folder, used, js_twins(options.user_layers)))
            esm, cjs = (p.relative_to(stage).as_posix() for p in self._shared)
            self.record = {"custom_layers_js": {"esm": esm, "cjs": cjs}}
        else:
            self.model = tfjs.graph_model(form.model())

    def emit(self, precision: str):
        from converter.emitters import tfjs

        self.progress.step(f"writing {self.target.folder}/{precision}")
        files = tfjs.write(self.model, precision, self.folder(precision)) + self._shared
        return self.artifact(precision, files, quantization=QUANTIZATION.get(precision))
