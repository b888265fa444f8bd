"""The plan: every target and precision a run will write, and the runtimes
that will verify them, computed from the options and the source before any
work starts. Whatever cannot apply is refused here, with nothing written."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol

from converter.core.errors import BadInput
from converter.core.precisions import PRECISIONS
from converter.forms import checks
from converter.sources import SourceInfo, detect
from converter.targets import FORMATS, TARGETS, Target, precisions_of, selected
from converter.targets.base import KERAS_FORM, ONNX_FORM


class PostSteps(Protocol):
    """What a caller adds to the plan, at plan time, after the bundle is
    written and verified (a release: release.ReleaseSpec writes the npm
    package and runs it in its client). The pipeline runs these at fixed
    points and knows nothing of npm or UpscalerJS; nothing in it imports the
    code that implements them."""

    source_label: str
    """How the manifest names the source."""
    names: tuple[str, ...]
    """The steps, as the plan lists them."""

    def check(self, plan: "Plan") -> None:
        """Refuse, before any work, a plan the steps cannot follow (BadInput)."""

    def manifest_fields(self) -> dict[str, Any]:
        """Keyword arguments for manifest.document (output_range, release)."""

    def client_check(self, facts, patch=None):
        """The check of the result in its client (parity.client.ClientCheck), or None."""

    def record(self) -> dict[str, Any]:
        """What the plan records of the steps, as data (JSON), so `verify`
        re-runs the client check from a manifest (release.build.RecordedRelease)."""

    def write_entry(self, stage, manifest: dict[str, Any], artifacts: list) -> str:
        """Before the manifest is final: the file the client check loads;
        returns the precision it points at."""

    def write_package(self, stage, manifest: dict[str, Any], artifacts: list) -> None:
        """After the manifest: the rest of the package."""


@dataclass(frozen=True)
class Step:
    target: Target
    precisions: tuple[str, ...]
    runtimes: tuple[str, ...]
    form: str
    """The canonical form it is emitted from (targets.base.KERAS_FORM, ONNX_FORM)."""

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target.name, "precisions": list(self.precisions), "runtimes": list(self.runtimes),
                "form": self.form}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Step":
        return cls(TARGETS[data["target"]], tuple(data["precisions"]), tuple(data["runtimes"]), data["form"])


@dataclass(frozen=True)
class Plan:
    """Every decision of a run that changes what it writes or what it
    checks, made before any work. The manifest stores it (`as_dict`), and
    `verify` carries out the plan it reads back (`from_dict`) with the
    driver `convert` uses."""

    steps: tuple[Step, ...]
    """In emission order: targets that need no TensorFlow first, so their
    runtimes verify them while TensorFlow imports."""
    onnx_layout: str
    patch: Any = None
    """input_size.InputSize the TF.js graph of an ONNX graph is built at, where
    one is set (onnx_form.OnnxForm.at_patch); every other artifact keeps the
    sizes the source takes."""
    post: PostSteps | None = field(default=None, compare=False)
    """What the run does once the bundle is verified (a release's npm
    package and client check): code, which the plan records as `release`."""
    disabled_fixes: tuple[str, ...] = ()
    """--no-fix: the fixes left out, which change the source's own form (and so the reference)."""
    optimize: bool = True
    """The lean-graph passes run (--no-optimize: not)."""
    opset: int | None = None
    """The ONNX opset an export writes (--opset)."""
    onnx_exporter: str | None = None
    """--onnx-exporter: how a Keras form becomes ONNX."""
    free_size: bool = False
    """--tfjs-free-size: a graph that reads its size keeps TF.js shape ops."""
    gates: dict[str, Any] = field(default_factory=dict)
    """Each built precision's gate (core.precisions.Gate), the user's or recipe's where given."""
    optional: tuple[str, ...] = ()
    """Precisions the run can publish without (a zoo's defaults: pipeline.withhold)."""
    channels: int | None = None
    """The input channels the source was checked to take, where given."""
    max_compute: float | None = None
    """--max-compute: MACs per input pixel the source may do (None: the default ceiling)."""
    check_page: bool = False
    """The bundle gets its self-check page (check.html)."""
    release: dict[str, Any] | None = None
    """What the post-steps record of themselves (PostSteps.record): their
    names, and what their client check runs."""

    @property
    def runtimes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for step in self.steps for name in step.runtimes))

    def runtime_counts(self) -> dict[str, int]:
        """How many artifacts each runtime verifies (the time estimate reads it)."""
        counts: dict[str, int] = {}
        for step in self.steps:
            for name in step.runtimes:
                counts[name] = counts.get(name, 0) + len(step.precisions)
        return counts

    def as_dict(self) -> dict[str, Any]:
        """Plain data (JSON): targets by name, the patch as HxW, gates as
        metric and threshold. No path: a release's manifest is the same on
        every machine."""
        return {"steps": [step.as_dict() for step in self.steps], "onnx_layout": self.onnx_layout,
                "patch": str(self.patch) if self.patch is not None else None,
                "disabled_fixes": list(self.disabled_fixes), "optimize": self.optimize, "opset": self.opset,
                "onnx_exporter": self.onnx_exporter, "free_size": self.free_size,
                "gates": {name: gate.as_dict() for name, gate in self.gates.items()},
                "optional": list(self.optional), "channels": self.channels, "max_compute": self.max_compute,
                "check_page": self.check_page, "release": self.release}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Plan":
        """The plan `as_dict` gave: equal to the plan that ran, but for its
        post-steps' code (`release` keeps what they record)."""
        from converter.core.input_size import InputSize
        from converter.core.precisions import Gate

        patch = InputSize.parse(data["patch"]) if data.get("patch") else None
        return cls(tuple(Step.from_dict(step) for step in data["steps"]), data["onnx_layout"], patch,
                   disabled_fixes=tuple(data.get("disabled_fixes", ())), optimize=data.get("optimize", True),
                   opset=data.get("opset"), onnx_exporter=data.get("onnx_exporter"),
                   free_size=data.get("free_size", False),
                   gates={name: Gate.from_dict(gate) for name, gate in (data.get("gates") or {}).items()},
                   optional=tuple(data.get("optional", ())), channels=data.get("channels"),
                   max_compute=data.get("max_compute"), check_page=data.get("check_page", False),
                   release=data.get("release"))

    @classmethod
    def of_bundle(cls, document: dict[str, Any], browser: bool = False) -> "Plan":
        """The plan a bundle's manifest stores (`verify`), with the browser
        runtimes where `browser`; a manifest from before plans were stored
        gives what it records of one (`from_manifest`)."""
        if "plan" not in document:
            return cls.from_manifest(document, browser)
        plan = cls.from_dict(document["plan"])
        steps = tuple(dataclasses.replace(step, runtimes=runtimes_of(step.target, browser)) for step in plan.steps)
        return dataclasses.replace(plan, steps=steps)

    def settings(self, options):
        """`options` (pipeline.convert.ConvertOptions) with every decision
        this plan made in place of what was asked: what the emitters read."""
        return dataclasses.replace(options, onnx_layout=self.onnx_layout,
                                   disabled_fixes=frozenset(self.disabled_fixes), optimize=self.optimize,
                                   opset=self.opset if self.opset is not None else options.opset,
                                   onnx_exporter=self.onnx_exporter or options.onnx_exporter,
                                   tfjs_free_size=self.free_size)

    @classmethod
    def from_manifest(cls, document: dict[str, Any], browser: bool = False) -> "Plan":
        """The plan a bundle was made by, from what its manifest records (its
        artifacts' targets, precisions and layouts, its patch), so `verify`
        re-runs what `convert` ran. `browser`: with the browser runtimes."""
        from converter.core.input_size import InputSize

        by_target: dict[str, list[dict[str, Any]]] = {}
        for artifact in document.get("artifacts") or []:
            by_target.setdefault(artifact["format"], []).append(artifact)
        unknown = sorted(set(by_target) - set(TARGETS.names()))
        if unknown:
            raise BadInput(f"the manifest names targets this srconvert does not write: {', '.join(unknown)}",
                           hint="verify it with the srconvert version that made it (manifest.json's tool)")
        steps = emission_order(
            Step(target, tuple(a["precision"] for a in by_target[target.name]), runtimes_of(target, browser),
                 _recorded_form(target, document))
            for target in TARGETS if target.name in by_target)
        layouts = [a.get("layout", "nhwc") for a in document.get("artifacts") or []
                   if TARGETS[a["format"]].follows_layout]
        layout = layouts[0] if layouts else source_layout((document.get("source") or {}).get("format"))
        size = (document.get("model") or {}).get("input_size")
        return cls(steps, layout, InputSize.parse(size) if size else None)


def source_layout(fmt: str | None) -> str:
    """The ONNX layout a source of format `fmt` keeps unless --onnx-layout
    says otherwise: NCHW for a graph (ONNX, a PyTorch checkpoint), else NHWC."""
    return "nchw" if fmt in detect.GRAPH_FORMATS else "nhwc"


def emission_order(steps) -> tuple[Step, ...]:
    """Targets that need no TensorFlow first (stable otherwise), so their
    runtimes verify them while TensorFlow imports."""
    return tuple(sorted(steps, key=lambda step: step.target.needs_tensorflow))


def _recorded_form(target: Target, document: dict[str, Any]) -> str:
    """The form a target was emitted from, as its emitter recorded it
    (Target.recorded_form); Keras where it records nothing of it."""
    return target.recorded_form(document) if target.recorded_form is not None else KERAS_FORM


def resolve(options, info: SourceInfo, progress=None):
    """The options with what the user left to srconvert decided for this
    source: the TF.js model kind, and a PyTorch checkpoint's patch size."""
    tfjs_models = options.tfjs_models or default_tfjs_models(info)
    input_size = options.input_size
    graph_traced = any(form_for(t, info) in t.fixed_size_from for t in selected(options.formats, tfjs_models))
    if options.tfjs_free_size:
        check_free_size(options, info, graph_traced)
    elif input_size is None and info.format in detect.GRAPH_FORMATS and graph_traced:
        input_size = picked_size(info, progress)
    return dataclasses.replace(options, tfjs_models=tfjs_models, input_size=input_size)


def default_tfjs_models(info: SourceInfo) -> tuple[str, ...]:
    """A layers model (UpscalerJS's usual kind) where the source gives one,
    else a graph model: a graph source whose ops the Keras rebuild lacks."""
    if info.format in detect.GRAPH_FORMATS and not translatable(info):
        return ("graph",)
    return ("layers",)


def picked_size(info: SourceInfo, progress=None):
    """For an ONNX graph, or a checkpoint srconvert exported to one, the
    patch size its TF.js graph is built at when the graph computes from its
    size (window partitions, crops): the size the error would suggest, said
    out loud. The ONNX artifacts keep every size the source takes. One size,
    not TF.js shape ops (--tfjs-free-size), because TF.js 4.22's WebGPU
    backend fails the shape ops such graphs need (RCAN: "e.subarray is not a
    function"), while a fixed graph runs on every backend."""
    from converter.core.input_size import InputSize
    from converter.forms import onnx_form

    if not onnx_form.computes_from_size(info.payload):
        return None
    size = InputSize.parse(onnx_form.suggested_size(info.payload))
    if progress is not None:
        what = info.architecture["family"] if info.architecture else "the graph"
        progress.note(f"{what} computes from its input size: its TF.js model is built at {size} "
                      "(--input-size chooses another); ONNX keeps every size the source takes")
    return size


def check_free_size(options, info: SourceInfo, graph_traced: bool) -> None:
    """--tfjs-free-size asks for a TF.js graph at every size: refused where
    nothing would be written so, or where the translation cannot follow the size."""
    from converter.forms import onnx_form
    from converter.graphs import onnx_ops

    if options.input_size is not None:
        raise BadInput("--tfjs-free-size and --input-size ask for opposite things", path=info.path,
                       hint="give one of them")
    if info.format not in detect.GRAPH_FORMATS or not graph_traced or not onnx_form.computes_from_size(info.payload):
        raise BadInput("--tfjs-free-size would change nothing: no TF.js graph of this source reads its size",
                       path=info.path, hint="leave it out; the TF.js model takes every size the source takes")
    blockers = onnx_ops.free_size_blockers(info.payload)
    if blockers:
        raise BadInput(f"the TF.js graph cannot take a free size: {blockers[0]} needs a constant computed from "
                       f"the input's size{f' (and {len(blockers) - 1} more)' if len(blockers) > 1 else ''}",
                       path=info.path, hint="leave --tfjs-free-size out: its TF.js graph is then built at one "
                       "patch size; nothing was written")


def make(options, info: SourceInfo, post: PostSteps | None = None) -> Plan:
    """The plan of a run, refusing what cannot apply; `post`: the steps a
    release adds, checked against the plan here."""
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
    steps = emission_order(steps)
    built = {p for step in steps for p in step.precisions}
    stray = sorted(options.gated - built)
    if stray:
        raise BadInput(f"--gate {', '.join(stray)}: the run builds no {' or '.join(stray)} artifact, so the gate "
                       "would check nothing", hint=f"this run builds {', '.join(sorted(built))}; add the precision "
                       "to --quantize, or drop the gate")
    layout = options.onnx_layout or source_layout(info.format)
    fixed = any(step.form in step.target.fixed_size_from for step in steps)
    if options.input_size is not None and not fixed:
        verb = "takes" if len(steps) == 1 else "take"
        raise BadInput(f"--input-size {options.input_size} would fix nothing: "
                       f"{' and '.join(step.target.label for step in steps)} {verb} every size the source takes",
                       path=info.path, hint="leave --input-size (or a recipe's input_size) out; it sets the patch "
                       "a TF.js graph model of an ONNX graph is built at")
    plan = Plan(steps, layout, options.input_size if fixed else None, post,
                disabled_fixes=tuple(sorted(options.disabled_fixes)), optimize=options.optimize,
                opset=options.opset, onnx_exporter=options.onnx_exporter, free_size=options.tfjs_free_size,
                gates={p.name: options.gates[p.name] for p in PRECISIONS if p.name in built},
                optional=tuple(p.name for p in PRECISIONS if p.name in built and p.name in options.optional_precisions),
                channels=options.channels,
                max_compute=options.max_compute, check_page=options.verify and options.check_page)
    if post is not None:
        post.check(plan)
        plan = dataclasses.replace(plan, release=post.record())
    return plan


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
    from converter.forms.onnx_form import static_size
    from converter.graphs import onnx_ops

    return static_size(info.payload) is None and not onnx_ops.keras_blockers(info.payload)


def runtimes_of(target: Target, browser: bool) -> tuple[str, ...]:
    """The runtimes that verify `target`: with --browser, a real browser too."""
    return target.runtimes + (target.browser_runtimes if browser else ())


def display_order(artifacts: list) -> list:
    """Artifacts in registry order (as reports and manifests list them)."""
    rank = {target.name: index for index, target in enumerate(TARGETS)}
    return sorted(artifacts, key=lambda a: rank[a.format])
