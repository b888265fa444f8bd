"""`srconvert convert` (and each release of `build`): one way through.

plan (with a release's post-steps) -> the source's forms (fixes,
optimisations) -> pipeline.execute: each target's every precision emitted,
each submitted to parity as soon as it is written, the source as reference
-> manifest, reports and the post-steps, all inside a staging folder that is
renamed into place only when everything passed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from converter import sources, targets
from converter.bundle import manifest, staging
from converter.core import memory, tf_runtime
from converter.core.errors import BadInput, ParityFailed
from converter.core.input_size import Sizes
from converter.core.photos import DEFAULT_IMAGES
from converter.core.precisions import DEFAULT as DEFAULT_PRECISIONS
from converter.core.precisions import DEFAULT_GATES, Gate
from converter.core.progress import Progress
from converter.core.user_layers import code_record
from converter.emitters.onnx_bundle import DEFAULT_OPSET
from converter.parity import report
from converter.parity.client import failed as client_failed
from converter.pipeline import execute, withhold
from converter.pipeline import plan as planning


@dataclass
class ConvertOptions:
    source: Path
    out: Path
    formats: tuple[str, ...] = targets.DEFAULT_FORMATS
    precisions: tuple[str, ...] = DEFAULT_PRECISIONS
    tfjs_models: tuple[str, ...] | None = None
    """None: the plan picks per source (plan.resolve)."""
    input_range: tuple[float, float] | None = None
    """None: measured from the model where its behaviour tells, else assumed (parity.input_range)."""
    input_range_origin: str = "option"
    """Where a given `input_range` came from: option (--input-range), recipe, or assumed (a zoo's recipes)."""
    input_range_reason: str | None = None
    """Why a given range is assumed (origin "assumed")."""
    verify: bool = True
    force: bool = False
    backend: str = "wasm"
    gates: dict[str, Gate] = field(default_factory=lambda: dict(DEFAULT_GATES))
    gated: frozenset[str] = frozenset()
    """The precisions the user or recipe set a gate for (a gate for one not built is refused)."""
    optional_precisions: frozenset[str] = frozenset()
    """Precisions the run can do without (a zoo's defaults): an artifact of one that fails its gate is
    not published, where everything else passed (pipeline.withhold)."""
    images_dir: Path | None = DEFAULT_IMAGES
    images_required: bool = False
    """`images_dir` was named (--parity-images): it must give a usable photo."""
    user_layers: dict[str, type] = field(default_factory=dict)
    allow_lambda: bool = False
    disabled_fixes: frozenset[str] = frozenset()
    opset: int = DEFAULT_OPSET
    onnx_layout: str | None = None
    """None: the source's own layout (NCHW for an ONNX source, else NHWC)."""
    onnx_exporter: str = "auto"
    """See onnx_bundle.export."""
    calibration_images: Path | None = DEFAULT_IMAGES
    arch: str | None = None
    arch_params: dict[str, Any] = field(default_factory=dict)
    """Override family detection for weights-only files."""
    channels: int | None = None
    """Input channels the model is expected to take (default 3)."""
    optimize: bool = True
    """Apply the lean-graph passes (converter/optimize)."""
    browser: bool = False
    """Verify in Chromium too (WebGL, WebGPU; see backends/chromium)."""
    max_memory: int | None = None
    """The run's memory budget in bytes (None: derived; see converter/memory)."""
    max_compute: float | None = None
    """MACs per input pixel a model may do (None: converter.graphs.compute's ceiling)."""
    input_size: Any = None
    """input_size.InputSize: the patch a TF.js graph of a graph source is built at (--input-size; plan.resolve
    picks one for a graph that reads its size)."""
    tfjs_free_size: bool = False
    """--tfjs-free-size: a graph that reads its size gets TF.js shape ops instead of a patch size."""
    check_page: bool = True
    """Write check.html, the bundle's self-check in a user's browser (parity.check_page), when the run verifies."""
    vendor_libs: bool = False
    """Copy the check page's libraries into the bundle (check/libs/) instead of naming them on a CDN."""
    release: dict[str, Any] = field(default_factory=dict)
    """A release's name, version, license and description, for the model cards its targets write."""
    target_options: dict[str, Any] = field(default_factory=dict)
    """The values of options a target declares (targets.base.Target.options) that no field above holds."""

    @classmethod
    def from_cli(cls, params: dict[str, Any], user_layers: dict[str, type]) -> "ConvertOptions":
        """`srconvert convert`'s options (Click's parsed `params`), with the
        user's layer classes already imported: one of the two mappings onto
        a run's options (`from_recipe` is the other)."""
        from converter.architectures import parse_overrides as parse_arch_params
        from converter.parity.gates import parse_overrides

        gates = params["gates"]
        declared = {option.name for option in targets.cli_options()}
        held = {f.name for f in dataclasses.fields(cls)} | {"tfjs_backend"}  # --tfjs-backend sets `backend`
        return cls(
            source=params["source"], out=params["out"], formats=params["formats"], precisions=params["precisions"],
            tfjs_models=params["tfjs_models"], input_range=params["input_range"], verify=not params["no_verify"],
            force=params["force"], channels=params["channels"], optimize=not params["no_optimize"],
            backend=params["tfjs_backend"], gates=parse_overrides(gates),
            gated=frozenset(gate.split(":", 1)[0] for gate in gates),
            images_dir=params["parity_images"] or DEFAULT_IMAGES, images_required=params["parity_images"] is not None,
            user_layers=user_layers, allow_lambda=params["allow_lambda"], disabled_fixes=frozenset(params["no_fix"]),
            opset=params["opset"], onnx_layout=params["onnx_layout"], onnx_exporter=params["onnx_exporter"],
            calibration_images=params["calibration_images"] or DEFAULT_IMAGES, arch=params["arch"],
            arch_params=parse_arch_params(params["arch_params"]), browser=params["browser"],
            input_size=params["input_size"], tfjs_free_size=params["tfjs_free_size"],
            max_memory=params["max_memory"], max_compute=params["max_compute"],
            check_page=not params["no_check_page"], vendor_libs=params["vendor_libs"],
            target_options={name: params[name] for name in sorted(declared - held)},
        )

    @classmethod
    def from_recipe(cls, recipe, source: Path, out: Path, given_weights: bool = False, **run: Any) -> "ConvertOptions":
        """A release's options: its recipe (release.recipes.Recipe) built from
        `source` into `out`, with `run`'s settings of the build (verify,
        force, browser, budgets, the check page)."""
        from converter.parity.gates import parse_overrides

        return cls(
            source=source, out=out, formats=recipe.formats, precisions=recipe.precisions,
            tfjs_models=recipe.tfjs_models, input_range=recipe.input_range,
            input_range_origin="assumed" if recipe.input_range_assumed else "recipe",
            input_range_reason=recipe.input_range_assumed, gates=parse_overrides(recipe.gates),
            gated=frozenset(gate.split(":", 1)[0] for gate in recipe.gates),
            optional_precisions=frozenset(recipe.optional_precisions),
            calibration_images=recipe.calibration_images or DEFAULT_IMAGES, arch=recipe.arch,
            arch_params=recipe.params_for(given_weights), input_size=recipe.input_size,
            release={"name": recipe.name, "version": recipe.version, "license": recipe.license,
                     "description": recipe.description},
            **run,
        )

    def source_options(self) -> sources.SourceOptions:
        return sources.SourceOptions(self.arch, self.arch_params, self.user_layers, self.allow_lambda,
                                     self.max_memory, self.input_size, max_compute=self.max_compute)


@dataclass
class ConvertResult:
    out: Path
    manifest: dict[str, Any]
    artifacts: list[manifest.Artifact]
    passed: bool
    input_range: Any = None
    """parity.input_range.RangeFinding: the range the run used, and how it is known."""
    plan: Any = None
    """The plan.Plan the run carried out (Plan.from_manifest rebuilds it from `manifest`)."""


def convert(options: ConvertOptions, progress: Progress | None = None,
            post: planning.PostSteps | None = None) -> ConvertResult:
    """`post`: what a release adds to the plan (release.build.ReleaseSpec)."""
    progress = progress or Progress(False)
    options = dataclasses.replace(options, out=staging.destination(options.out))
    staging.check_destination(options.out, options.force, options.source)  # before any work, and again below
    info = sources.describe(options.source, options.source_options())
    options = planning.resolve(options, info, progress)
    plan = planning.make(options, info, post)
    tracing = any(step.target.needs_tensorflow for step in plan.steps)
    if tracing or (options.verify and info.format not in sources.detect.GRAPH_FORMATS):
        # Its start-up overlaps reading the source and every bundle TensorFlow plays no part in; a Keras
        # source's reference needs it in any case.
        tf_runtime.preload(with_tensorflowjs=tracing)
    if options.images_required:  # the photos the range is measured and parity run on, before any work
        from converter.parity.inputs import check_folder

        check_folder(options.images_dir, options.channels)  # a TF.js patch takes photos mirrored out to it
    runtimes = None
    if options.verify:
        from converter.backends.lanes import Runtimes

        runtimes = Runtimes(plan.runtimes, options.backend)
        runtimes.prestart()  # fails fast (exit 3) on a missing Node, before any heavy work

    stage = staging.create(options.out)
    try:
        with memory.guard(info.budget, options.source, cleanup=lambda: staging.discard(stage)):
            result = _run(plan, info, options, stage, runtimes, progress)
    except BaseException:
        staging.discard(stage)
        raise
    finally:
        if runtimes is not None:
            runtimes.close()
    if not result.passed:
        _recheck(stage, options)
        failed_dir = staging.keep_failed(stage, options.out)
        lines = report.failed(result.artifacts) + client_failed(result.manifest["parity"].get("client"))
        raise ParityFailed(
            f"{len(lines)} parity check(s) failed: " + "; ".join(lines),
            path=options.source,
            hint=f"the bundle is kept for inspection in {failed_dir}; see its parity.md",
            details={"failed_dir": str(failed_dir), "manifest": result.manifest},
        )
    _recheck(stage, options)
    staging.publish(stage, options.out)
    result.out = options.out
    if result.input_range.assumed:  # said once the run is done, beside its results (a failure says its own)
        progress.warn(result.input_range.warning())
    return result


def _recheck(stage: Path, options: ConvertOptions) -> None:
    """What the run will replace is still srconvert's (nothing foreign
    appeared there while it ran); else the run ends with nothing written."""
    try:
        staging.check_destination(options.out, True, options.source)
    except BadInput:
        staging.discard(stage)
        raise


def _run(plan: planning.Plan, info, options: ConvertOptions, stage: Path, runtimes,
         progress: Progress) -> ConvertResult:
    progress.step(f"reading {info.path} ({info.format})")
    options = plan.settings(options)  # from here on, every decision is the plan's: the emitters read these
    forms = execute.load_forms(plan, info, options.source_options(), options.disabled_fixes, options.optimize,
                               options.input_size)
    form, post = forms.source, plan.post
    finding, probe = decide_input_range(form, options, progress, verifying=runtimes is not None)
    options = dataclasses.replace(options, input_range=finding.range)
    verification = None
    if runtimes is not None:
        from converter.parity.engine import Verification

        verification = Verification.start(form.facts, stage, options.input_range, options.images_dir, options.gates,
                                           runtimes, progress, options.images_required, plan.patch,
                                           source=info.path,
                                           output_range=(post.manifest_fields().get("output_range") if post else None))
    # A release verified in the browser is also run by its real client.
    client = post.client_check(form.facts, plan.patch) if post and verification and options.browser else None
    emission = execute.Emission(forms, options, stage, progress,
                                Sizes.of_shape(form.facts.input_shape, form.facts.input_multiple))
    done = execute.execute(plan, form, execute.emitted(plan, emission), verification, progress,
                           client.reference_inputs() if client else [], client,
                           probes=probe.inputs.batches if probe else (),
                           alongside=execute.reference_alongside(plan, emission))
    measured = done.artifacts  # the reports show every artifact that ran, published or not
    artifacts, summary = withhold.withhold(stage, measured, done.summary, options.optional_precisions)
    for record in summary.get("not_published", []):
        progress.warn(f"{record['entry']}: {record['reason']}")
    if probe is not None:  # the stand-in's finding, confirmed on the source's own outputs
        from converter.parity import input_range

        finding = input_range.confirmed(finding, probe.inputs, verification.reference.probe_outputs, probe.stand_in)
        _say_measured(finding, progress)
    check = None
    # Against a reference that proves nothing (constant or not finite), a page would check nothing either.
    if verification is not None and options.check_page and verification.reference.vacuous() is None:
        from converter.parity import check_page

        progress.step("writing the self-check page (check.html)")
        check = check_page.write(stage, verification.reference, artifacts, options.gates, done.exemptions,
                                 options.vendor_libs, verification.pixel_range)
    applied = [*forms.applied, *(a for e in emission.emitters for a in e.applied)]
    source_label = post.source_label if post else str(options.source)
    keras = forms.keras
    document = manifest.document(
        info, done.facts, finding, applied, targets.records(emission.emitters),
        keras.fixed_topology if keras is not None else None, artifacts, summary,
        runtimes.versions() if verification is not None else {},
        source_label=source_label, bundle=options.out,
        code=code_record(options.user_layers, options.allow_lambda), check_page=check,
        libraries=targets.libraries(), plan=plan.as_dict(),
        **(post.manifest_fields() if post else {}),
    )
    if post is not None and summary["pass"] is not False:
        precision = post.write_entry(stage, document, artifacts)
        if client is not None:
            progress.step(f"running the npm package in UpscalerJS, tiled ({client.tiling.describe()})")
            summary["client"] = client.verify(verification, stage, precision)
            summary["pass"] = summary["client"]["pass"]
            document = manifest.with_parity(document, summary)
    head = [report.headline(source_label, summary, measured), range_line(finding)]
    if verification is not None:
        verification.write_html(stage / "parity.html", head)
    else:
        from converter.parity import html

        html.write_unverified(stage / "parity.html", head)
    report.write(stage, measured, summary, timings=post is None,
                 browser=runtimes.browser() if runtimes is not None else None, memory_budget=info.budget.limit,
                 head=head)
    document = manifest.write(stage / manifest.MANIFEST_NAME, document)
    if post is not None and summary["pass"] is not False:
        post.write_package(stage, document, artifacts)
    return ConvertResult(stage, document, artifacts, summary["pass"] is not False, finding, plan)


@dataclass
class RangeProbe:
    """A range measured first on a stand-in for the source (its direct ONNX
    translation in onnxruntime), which the source's reference confirms."""

    inputs: Any
    """parity.input_range.Probe: the batches the source runs too."""
    stand_in: str


def decide_input_range(form, options: ConvertOptions, progress: Progress, verifying: bool = False):
    """The range the run uses, and how it is known (parity.input_range):
    the user's or the recipe's, else measured on a photo where the model's
    behaviour tells, else assumed (`convert` then warns, naming --input-range).

    And the RangeProbe to confirm, or None. A Keras source that is verified
    is measured on its direct ONNX translation first, in onnxruntime, which
    takes a fraction of a second where TensorFlow takes seconds to start and
    load it: parity starts at once, and the source's reference runs the same
    photo crops, confirming the finding (input_range.confirmed) before
    anything is written."""
    from converter.parity import input_range

    if options.input_range is not None:
        return input_range.given(options.input_range, options.input_range_origin, options.input_range_reason), None
    shape, multiple = form.facts.input_shape, form.facts.input_multiple
    photo = input_range.photo(options.images_dir)
    stand_in = _translation(form, options) if verifying else None
    if stand_in is not None:
        inputs = input_range.probe(shape, multiple, photo)
        if isinstance(inputs, input_range.RangeFinding):  # nothing to measure on: assumed, whatever runs it
            return inputs, None
        progress.step("measuring the input range the model takes, on a photo at 0:1 and at 0:255 "
                      "(its ONNX translation first; the source confirms it)")
        try:
            finding = input_range.scored(inputs, input_range.run(stand_in, inputs))
            return finding, RangeProbe(inputs, "its ONNX translation")
        except Exception:  # noqa: BLE001 - the translation will fail parity by name; measure on the source
            pass
    progress.step("measuring the input range the model takes, on a photo at 0:1 and at 0:255")
    finding = input_range.measure(form.reference(), shape, multiple, photo)
    _say_measured(finding, progress)
    return finding, None


def _translation(form, options: ConvertOptions):
    """The source's direct ONNX translation in onnxruntime, in memory, to
    measure its range on; None for a source whose own reference is quick to
    start (an ONNX graph's) or that the direct map does not cover."""
    from converter.backends.onnxruntime.runner import OnnxRuntimeRunner
    from converter.emitters import onnx_bundle
    from converter.forms.keras_form import KerasForm
    from converter.graphs import onnx_graph

    if not isinstance(form, KerasForm):
        return None
    proto = onnx_bundle.direct(form.canonical, options.opset, options.onnx_layout)
    if proto is None:
        return None
    return OnnxRuntimeRunner(None, options.onnx_layout, session=onnx_graph.session(proto, threads=1))


def _say_measured(finding, progress: Progress) -> None:
    from converter.parity import input_range

    if not finding.assumed:
        progress.note(f"input range {input_range.text(finding.range)}, measured: {finding.reason}")


def range_line(finding) -> str:
    """The input range as every report states it, with how it is known."""
    from converter.parity import input_range

    line = f"Input range {input_range.text(finding.range)} ({finding.origin}: {finding.reason})."
    return line + (" Pass --input-range if the publisher says otherwise." if finding.assumed else "")
