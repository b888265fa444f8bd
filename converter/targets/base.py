"""What an output target declares, and the emitter it opens once per run."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from converter import passes
from converter.core.errors import BadInput

if TYPE_CHECKING:
    from converter.bundle.manifest import Artifact
    from converter.passes import Applied

# The forms a target is emitted from, named once with the passes that act on them:
# KERAS_FORM is keras_model.Canonical (NHWC topology and weights), ONNX_FORM an
# ONNX source's onnx_form.OnnxForm (the source graph).
KERAS_FORM, ONNX_FORM = passes.KERAS, passes.ONNX

# An artifact's weights, counted at float32 whatever it stores them as, may
# outweigh the source's (a float16 source, a TF.js layers model's 1x1 channel
# permutation), but over this many times they hold a weight the source shares
# written once per use: refused, not written.
MAX_WEIGHT_RATIO = 4.0
# Weights this small are never refused: a tiny model's constants can outweigh
# its weights.
WEIGHT_RATIO_FLOOR = 1 << 20
# An artifact's files that hold no weights: a TF.js model.json and the layers' JavaScript.
NOT_WEIGHTS = (".json", ".js", ".cjs", ".mjs")
LAYERS_HINT = "--tfjs-model graph and --format onnx write a shared weight once; nothing was written"


@dataclass(frozen=True)
class Target:
    name: str
    """The artifact format, as manifests and reports name it (tfjs-layers)."""
    format: str
    """The `--format` value that selects it (tfjs)."""
    variant: str | None
    """The `--tfjs-model` value that selects it among its format's targets."""
    folder: str
    """Where its artifacts go in a bundle, one subfolder per precision."""
    precisions: tuple[str, ...]
    reads: tuple[str, ...]
    """The canonical forms it can be emitted from, preferred first; the plan
    picks one per source (`converter.pipeline.plan.form_for`)."""
    runtimes: tuple[str, ...]
    """Names in converter.backends.registry.RUNTIMES that verify its artifacts."""
    browser_runtimes: tuple[str, ...]
    """The runtimes that verify it in a browser too, with --browser."""
    emitter: type
    """Its `Emitter` class: `Emitter(target, form, options, stage, progress, shared)` writes it."""
    needs_tensorflow: bool = True
    """Whether emitting it imports TensorFlow (those that don't go first)."""
    keras_builder: bool | Callable[[Any, Any], bool] | None = None
    """Whether emitting it builds (and traces) a Keras model, or
    `keras_builder(form, options)` where the model decides; None: as
    `needs_tensorflow`. See `builds_keras`."""
    unsupported: dict[tuple[str, str], str] = field(default_factory=dict)
    """(precision, runtime) -> why that runtime cannot run that precision."""
    label: str = ""
    """How errors name it (TF.js layers); its name when empty."""
    records: dict[str, Any] = field(default_factory=dict)
    """The manifest keys its emitter records (`Emitter.record`), with the
    value a run that did not emit it writes; a key absent here is written
    only by the runs that record it."""
    default: bool = True
    """Written when `--format` is not given."""
    refuses: Callable[["Target", Any, str, Any], None] | None = None
    """`refuses(target, info, form, options)` raises BadInput, before any
    work, for a source this target cannot be made from through `form`."""
    weights: Callable[[list[Path]], int] = field(kw_only=True)
    """`weights(files)`: how many weights its artifact's files declare,
    whatever they store them as; at 4 bytes each, what the refusal of an
    artifact that outweighs its source compares (`check_weight_bytes`).
    Every target declares it: a format counted as 0 would never be refused."""
    fixed_size_from: tuple[str, ...] = ()
    """The forms from which its artifact is built at one input size (a TF.js
    graph of an ONNX graph), so the plan picks or checks the patch size."""
    follows_layout: bool = False
    """Its artifacts take the run's ONNX layout (--onnx-layout)."""
    one_range: bool = False
    """Its runtime's pipeline maps one value range at both ends (0..1 in and
    out), so a model whose output range is not its input range is refused."""
    quantizers: str | None = None
    """The kind of quantizer (converter.quantizers) its precisions other
    than float32 are written by, where it uses that registry."""
    libraries: tuple[str, ...] = ()
    """The Python distributions that write it: the manifest records their versions."""
    page_kind: str | None = None
    """What the bundle's self-check page runs it as (check.js: layers, graph
    or onnx); None: the page does not run it."""
    page_backends: tuple[tuple[str, str], ...] = ()
    """Page backends verified by a runtime besides its browser runtimes
    (TF.js on wasm: Node's TF.js lane), as (backend, runtime report name)."""
    runtimes_lack: dict[str, str] = field(default_factory=dict)
    """Kernels its runtimes have none of (a TF.js kernel name), with why: the
    plan refuses a source whose artifact would need one (its `refuses`)."""
    options: tuple[Any, ...] = ()
    """Its `srconvert convert` options (click.Option), shared by name with
    its format's other targets; a value the run's ConvertOptions has no
    field for reaches its emitter in `options.target_options[name]`."""
    upscalerjs: int | None = None
    """Its rank among the kinds UpscalerJS loads (0 first): a release's npm
    package ships the best-ranked kind the run wrote; None: UpscalerJS cannot load it."""
    pack: str | None = None
    """Where a merged zoo gathers one artifact of each model, a model pack
    for the app that loads the format (NCNN: `upscayl/models`, a folder
    Upscayl takes as its custom models); None: no pack."""
    pack_prefers: tuple[str, ...] = ()
    """The precisions a pack takes, preferred first (the first that passed)."""
    channels: tuple[int, ...] = (1, 3, 4)
    """The image channels its artifacts are written and verified for: what
    its runtime's pipeline feeds the network (Upscayl and transformers.js's
    pipeline: RGB). A source of other channels is refused at plan time."""
    recorded_form: Callable[[dict[str, Any]], str] | None = None
    """For a manifest from before the plan was recorded: the form the target
    was emitted from, read from what its emitter recorded; None: Keras."""

    def builds_keras(self, form: Any, options: Any) -> bool:
        """Whether emitting it from `form` builds a Keras model: while one is
        built and traced, the source's reference waits rather than load and
        run its own Keras beside it (pipeline.execute.reference_alongside)."""
        builder = self.needs_tensorflow if self.keras_builder is None else self.keras_builder
        return builder(form, options) if callable(builder) else builder

    def unsupported_for(self, precision: str) -> dict[str, str] | None:
        """The runtimes an artifact of `precision` is exempt from, and why."""
        found = {runtime: why for (p, runtime), why in self.unsupported.items() if p == precision}
        return found or None

    def open(self, form: Any, options: Any, stage: Path, progress: Any, sizes: Any = None,
             shared: dict | None = None) -> "Emitter":
        """`sizes` (input_size.Sizes): what the source takes, which an
        artifact takes too unless its emitter fixes one size. `shared`: what
        the run's emitters share (Emitter.shared)."""
        emitter = self.emitter(self, form, options, stage, progress, shared)
        emitter.sizes = emitter.sizes or sizes
        return emitter

    def check(self, info: Any, form: str, options: Any) -> None:
        """Refuse, before any work, a source this target cannot be made from
        through `form` (`refuses`, where it has one)."""
        from converter.forms.checks import source_channels

        channels = source_channels(info)
        if channels is not None and channels not in self.channels:
            takes = " or ".join(f"{c}-channel" for c in self.channels)
            raise BadInput(f"srconvert writes {self.label or self.name} for {takes} networks; the model takes "
                           f"{channels}-channel images", path=info.path,
                           hint=f"leave {self.name} out of --format: the other formats take it")
        if self.refuses is not None:
            self.refuses(self, info, form, options)


class Emitter(abc.ABC):
    """One target's writer for one run: whatever is shared across precisions
    (an export, a traced graph, the passes) happens once, in the constructor."""

    def __init__(self, target: Target, form: Any, options: Any, stage: Path, progress: Any,
                 shared: dict | None = None) -> None:
        self.target = target
        self.shared: dict = {} if shared is None else shared
        """What every emitter of the run shares, by key: work two targets
        would otherwise repeat (the ONNX base of one form in one layout)."""
        self.form = form
        self.options = options
        self.stage = stage
        self.progress = progress
        self.applied: list["Applied"] = []
        """The passes this target ran on its own form."""
        self.record: dict[str, Any] = {}
        """What the manifest records of this target (e.g. the ONNX exporter)."""
        self.sizes: Any = None
        """input_size.Sizes its artifacts take, where the emitter fixes one (else the source's)."""

    @abc.abstractmethod
    def emit(self, precision: str) -> "Artifact":
        """Write one precision into `stage / target.folder / precision`."""

    def folder(self, precision: str) -> Path:
        return self.stage / self.target.folder / precision

    def artifact(self, precision: str, files: list[Path], **fields: Any) -> "Artifact":
        """The manifest entry of `files`, the first of which a runtime opens.
        Every target's every precision passes here, so this is where an
        artifact that outweighs its source is refused (`check_weight_bytes`)."""
        from converter.bundle import manifest

        source, source_bytes = self.form.path, self.form.weight_bytes
        check_weight_bytes(self.target.label or self.target.name, precision,
                           sum(f.stat().st_size for f in files if f.suffix not in NOT_WEIGHTS),
                           4 * self.target.weights(files), source_bytes, source,
                           LAYERS_HINT if self.target.variant == "layers" else "nothing was written")

        return manifest.Artifact(
            format=self.target.name,
            precision=precision,
            entry=files[0].relative_to(self.stage).as_posix(),
            files=manifest.describe_files(self.stage, files),
            input_sizes=self.sizes.as_dict() if self.sizes is not None else None,
            **fields,
        )


def check_weight_bytes(label: str, precision: str, stored: int, at_float32: int, source_bytes: int, path: Path,
                       hint: str = "nothing was written") -> None:
    """Refuse (BadInput, exit 2) an artifact whose weights, `stored` in
    `precision` and `at_float32` bytes counted at float32, are over
    MAX_WEIGHT_RATIO times the `source_bytes` its source declares."""
    from converter.core.memory import format_bytes

    if at_float32 <= WEIGHT_RATIO_FLOOR or at_float32 <= MAX_WEIGHT_RATIO * source_bytes:
        return
    ratio = f"{at_float32 / source_bytes:.1f}x more than" if source_bytes else "more than"
    held = "" if precision == "float32" else f" ({format_bytes(stored)} as {precision})"
    raise BadInput(
        f"the {label} artifact would weigh {format_bytes(at_float32)} at float32{held}, {ratio} the source's "
        f"{format_bytes(source_bytes)} of weights: weights the source shares between several layers would be "
        "written once per use",
        path=path,
        hint=hint,
    )


def model_json_weights(files: list[Path]) -> int:
    """The weights a TF.js model.json's weightsManifest declares."""
    import json
    import math

    total = 0
    for path in files:
        if path.name == "model.json":
            manifest = json.loads(path.read_text(encoding="utf-8")).get("weightsManifest", [])
            total += sum(math.prod(w["shape"]) for group in manifest for w in group["weights"])
    return total


def onnx_weights(files: list[Path]) -> int:
    """The elements of every tensor the ONNX files hold, external data
    included: a uint8 ONNX model keeps some tensors float32, so its bytes tell less."""
    import math

    import onnx
    from onnx import external_data_helper

    total = 0
    for path in files:
        if path.suffix == ".onnx":
            model = onnx.load_model(str(path), load_external_data=False)
            total += sum(math.prod(t.dims) for t in external_data_helper._get_all_tensors(model))
    return total
