"""The plan: every target and precision a run will write, and the runtimes
that will verify them, computed from the options and the source before any
work starts. Whatever cannot apply is refused here, with nothing written."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from converter import checks
from converter.errors import BadInput
from converter.sources import SourceInfo, detect
from converter.targets import FORMATS, TARGETS, Target, precisions_of, selected
from converter.targets.base import KERAS_FORM, ONNX_FORM


@dataclass(frozen=True)
class Step:
    target: Target
    precisions: tuple[str, ...]
    runtimes: tuple[str, ...]
    form: str
    """The canonical form it is emitted from (targets.base.KERAS_FORM, ONNX_FORM)."""


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    """In emission order: targets that need no TensorFlow first, so their
    runtimes verify them while TensorFlow imports."""
    onnx_layout: str

    @property
    def runtimes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for step in self.steps for name in step.runtimes))


def resolve(options, info: SourceInfo, progress=None):
    """The options with what the user left to srconvert decided for this
    source: the TF.js model kind, and a PyTorch checkpoint's patch size."""
    tfjs_models = options.tfjs_models or default_tfjs_models(info)
    input_size = options.input_size
    if input_size is None and info.format in detect.CHECKPOINT_FORMATS and "tfjs" in options.formats:
        input_size = picked_size(info, progress)
    return dataclasses.replace(options, tfjs_models=tfjs_models, input_size=input_size)


def default_tfjs_models(info: SourceInfo) -> tuple[str, ...]:
    """A layers model (UpscalerJS's usual kind) where the source gives one,
    else a graph model: a graph source whose ops the Keras rebuild lacks."""
    if info.format in detect.GRAPH_FORMATS and not translatable(info):
        return ("graph",)
    return ("layers",)


def picked_size(info: SourceInfo, progress=None):
    """For a checkpoint srconvert exported itself, the patch size a TF.js
    graph needs when its graph computes from its size (windowed
    transformers): the size the error would suggest, said out loud."""
    from converter import onnx_form
    from converter.input_size import InputSize

    if not onnx_form.computes_from_size(info.payload):
        return None
    size = InputSize.parse(onnx_form.suggested_size(info.payload))
    if progress is not None:
        progress.note(f"{info.architecture['family']} computes from its input size: converting at {size} "
                      "(--input-size chooses another; --format onnx alone keeps any size)")
    return size


def make(options, info: SourceInfo) -> Plan:
    targets = selected(options.formats, options.tfjs_models)
    orphans = [p for p in options.precisions if not any(p in t.precisions for t in targets)]
    if orphans:
        supported = "; ".join(f"{f}: {', '.join(precisions_of(f))}" for f in FORMATS if f in options.formats)
        raise BadInput(
            f"--quantize {', '.join(orphans)} is not available for --format {','.join(options.formats)}",
            hint=f"precisions by format: {supported}",
        )
    checks.check_source(info, options.channels, options.user_layers, options.allow_lambda)
    if options.input_size is not None and info.format not in detect.GRAPH_FORMATS:
        raise BadInput("--input-size applies to ONNX and PyTorch sources", path=info.path,
                       hint="a Keras model's input size is set in the model itself")
    forms = {t.name: form_for(t, info) for t in targets}
    for target in targets:
        target.check(info, forms[target.name], options)
    steps = [Step(t, tuple(p for p in options.precisions if p in t.precisions), runtimes_of(t, options.browser),
                  forms[t.name])
             for t in targets]
    steps.sort(key=lambda step: step.target.needs_tensorflow)
    built = {p for step in steps for p in step.precisions}
    stray = sorted(options.gated - built)
    if stray:
        raise BadInput(f"--gate {', '.join(stray)}: the run builds no {' or '.join(stray)} artifact, so the gate "
                       "would check nothing", hint=f"this run builds {', '.join(sorted(built))}; add the precision "
                       "to --quantize, or drop the gate")
    layout = options.onnx_layout or ("nchw" if info.format in detect.GRAPH_FORMATS else "nhwc")
    return Plan(tuple(steps), layout)


def form_for(target: Target, info: SourceInfo) -> str:
    """The first form in `target.reads` the source gives: its own (Keras, or
    an ONNX graph), or for an ONNX graph the Keras translation, where every
    op has one. With none, the target's first choice, which its check refuses."""
    native = ONNX_FORM if info.format in detect.GRAPH_FORMATS else KERAS_FORM
    for form in target.reads:
        if form == native or (form == KERAS_FORM and native == ONNX_FORM and translatable(info)):
            return form
    return target.reads[0]


def translatable(info: SourceInfo) -> bool:
    """Whether the Keras rebuild can take the graph: every op has a
    translation, and the size is free (the rebuild probes two sizes)."""
    from converter.onnx_form import static_size
    from converter.sources.onnx_import import translate

    return static_size(info.payload) is None and not translate.unsupported_ops(info.payload)


def runtimes_of(target: Target, browser: bool) -> tuple[str, ...]:
    """The runtimes that verify `target`: with --browser, a real browser too."""
    return target.runtimes + (target.browser_runtimes if browser else ())


def display_order(artifacts: list) -> list:
    """Artifacts in registry order (as reports and manifests list them)."""
    rank = {target.name: index for index, target in enumerate(TARGETS)}
    return sorted(artifacts, key=lambda a: rank[a.format])
