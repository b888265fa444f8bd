"""`srconvert convert`: the pipeline, one way through.

source loader -> fixes -> canonical model -> emitters -> runtime runners ->
parity comparison -> report and manifest, all inside a staging folder that is
renamed into place only when everything passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from converter import checks, fixes, keras_model, manifest, sources, staging
from converter.emitters import custom_layers_js, onnx_bundle, tfjs
from converter.errors import BadInput, ParityFailed
from converter.hashing import sha256_path
from converter.parity import gates as parity_gates
from converter.parity import inputs as parity_inputs
from converter.parity import report
from converter.progress import Progress
from converter.sources import native
from converter.user_layers import js_twins

FORMATS = ("tfjs", "onnx")
FORMAT_PRECISIONS = {"tfjs": tfjs.PRECISIONS, "onnx": onnx_bundle.PRECISIONS}
ALL_PRECISIONS = tuple(dict.fromkeys(p for ps in FORMAT_PRECISIONS.values() for p in ps))


@dataclass
class ConvertOptions:
    source: Path
    out: Path
    formats: tuple[str, ...] = FORMATS
    precisions: tuple[str, ...] = tfjs.DEFAULT_PRECISIONS
    tfjs_models: tuple[str, ...] = ("layers",)
    input_range: tuple[float, float] = (0.0, 1.0)
    verify: bool = True
    force: bool = False
    backend: str = "wasm"
    gates: dict[str, parity_gates.Gate] = field(default_factory=lambda: dict(parity_gates.DEFAULT_GATES))
    images_dir: Path | None = parity_inputs.DEFAULT_IMAGES
    user_layers: dict[str, type] = field(default_factory=dict)
    allow_lambda: bool = False
    disabled_fixes: frozenset[str] = frozenset()
    opset: int = onnx_bundle.DEFAULT_OPSET
    onnx_layout: str | None = None
    """None: the source's own layout (NCHW for an ONNX source, else NHWC)."""
    onnx_exporter: str = "auto"
    """See onnx_bundle.export."""
    calibration_images: Path | None = parity_inputs.DEFAULT_IMAGES
    arch: str | None = None
    arch_params: dict[str, Any] = field(default_factory=dict)
    """Override family detection for weights-only files."""
    channels: int | None = None
    """Input channels the model is expected to take (default 3)."""
    optimize: bool = True
    """Apply the lean-graph passes (converter/optimize)."""
    record_timings: bool = True
    """Inference times in parity.json/md; off for byte-reproducible releases."""
    source_label: str | None = None
    """How the manifest names the source (default: the path as given)."""
    release: dict[str, Any] | None = None
    """Recipe metadata recorded in the manifest for `srconvert build`."""
    finalize: Callable[[Path, dict[str, Any], list[manifest.Artifact]], None] | None = None
    """Writes extra files into the staging folder before it is published."""

    def precisions_for(self, fmt: str) -> tuple[str, ...]:
        return tuple(p for p in self.precisions if p in FORMAT_PRECISIONS[fmt])


@dataclass
class ConvertResult:
    out: Path
    manifest: dict[str, Any]
    artifacts: list[manifest.Artifact]
    passed: bool


def convert(options: ConvertOptions, progress: Progress | None = None) -> ConvertResult:
    progress = progress or Progress(False)
    _check_precisions(options)
    info = sources.describe(options.source, options.arch, options.arch_params)
    checks.check_image_model(info.topology, info.path, options.channels)
    checks.check_layers(info.topology, info.path, options.user_layers, options.allow_lambda)
    _check_tfjs_layers_support(info, options)
    staging.check_destination(options.out, options.force)
    context = None
    if options.verify:
        from converter.verification import RuntimeContext

        context = RuntimeContext(options.backend)
        context.prestart()  # fails fast (exit 3) on a missing Node, before any heavy work

    stage = staging.create(options.out)
    try:
        result = _build(info, options, stage, context, progress)
    except BaseException:
        staging.discard(stage)
        raise
    finally:
        if context is not None:
            context.close()
    if not result.passed:
        failed_dir = staging.keep_failed(stage, options.out)
        lines = report.failed(result.artifacts)
        raise ParityFailed(
            f"{len(lines)} artifact(s) failed parity: " + "; ".join(lines),
            path=options.source,
            hint=f"the bundle is kept for inspection in {failed_dir}; see its parity.md",
        )
    staging.publish(stage, options.out)
    result.out = options.out
    return result


def _check_precisions(options: ConvertOptions) -> None:
    orphans = [p for p in options.precisions if not any(p in FORMAT_PRECISIONS[f] for f in options.formats)]
    if orphans:
        supported = "; ".join(f"{f}: {', '.join(FORMAT_PRECISIONS[f])}" for f in options.formats)
        raise BadInput(
            f"--quantize {', '.join(orphans)} is not available for --format {','.join(options.formats)}",
            hint=f"precisions by format: {supported}",
        )


def _check_tfjs_layers_support(info: sources.SourceInfo, options: ConvertOptions) -> None:
    if "tfjs" not in options.formats or "layers" not in options.tfjs_models:
        return
    missing = checks.layers_without_tfjs_twin(info.topology, set(js_twins(options.user_layers)))
    if missing:
        raise BadInput(
            f"TensorFlow.js has no layer for {', '.join(missing)}, so a layers model cannot load",
            path=info.path,
            hint="use --tfjs-model graph (needs no JavaScript layers)",
        )


@dataclass
class Prepared:
    """The source, loaded once, and the canonical model made from it."""

    info: sources.SourceInfo
    fixed_topology: dict[str, Any]
    applied_fixes: list[fixes.AppliedFix]
    source: sources.Source
    plain: Any
    """The tf_keras model of the fixed, unoptimised topology: the source's
    own when it loads in tf_keras, else rebuilt from its weights."""
    canonical: keras_model.Canonical
    facts: keras_model.ModelFacts
    optimizations: list[dict[str, Any]] = field(default_factory=list)

    def reference_runner(self):
        """The source in its own runtime; for a source with none (a TFJS or
        weights-only file) the unoptimised rebuild, so parity still checks
        the optimisations."""
        from converter.backends.keras.runner import KerasRunner

        plain = self.plain
        return self.source.reference or KerasRunner(lambda batch: plain(batch, training=False).numpy())


@dataclass
class Early:
    """The canonical topology and weights read from the file alone, before
    TensorFlow is even imported (see canonical_from_file)."""

    canonical: keras_model.Canonical
    facts: keras_model.ModelFacts
    optimizations: list[dict[str, Any]]


def canonical_from_file(info, user_layers: dict[str, type], disabled_fixes: frozenset[str],
                        optimize: bool) -> Early | None:
    """A Keras 2 HDF5 file holds its topology as JSON and its weights by layer,
    which is all the writers need: read that way (as tensorflowjs_converter
    reads it), the ONNX bundle is written and verifying while TensorFlow
    imports. None for other formats, or a file this cannot read: Keras then
    loads it first and reports what is wrong."""
    from converter import optimize as optimizations
    from converter.sources import h5_weights
    from converter.sources.detect import KERAS2_H5

    if info.format != KERAS2_H5:
        return None
    try:
        weights, names = h5_weights.read(info.path)
    except (OSError, KeyError, ValueError, TypeError):
        return None
    topology, _ = fixes.apply_fixes(info.topology, disabled_fixes)
    facts = keras_model.facts_from_topology(topology, weights)
    if facts is None:
        return None
    keras_model.check_finite(weights, names, info.path)
    optimized: list[dict[str, Any]] = []
    if optimize:
        topology, weights, optimized = optimizations.optimize_keras(topology, weights)
    canonical = keras_model.Canonical(
        topology, weights, names, facts.input_channels, None, facts.input_multiple, user_layers, info.path
    )
    return Early(canonical, facts, optimized)


def prepare(info, user_layers: dict[str, type], allow_lambda: bool, disabled_fixes: frozenset[str],
            optimize: bool = False, early: Early | None = None) -> Prepared:
    """Load the source once and make the canonical model (optimised if asked;
    the source stays the parity reference either way). At most one Keras
    model is built: a tf_keras source is used as loaded. With `early`, the
    canonical model is that one, checked against what Keras loaded."""
    from converter import optimize as optimizations

    fixed, applied = fixes.apply_fixes(info.topology, disabled_fixes)
    source = sources.load(info, sources.LoadOptions(user_layers, allow_lambda))
    if source.keras2_model is not None:
        plain = source.keras2_model
        keras_model.check_finite(source.layer_weights, keras_model.weight_names(plain), info.path)
    else:
        plain = keras_model.build(fixed, source.layer_weights, user_layers, info.path)
    facts = keras_model.facts(plain)
    output_channels = int(plain.outputs[0].shape[-1])
    if early is not None:
        if (early.facts.params, early.facts.input_shape) != (facts.params, facts.input_shape):
            raise BadInput(
                f"the file's weights ({early.facts.params:,} parameters) do not match the model Keras "
                f"loads from it ({facts.params:,})",
                path=info.path,
                hint="re-save the model with model.save()",
            )
        early.canonical.output_channels = output_channels
        if not early.optimizations and early.canonical.built is None:
            early.canonical.built = plain  # the same function: no second build for a tracer
        return Prepared(info, fixed, applied, source, plain, early.canonical, facts, early.optimizations)
    if source.keras2_model is not None:
        # The fixes only change how the topology is written, never what it
        # computes, so they apply to the loaded model's own serialisation.
        topology = fixes.normalise(keras_model.topology_of(plain), disabled_fixes)
    else:
        topology = keras_model.topology_of(plain)
    weights, optimized = native.layer_weights(plain), []
    if optimize:
        topology, weights, optimized = optimizations.optimize_keras(topology, weights)
    canonical = keras_model.Canonical(
        topology, weights, keras_model.weight_names(plain), facts.input_channels, output_channels,
        facts.input_multiple, user_layers, info.path,
    )
    if not optimized:
        canonical.built = plain  # nothing changed: the plain model is the canonical one
    return Prepared(info, fixed, applied, source, plain, canonical, facts, optimized)


def start_parity(
    facts: keras_model.ModelFacts,
    root: Path,
    input_range: tuple[float, float],
    images_dir: Path | None,
    gates: dict[str, parity_gates.Gate],
    context,
    progress: Progress,
):
    """Compute the parity inputs once; the returned Verification takes
    artifacts as they are written, and the reference when it is loaded."""
    from converter.verification import Verification

    inputs = parity_inputs.build(facts.input_shape, input_range, images_dir, facts.input_multiple, facts.params)
    return Verification(inputs, root, gates, context, progress)


def finish_parity(verification, html_path: Path | None = None) -> dict[str, Any]:
    """Wait for every submitted artifact and fill its `parity`; write the
    visual report to `html_path` if given, and return the run's summary."""
    passed, gallery = verification.finish()
    reference = verification.reference
    if html_path is not None:
        _write_html(html_path, reference, gallery, verification.artifacts)
    return {
        "verified": True,
        "pass": passed,
        "reference": {
            "runtime": reference.runtime,
            "ms": round(reference.ms, 3),
            "output_range": reference.value_range,
            "inputs": [{"name": i.name, "shape": list(i.array.shape)} for i in reference.inputs],
        },
    }


def _write_html(path: Path, reference, gallery, artifacts: list[manifest.Artifact]) -> None:
    from converter.parity import html

    photos = [(i.name, i.array, o) for i, o in zip(reference.inputs, reference.outputs) if i.is_photo]
    summaries = {}
    for artifact in artifacts:
        for result in artifact.parity["results"]:
            psnr = result.get("psnr_db")
            summaries[f"{artifact.entry} in {result['runtime']}"] = (
                f"{'pass' if result['pass'] else 'FAIL'}, PSNR {'inf' if psnr is None else f'{psnr:.1f}'} dB"
            )
    html.write(path, photos, gallery, summaries, reference.low, reference.high)


def _build(info, options: ConvertOptions, stage: Path, context, progress: Progress) -> ConvertResult:
    progress.step(f"reading {info.path} ({info.format})")
    early = canonical_from_file(info, options.user_layers, options.disabled_fixes, options.optimize)
    prepared = None if early is not None else _load(info, options, progress)
    canonical, facts = (early.canonical, early.facts) if early is not None else (prepared.canonical, prepared.facts)
    if options.onnx_layout is None:
        options.onnx_layout = "nchw" if info.format == "onnx" else "nhwc"
    verification = None
    if context is not None:
        verification = start_parity(
            facts, stage, options.input_range, options.images_dir, options.gates, context, progress
        )
    # Artifacts go to verification as soon as they are written, ONNX first:
    # it needs no TensorFlow, so the runtimes verify it while TensorFlow starts.
    try:
        onnx_artifacts, onnx_fixes, onnx_optimizations, onnx_exporter = _emit_onnx(canonical, options, stage, progress)
        if verification is not None:
            verification.submit(onnx_artifacts)
        artifacts, custom_js = _emit_tfjs(canonical, options, stage, progress)
        if verification is not None:
            verification.submit(artifacts, custom_js.get("cjs"))
    except BadInput:
        raise
    except Exception:
        if prepared is None:
            _load(info, options, progress)  # a file Keras cannot load is reported as that
        raise
    if prepared is None:
        prepared = _load(info, options, progress, early)
    if verification is not None:
        progress.step("running the source model on the parity inputs")
        verification.start_reference(prepared.reference_runner())
    facts = prepared.facts
    artifacts += onnx_artifacts

    document: dict[str, Any] = {
        "tool": manifest.tool(),
        "libraries": manifest.library_versions(),
        "source": {
            "path": options.source_label or str(options.source),
            "sha256": sha256_path(info.path),
            "format": info.format,
            "keras_version": info.keras_version,
            "producer": info.producer,
            "architecture": info.architecture,
        },
        "model": {
            "input_multiple": facts.input_multiple,
            "params": facts.params,
            "scale": facts.scale,
            "input_channels": facts.input_channels,
            "input_shape": facts.input_shape,
            "input_range": list(options.input_range),
        },
        "fixes": [fix.as_dict() for fix in [*prepared.applied_fixes, *onnx_fixes]],
        "optimizations": [*prepared.optimizations, *onnx_optimizations],
        "onnx_exporter": onnx_exporter,
        "custom_layers": [layer.name for layer in custom_layers_js.used_layers(prepared.fixed_topology)],
        "custom_layers_js": {k: p.relative_to(stage).as_posix() for k, p in custom_js.items()} if custom_js else None,
    }
    if verification is not None:
        summary = finish_parity(verification, html_path=stage / "parity.html")
        document["libraries"].update(context.versions())
    else:
        summary = {"verified": False, "pass": None}
    if options.release is not None:
        document["release"] = options.release
    # The manifest is reproducible: timings go only to the parity reports.
    document["parity"] = report.without_timings(summary)
    document["artifacts"] = [report.without_timings(a.as_dict()) for a in artifacts]
    report.write(stage, artifacts, summary, timings=options.record_timings)
    document = manifest.write(stage / manifest.MANIFEST_NAME, document)
    if options.finalize is not None and summary["pass"] is not False:
        options.finalize(stage, document, artifacts)
    return ConvertResult(stage, document, artifacts, summary["pass"] is not False)


def _load(info, options: ConvertOptions, progress: Progress, early: Early | None = None) -> Prepared:
    progress.step(f"loading {info.path} in Keras")
    return prepare(info, options.user_layers, options.allow_lambda, options.disabled_fixes, options.optimize, early)


def _emit_tfjs(canonical: keras_model.Canonical, options: ConvertOptions, stage: Path, progress: Progress):
    artifacts: list[manifest.Artifact] = []
    custom_js: dict[str, Path] = {}
    if "tfjs" not in options.formats:
        return artifacts, custom_js
    precisions = options.precisions_for("tfjs")
    for kind in options.tfjs_models:
        progress.step(f"building the TFJS {kind} model")
        if kind == "layers":
            built = tfjs.layers_model(canonical, options.disabled_fixes)
        else:
            built = tfjs.graph_model(canonical.model())
        if kind == "layers":
            used = custom_layers_js.used_layers(built.document["modelTopology"])
            esm, cjs = custom_layers_js.write(stage / tfjs.FOLDERS[kind], used, js_twins(options.user_layers))
            custom_js = {"esm": esm, "cjs": cjs}
        for precision in precisions:
            progress.step(f"writing {tfjs.FOLDERS[kind]}/{precision}")
            folder = stage / tfjs.FOLDERS[kind] / precision
            files = tfjs.write(built, precision, folder)
            if kind == "layers":
                files += [custom_js["esm"], custom_js["cjs"]]  # a layers bundle cannot load without them
            artifacts.append(
                manifest.Artifact(
                    format=tfjs.FORMAT_NAMES[kind],
                    precision=precision,
                    entry=files[0].relative_to(stage).as_posix(),
                    files=manifest.describe_files(stage, files),
                    quantization=tfjs.QUANTIZATION.get(precision),
                )
            )
    return artifacts, custom_js


def _emit_onnx(canonical: keras_model.Canonical, options: ConvertOptions, stage: Path, progress: Progress):
    from converter.fixes import ONNX_FIXES, AppliedFix
    from converter.quantizers import onnx_float16, onnx_int8_static, onnx_weight_uint8

    if "onnx" not in options.formats:
        return [], [], [], None
    progress.step(f"exporting ONNX (opset {options.opset}, {options.onnx_layout.upper()})")
    base = onnx_bundle.export(canonical, options.opset, options.onnx_layout, options.onnx_exporter)
    exporter = onnx_bundle.exporter_of(base)
    applied = []
    for fix in ONNX_FIXES:
        if fix.name not in options.disabled_fixes and (changes := fix.run(base)):
            applied.append(AppliedFix(fix.name, fix.summary, changes))
    optimized = []
    if options.optimize:
        from converter.optimize import optimize_onnx

        optimized = optimize_onnx(base)
    schemes = {"float16": onnx_float16.SCHEME, "uint8": onnx_weight_uint8.SCHEME, "int8": onnx_int8_static.SCHEME}
    quantizers = {
        "float32": lambda: base,
        "float16": lambda: onnx_float16.quantize(base),
        "uint8": lambda: onnx_weight_uint8.quantize(base),
        "int8": lambda: onnx_int8_static.quantize(
            base,
            onnx_int8_static.calibration_batches(
                options.calibration_images, canonical.input_channels, options.onnx_layout, options.input_range,
                canonical.input_multiple,
            ),
            onnx_bundle.INPUT_NAME,
        ),
    }
    artifacts = []
    for precision in options.precisions_for("onnx"):
        progress.step(f"writing {onnx_bundle.FOLDER}/{precision}")
        files = onnx_bundle.write(quantizers[precision](), stage / onnx_bundle.FOLDER / precision)
        artifacts.append(
            manifest.Artifact(
                format=onnx_bundle.FORMAT_NAME,
                precision=precision,
                entry=files[0].relative_to(stage).as_posix(),
                files=manifest.describe_files(stage, files),
                layout=options.onnx_layout,
                quantization=schemes.get(precision),
            )
        )
    return artifacts, applied, optimized, exporter
