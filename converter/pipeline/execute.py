"""The one driver: `execute(plan, ...)` carries out a plan's steps, each
artifact submitted to parity as soon as it exists, then the source as the
reference, and gives back the artifacts with the verdict.

`convert` and `build` hand it the artifacts their emitters write
(`emitted`); `verify` hands it those a bundle's manifest records
(`recorded`). Either way the plan says which runtimes check which
artifact, and the same sequence runs: the time estimate, the reference
(alongside the work where the source allows), every submission, the
verdict. What a run writes around it (staging, the manifest, reports, a
release's post-steps) is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from converter import sources
from converter.core import deadline
from converter.core.errors import BadInput
from converter.pipeline.plan import Plan, Step, display_order
from converter.targets.base import KERAS_FORM, ONNX_FORM


@dataclass
class Forms:
    """What the source gives a run: its canonical form (an ONNX graph's own,
    else the Keras form), whose facts and reference serve the whole run, and
    the Keras form of an ONNX graph where a step is emitted from one."""

    source: Any
    keras: Any = None

    def of(self, kind: str) -> Any:
        """The form a step reads (targets.base.KERAS_FORM or ONNX_FORM)."""
        return {ONNX_FORM: self.source, KERAS_FORM: self.keras.canonical if self.keras is not None else None}[kind]

    @property
    def applied(self) -> list:
        """The passes the forms ran, each once."""
        return [*self.source.applied, *(self.keras.applied if self.keras not in (None, self.source) else ())]


def source_form(info, options: sources.SourceOptions, disabled_fixes: frozenset[str] = frozenset(),
                optimize: bool = False, input_size: Any = None):
    """The canonical form the source gives: an ONNX graph's own (OnnxForm),
    else the Keras form. Its facts and reference serve the whole run."""
    if info.format in sources.detect.GRAPH_FORMATS:
        from converter.forms.onnx_form import OnnxForm

        return OnnxForm(info, input_size, options.max_compute)
    from converter.forms.keras_form import KerasForm
    from converter.graphs import compute

    with sources.reading(info):  # it reads the file's weights itself
        form = KerasForm(info, options, disabled_fixes, optimize)
    compute.check(form.facts.compute, info.path, options.max_compute)
    return form


def load_forms(plan: Plan, info, options: sources.SourceOptions, disabled_fixes: frozenset[str] = frozenset(),
               optimize: bool = False, input_size: Any = None, emit: bool = True) -> Forms:
    """The forms `plan`'s steps read (`emit`: the run writes them; verify
    only needs the source's reference). Every runtime call's deadline counts
    from the source's compute, once it is known."""
    from converter.forms.keras_form import KerasForm

    form = source_form(info, options, disabled_fixes, optimize, input_size)
    keras = form if isinstance(form, KerasForm) else None
    if emit and keras is None and any(step.form == KERAS_FORM for step in plan.steps):  # an ONNX graph, translated
        keras = KerasForm(info, options, disabled_fixes, optimize)
    deadline.current().compute = form.facts.compute
    return Forms(form, keras)


@dataclass
class Executed:
    artifacts: list
    """In registry order (as reports and manifests list them)."""
    summary: dict[str, Any]
    """The verdict (parity.engine.Verification.finish), or unverified."""
    facts: Any
    """The source's facts once the whole source has loaded (forms' `loaded`)."""
    exemptions: dict[str, dict[str, str] | None] = field(default_factory=dict)
    """Each artifact's exemptions as its target declared them, by entry; the
    artifacts keep those of the runtimes this run verified in (the bundle's
    self-check page runs the others)."""


@dataclass
class Emission:
    """Where `emitted` writes, and the emitters it opened (their records and
    passes reach the manifest)."""

    forms: Forms
    settings: Any
    stage: Any
    progress: Any
    sizes: Any
    emitters: list = field(default_factory=list)
    shared: dict = field(default_factory=dict)
    """What the emitters share (targets.base.Emitter.shared)."""


def emitted(plan: Plan, emission: Emission) -> Iterator[tuple[Any, Step]]:
    """Each artifact as its emitter writes it, with the step it belongs to."""
    for step in plan.steps:
        emitter = step.target.open(emission.forms.of(step.form), emission.settings, emission.stage,
                                   emission.progress, emission.sizes, emission.shared)
        emission.emitters.append(emitter)
        for precision in step.precisions:
            yield emitter.emit(precision), step


def recorded(plan: Plan, artifacts: Iterable) -> Iterator[tuple[Any, Step]]:
    """A bundle's artifacts as its manifest records them, each with its step
    in the plan rebuilt from that manifest (plan.Plan.from_manifest)."""
    steps = {step.target.name: step for step in plan.steps}
    for artifact in artifacts:
        yield artifact, steps[artifact.format]


def execute(plan: Plan, form, artifacts: Iterable[tuple[Any, Step]], verification=None, progress=None,
            reference_inputs: list = (), client=None, probes: list = (), alongside: bool = True) -> Executed:
    """Carry out `plan`: every artifact `artifacts` gives, verified in its
    step's runtimes by `verification` (parity.engine.Verification; None: not
    verified) against `form`'s reference. `reference_inputs`, `client`: a
    post-step's client check, whose inputs the reference runs too and whose
    time the estimate counts. `probes`: batches the reference also runs,
    for the caller (parity.runs.compute_reference). `alongside`: the
    reference starts before the artifacts come, not after them
    (`reference_alongside`)."""
    if verification is not None:  # a run the estimate says cannot finish stops here, before the lanes work
        verification.check_time(plan.runtime_counts(), client)
        if alongside:  # it runs while the targets are built
            _start_reference(verification, form, reference_inputs, progress, probes)
    done, declared = [], {}
    try:
        for artifact, step in artifacts:
            declared[artifact.entry] = artifact.unsupported_backends
            artifact.unsupported_backends = _ran(artifact.unsupported_backends, step.runtimes)
            done.append(artifact)
            if verification is not None:
                verification.submit(artifact, step.runtimes)
    except BadInput:
        raise
    except Exception:
        form.loaded()  # a file Keras cannot load is reported as that
        raise
    if verification is not None and not alongside:
        _start_reference(verification, form, reference_inputs, progress, probes)
    facts = form.loaded()
    summary = verification.finish() if verification is not None else {"verified": False, "pass": None}
    return Executed(display_order(done), summary, facts, declared)


def reference_alongside(plan: Plan, emission: Emission) -> bool:
    """Whether the source's reference can run while the targets are
    built: an ONNX source's always; a Keras source's unless a target builds
    a Keras model of its own (targets.base.Target.builds_keras), so
    TensorFlow's start-up and the source's load overlap the conversion."""
    forms = emission.forms
    return forms.source.reference_alongside or not any(
        step.target.builds_keras(forms.of(step.form), emission.settings) for step in plan.steps)


def _start_reference(verification, form, inputs, progress, probes) -> None:
    if progress is not None:
        progress.step("running the source model on the parity inputs")
    verification.start_reference(form.reference(), inputs, probes)


def _ran(exempt: dict[str, str] | None, runtimes: tuple[str, ...]) -> dict[str, str] | None:
    """An artifact's exemptions among the runtimes this run verifies it in:
    a report lists no runtime that never ran."""
    kept = {runtime: why for runtime, why in (exempt or {}).items() if runtime in runtimes}
    return kept or None
