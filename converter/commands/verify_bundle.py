"""`srconvert verify`: is this bundle still what its manifest says, and does
it still compute what the source computes? The plan its manifest records
(plan.Plan.from_manifest) is carried out by the driver `convert` uses
(pipeline.execute), on the artifacts already written."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from converter import sources
from converter.bundle import manifest
from converter.bundle.manifest import Artifact, check_files
from converter.core import memory
from converter.core.errors import EXIT_NOT_VERIFIED, EXIT_OK, BadInput, ParityFailed
from converter.core.precisions import DEFAULT_GATES, Gate
from converter.core.progress import Progress
from converter.core.user_layers import missing_code, trusted_code
from converter.forms import checks
from converter.parity import report


@dataclass
class VerifyOutcome:
    bundle: Path
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    source: str | None = None
    parity_pass: bool | None = None
    not_run: str | None = None
    """Why parity was not re-run (no source found), when it was not."""
    wrong_source: str | None = None
    """The source given or found, when its sha256 is not the manifest's."""
    client: dict[str, Any] | None = None
    """A release's check in UpscalerJS, where it re-ran (parity.client)."""

    @property
    def passed(self) -> bool:
        """Every check that ran passed (parity may not have run: see exit_code)."""
        return not self.changed and not self.missing and not self.wrong_source and self.parity_pass is not False

    @property
    def exit_code(self) -> int:
        """After raise_for_failure: 0 when parity re-ran and passed, 4 when it could not run."""
        return EXIT_OK if self.parity_pass else EXIT_NOT_VERIFIED

    def render(self) -> str:
        lines = []
        for path in self.changed:
            lines.append(f"CHANGED  {path} (sha256 differs from manifest.json)")
        for path in self.missing:
            lines.append(f"MISSING  {path}")
        if not self.changed and not self.missing:
            lines.append(f"files: all {sum(len(a.files) for a in self.artifacts)} match manifest.json")
        if self.wrong_source:
            lines.append(f"WRONG SOURCE  {self.wrong_source}: its sha256 is not the one manifest.json records, "
                         "so it is not the model this bundle was made from; parity was not re-run")
        elif self.parity_pass is not None:
            lines.append(f"parity against {self.source}:")
            lines.append(report.terminal_table(self.artifacts))
            if self.client is not None:
                lines.append(f"UpscalerJS client check of the npm package: {'pass' if self.client['pass'] else 'FAIL'}")
            lines.append(f"verified: every artifact matches {self.source}" if self.parity_pass
                         else f"FAILED: {len(report.failed_runs(self.artifacts))} run(s) differ from {self.source}")
        elif not self.changed and not self.missing:
            lines.append(f"NOT VERIFIED: the files match manifest.json, but parity was not re-run ({self.not_run}); "
                         "pass --source to re-run it (exit 4)")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bundle": str(self.bundle),
            "pass": self.passed,
            "changed": self.changed,
            "missing": self.missing,
            "source": self.source,
            "parity_pass": self.parity_pass,
            "parity_not_run": self.not_run,
            "wrong_source": self.wrong_source,
            "artifacts": [a.as_dict() for a in self.artifacts],
            "client": self.client,
        }

    def raise_for_failure(self) -> None:
        if self.changed or self.missing:
            raise ParityFailed(
                "bundle files differ from manifest.json: " + ", ".join(self.changed + self.missing),
                path=self.bundle,
                hint="rebuild the bundle; do not edit converted files by hand",
            )
        if self.wrong_source:
            raise ParityFailed(
                "the source's sha256 differs from the one manifest.json records: it is not this bundle's source",
                path=self.wrong_source,
                hint="pass the file the bundle was made from with --source",
            )
        if self.parity_pass is False:
            from converter.parity.client import failed as client_failed

            raise ParityFailed(
                "artifacts failed parity: " + "; ".join(report.failed(self.artifacts) + client_failed(self.client)),
                path=self.bundle,
                hint="see the table above",
            )


def recorded_reading(recorded: dict[str, Any]) -> dict[str, Any]:
    """How the conversion read the source, as its manifest records it: a
    weights-only file's family and every hyperparameter (the ones given with
    --arch and --arch-params included). Data only: nothing here runs code."""
    architecture = recorded.get("architecture") or {}
    if not architecture.get("family"):
        return {}
    return {"arch": architecture["family"], "arch_params": dict(architecture.get("params") or {})}


def verify_bundle(
    bundle: Path,
    source: Path | None,
    backend: str,
    custom_layers_js: Path | None,
    images_dir: Path | None,
    progress: Progress,
    browser: bool = False,
    max_memory: int | None = None,
    max_compute: float | None = None,
    images_required: bool = False,
    user_layers: dict[str, type] | None = None,
    allow_lambda: bool = False,
    trust_code: bool = False,
) -> VerifyOutcome:
    """`user_layers`, `allow_lambda`: the code the source needs, as the user
    names it; `trust_code`: the user trusts the code the manifest records
    (user_layers.trusted_code), which is otherwise never imported."""
    document = manifest.read(bundle)
    artifacts = [Artifact.from_dict(a) for a in document.get("artifacts", [])]
    outcome = VerifyOutcome(bundle, artifacts=artifacts)
    page = (document.get("check_page") or {}).get("files") or []  # the self-check page is the bundle's too
    outcome.changed, outcome.missing = check_files(bundle, [*(f for a in artifacts for f in a.files), *page])
    if outcome.changed or outcome.missing:
        return outcome
    recorded = document.get("source", {})
    source = source or find_source(bundle, recorded)
    if source is None:
        outcome.not_run = "no source: " + ", ".join(_looked_for(bundle, recorded)) + " not found"
        return outcome
    if recorded.get("sha256") and sources.source_sha256(source, recorded.get("format")) != recorded["sha256"]:
        outcome.wrong_source = str(source)
        return outcome

    from converter.core.input_size import Sizes
    from converter.backends.lanes import Runtimes
    from converter.parity.engine import Verification
    from converter.pipeline import execute
    from converter.pipeline.plan import Plan
    from converter.release.build import RecordedRelease

    user_layers = dict(user_layers or {})
    if trust_code:  # the user's word: the recorded code, each file as its sha256 was recorded
        trusted, trusted_lambda = trusted_code(recorded.get("code") or {}, bundle)
        for entry in (recorded.get("code") or {}).get("custom_layers", ()):  # said once it ran, not before
            progress.warn(f"--trust-code: imported {entry['spec']} from {entry['file']} (its sha256 as recorded)")
        if trusted_lambda:
            progress.warn("--trust-code: Lambda layers run Python code from the source, as the conversion allowed")
        user_layers = {**trusted, **user_layers}
        allow_lambda = allow_lambda or trusted_lambda
    needed = missing_code(recorded.get("code") or {}, user_layers, allow_lambda)
    if needed:
        raise BadInput(
            f"the bundle was converted with code of the user's own ({', '.join(needed)}), "
            "and srconvert never runs code only because a manifest names it",
            path=bundle, hint=f"if you trust it, run: srconvert verify {bundle} --trust-code (the files as "
            f"recorded), or: srconvert verify {bundle} {' '.join(needed)}")
    plan = Plan.of_bundle(document, browser)
    options = sources.SourceOptions(max_memory=max_memory, max_compute=max_compute or plan.max_compute,
                                    user_layers=user_layers or {}, allow_lambda=allow_lambda,
                                    **recorded_reading(recorded))
    info = sources.describe(source, options)
    # What convert refuses before loading (Lambda code, layers nobody defined), verify refuses too.
    checks.check_source(info, document.get("model", {}).get("input_channels"), options.user_layers,
                        options.allow_lambda)
    with memory.guard(info.budget, source):
        progress.step(f"loading {source} ({info.format})")
        for artifact in artifacts:  # a bundle from before per-artifact sizes: every artifact was fixed to it
            if artifact.input_sizes is None and plan.patch is not None:
                artifact.input_sizes = Sizes(plan.patch).as_dict()
        # The source's form as convert made it (its fixes and passes), so the reference is the one convert ran.
        form = execute.load_forms(plan, info, options, frozenset(plan.disabled_fixes), plan.optimize,
                                  input_size=plan.patch, emit=False).source
        gates = {a.precision: _recorded_gate(a, plan) for a in artifacts}
        runtimes = Runtimes(plan.runtimes, backend, custom_layers_override=custom_layers_js)
        runtimes.prestart()
        try:
            verification = Verification.start(
                form.facts, bundle, tuple(document["model"]["input_range"]), images_dir, gates, runtimes, progress,
                images_required, plan.patch, source=info.path,
                output_range=tuple(document["model"].get("output_range") or document["model"]["input_range"]),
            )
            # A release verified in the browser is also run by its real client again, as the build ran it.
            release = RecordedRelease(plan.release, bundle / manifest.MANIFEST_NAME) if plan.release else None
            client = release.client_check(form.facts, plan.patch) if release is not None and browser else None
            summary = execute.execute(plan, form, execute.recorded(plan, artifacts), verification, progress,
                                      client.reference_inputs() if client else [], client).summary
            if client is not None and summary["pass"] is not False:
                progress.step(f"running the npm package in UpscalerJS, tiled ({client.tiling.describe()})")
                outcome.client = client.verify(verification, bundle, release.precision(artifacts))
                summary["pass"] = outcome.client["pass"]
        finally:
            runtimes.close()
    outcome.source = str(source)
    outcome.parity_pass = summary["pass"]
    return outcome


def find_source(bundle: Path, recorded: dict[str, Any]) -> Path | None:
    """The source the manifest names, by its path relative to the bundle
    (any working directory), else as it was given."""
    return next((path for path in _candidates(bundle, recorded) if path.exists()), None)


def _candidates(bundle: Path, recorded: dict[str, Any]) -> list[Path]:
    # Normalised as the manifest's relative path was made (lexically, os.path.relpath), for the messages.
    relative = Path(os.path.normpath(bundle / recorded["relative_path"])) if recorded.get("relative_path") else None
    return [path for path in (relative,
                              Path(recorded["path"]) if recorded.get("path") else None) if path is not None]


def _looked_for(bundle: Path, recorded: dict[str, Any]) -> list[str]:
    return [str(path) for path in _candidates(bundle, recorded)] or ["the manifest names none"]


def _recorded_gate(artifact: Artifact, plan) -> Gate:
    """The gate the artifact was held to: as its parity records it, else as the plan does."""
    recorded = (artifact.parity or {}).get("gate")
    return Gate.from_dict(recorded) if recorded else plan.gates.get(artifact.precision,
                                                                    DEFAULT_GATES[artifact.precision])
