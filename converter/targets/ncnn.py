"""The NCNN target (issue 44): a folder Upscayl takes as a custom model, as
do realesrgan-ncnn-vulkan, chaiNNer and the other ncnn-vulkan upscalers.

Each precision is `ncnn/<precision>/models/<S>x-<name>.param` and `.bin`:
- the folder is named `models`, as Upscayl asks of a custom-models folder
  and as upscayl-bin asks of its `-m` path (it pads tiles only for one);
- the scale is in the name once, the way Upscayl (and, on Linux and macOS,
  upscayl-bin itself) reads it: `x2`/`2x` and the like, with no other such
  token left in the name to be read first;
- blobs `data` and `output`, values 0..1 at both ends, the output clamped
  in the graph, only layers Upscayl's build has (emitters/ncnn).

float32 stores the weights as float32, float16 as float16 (half the file);
Upscayl computes both with float16 storage on a GPU that has it. Made from
the float32 ONNX base the ONNX target shares (NCHW), so its passes run once.
Verified in ncnn on the CPU, in ncnn on Vulkan with float16 storage, and in
upscayl-bin itself (backends/ncnn, backends/upscayl).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from converter.core.errors import BadInput
from converter.targets import onnx as onnx_target
from converter.targets.base import KERAS_FORM, ONNX_FORM, Target

FOLDER = "ncnn"
MODELS = "models"
SCALES = (2, 3, 4)
"""The scales Upscayl reads from a model's name (any other reads as 4)."""
SCALE_TOKEN = re.compile(r"x\d|\dx", re.IGNORECASE)
QUANTIZATION = {"float16": {"weights": "float16 (ncnn's float16 storage)",
                            "activations": "float32 on the CPU; float16 storage on Vulkan, as Upscayl runs it"}}
HINT = "--format onnx converts it as it is; README lists the NCNN ops; nothing was written"


def upscayl_name(stem: str, scale: int) -> str:
    """`<S>x-<stem>`, with every other scale-like token (`x4`, `2X`) taken out
    of the stem: Upscayl reads the first it finds, and upscayl-bin on Linux
    tries `x1` before the others."""
    while SCALE_TOKEN.search(stem):
        stem = SCALE_TOKEN.sub("", stem)
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "-", stem)
    stem = re.sub(r"([-_.])[-_.]+", r"\1", stem).strip("-_.") or "model"
    return f"{scale}x-{stem}"


def check(target: Target, info: Any, form: str, options: Any) -> None:
    """Refuse, before any work, a graph with ops NCNN gets no layer for here."""
    from converter.emitters import ncnn
    from converter.sources import onnx_import

    if form == ONNX_FORM:
        missing = ncnn.unsupported(info.payload)
        onnx_import.refuse_unsupported([f"{op} ({node})" for op, node in missing.items()], info.path,
                                       "for NCNN (Upscayl)", HINT)


class Emitter(onnx_target.Emitter):
    def __init__(self, target: Target, form: Any, options: Any, stage: Path, progress: Any,
                 shared: dict | None = None) -> None:
        super().__init__(target, form, dataclasses.replace(options, onnx_layout="nchw"), stage, progress, shared)
        self._layers: list | None = None
        self._name: str | None = None

    def emit(self, precision: str):
        from converter.graphs import ncnn_format

        layers, name = self._translated()
        self.progress.step(f"writing {FOLDER}/{precision}/{MODELS}/{name}")
        folder = self.folder(precision) / MODELS
        folder.mkdir(parents=True, exist_ok=True)
        files = ncnn_format.write(layers, folder / name, float16=precision == "float16")
        return self.artifact(precision, files, layout="nchw", quantization=QUANTIZATION.get(precision),
                             unsupported_backends=self.target.unsupported_for(precision))

    def _translated(self) -> tuple[list, str]:
        """The NCNN layers (once for every precision) and the model's name."""
        if self._layers is None:
            from converter.emitters import hf_folder, ncnn
            from converter.targets.transformersjs import measured_scale

            form, options = self.form, self.options
            if form.input_multiple > 1:  # known once the form is made, not at plan time; nothing is written yet
                raise BadInput(f"the model takes sizes that are multiples of {form.input_multiple} only, and Upscayl "
                               "feeds its tiles at any size", path=form.path, hint=HINT)
            scale = measured_scale(self.base, form.input_channels, form.input_multiple)
            if scale not in SCALES:
                raise BadInput(f"the model upscales {scale}x, and Upscayl runs models of scale "
                               f"{', '.join(map(str, SCALES))} only", path=form.path, hint=HINT)
            value_range = tuple(options.input_range)
            try:
                self._layers = ncnn.layers(hf_folder.for_pipeline(self.base, value_range, value_range))
            except ncnn.Untranslatable as exc:
                raise BadInput(str(exc), path=form.path, hint=HINT) from None
            stem = (options.release or {}).get("name") or Path(str(options.source)).stem
            self._name = upscayl_name(str(stem), scale)
        return self._layers, self._name


def ncnn_weights(files: list[Path]) -> int:
    """The weights the .param declares: each convolution's weights and
    biases, each PReLU's slopes."""
    from converter.graphs import ncnn_format

    total = 0
    for path in files:
        if path.suffix == ".param":
            total += ncnn_format.weight_count(path.read_text(encoding="ascii"))
    return total


NCNN = Target(
    "ncnn", "ncnn", None, FOLDER, ("float32", "float16"), (ONNX_FORM, KERAS_FORM),
    ("ncnn", "ncnn-vulkan", "upscayl-bin"), (), Emitter,
    needs_tensorflow=False, keras_builder=onnx_target.traces_with_tf2onnx, label="NCNN", default=False,
    channels=(3,),  # the app and the pipeline feed the network RGB
    refuses=check, weights=ncnn_weights, one_range=True, libraries=("onnx",),
    recorded_form=onnx_target.exported_form,
    # Upscayl computes with float16 storage either way: the half-size file is the one to ship.
    pack=f"upscayl/{MODELS}", pack_prefers=("float16", "float32"),
)
