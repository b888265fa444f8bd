"""`srconvert build`: recipes in, release folders out (bundle, manifest,
parity report, npm package), built in parallel worker processes that stay
warm from one release to the next (release.workers), each release starting
from the same state (byte-reproducible)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from converter.core.errors import (
    EXIT_BAD_INPUT,
    EXIT_ENVIRONMENT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_PARITY_FAILED,
    BadInput,
    SrconvertError,
)
from converter.release import recipes

if TYPE_CHECKING:
    from converter.parity.client import ClientCheck, Tiling



@dataclass(frozen=True)
class ReleaseSpec:
    """What a release adds to a conversion's plan, at plan time (the
    pipeline's plan.PostSteps): an npm package, checked in its real client
    when the run has a browser.
    A release is byte-reproducible, so its reports carry no timings or facts
    of the machine that ran it."""

    recipe: recipes.Recipe
    source_label: str
    """How the manifest names the source (its file name, not a local path)."""
    names: tuple[str, ...] = ("npm entry (model.js)", "UpscalerJS client check (with a browser)", "npm package")
    """The post-steps, as the plan lists them."""

    def check(self, plan) -> None:
        """At plan time: a TF.js model fixed to one size must tile in UpscalerJS
        (tiling); a target that maps one range at both ends (Target.one_range:
        transformers.js's folder, emitters/hf_folder) is refused for a recipe whose output range
        is not its input range rather than folded, and checked, wrongly."""
        if plan.patch is not None:
            self.tiling(plan.patch)
        recipe = self.recipe
        one_range = next((step.target for step in plan.steps if step.target.one_range), None)
        if one_range is not None and tuple(recipe.output_range) != tuple(recipe.input_range):
            raise BadInput(f"a {one_range.label} artifact maps the pipeline's 0..1 to one range, but the recipe "
                           f"takes {recipe.input_range} and gives {recipe.output_range}", path=recipe.path,
                           hint=f"leave {one_range.format} out of [outputs] formats for this recipe")

    def record(self) -> dict[str, Any]:
        """What the plan records of the post-steps (plan.PostSteps.record):
        their names, and what the client check runs (RecordedRelease)."""
        recipe = self.recipe
        return {"steps": list(self.names), "client": {
            "patch_size": recipe.patch_size, "padding": recipe.padding, "input_range": list(recipe.input_range),
            "output_range": list(recipe.output_range), "package_precision": recipe.package_precision}}

    def manifest_fields(self) -> dict[str, Any]:
        """What the manifest records of the release (plan.PostSteps)."""
        return {"output_range": self.recipe.output_range, "release": self.metadata}

    @property
    def metadata(self) -> dict[str, Any]:
        """Recorded in the manifest as `release`."""
        recipe = self.recipe
        return {
            "name": recipe.name,
            "version": recipe.version,
            "license": recipe.license,
            "recipe": recipe.path.name,
            # As the recipe writes it (relative to the recipe file), whatever --weights converted.
            "weights": recipe.weights,
            "patch_size": recipe.patch_size,
            "padding": recipe.padding,
            "output_range": list(recipe.output_range),
            "metadata": recipe.metadata,
        }

    def tiling(self, fixed) -> "Tiling | None":
        """How UpscalerJS tiles the package's model (`tiling`)."""
        return tiling(self.recipe.patch_size, self.recipe.padding, fixed, self.recipe.path)

    def client_check(self, facts, patch=None) -> "ClientCheck | None":
        """The UpscalerJS check of the package, as `verify` re-runs it from
        what the plan records (RecordedRelease)."""
        return RecordedRelease(self.record(), self.recipe.path).client_check(facts, patch)
    def write_entry(self, stage: Path, manifest: dict[str, Any], artifacts: list) -> str:
        """model.js, the definition users import (and the client check runs);
        returns the precision it points at."""
        from converter.release import package_npm

        if self.recipe.scale and manifest["model"]["scale"] != self.recipe.scale:
            raise BadInput(
                f"the weights give a x{manifest['model']['scale']} model, the recipe says x{self.recipe.scale}",
                path=self.recipe.path,
                hint="check the weights file belongs to this recipe",
            )
        tiling = self.tiling(_patch(manifest))
        return package_npm.write_entry(stage, self.recipe, tiling, manifest, artifacts)

    def write_package(self, stage: Path, manifest: dict[str, Any], artifacts: list) -> None:
        """The rest of the npm package: package.json and the model card."""
        from converter.release import package_npm

        tiling = self.tiling(_patch(manifest))
        package_npm.write(stage, self.recipe, tiling, manifest, artifacts)


def tiling(patch_size: int | None, padding: int | None, fixed, path: Path) -> "Tiling | None":
    """How UpscalerJS tiles the package's model: at the recipe's patch size,
    or, for a TF.js model `fixed` to one input size (input_size.InputSize),
    at that size, since UpscalerJS then tiles at the model's size whatever
    it is told, and only square. None when the recipe gives no tiling."""
    from converter.parity.client import Tiling

    if fixed is None:
        return Tiling(patch_size, padding or 0) if patch_size else None
    if fixed.height != fixed.width:
        raise BadInput(f"the model is fixed to {fixed} inputs, and UpscalerJS runs fixed-size models only square",
                       path=path, hint="set [model] input_size to a square size, such as 64x64")
    if patch_size not in (None, fixed.height):
        raise BadInput(f"patch_size {patch_size} differs from the model's fixed input size {fixed}",
                       path=path, hint=f"set [model] patch_size = {fixed.height}, or remove it")
    padding = padding or 0
    if 2 * padding >= fixed.height:
        raise BadInput(f"padding {padding} leaves nothing of a {fixed} patch",
                       path=path, hint=f"set [model] padding below {(fixed.height + 1) // 2}")
    return Tiling(fixed.height, padding)


@dataclass(frozen=True)
class RecordedRelease:
    """A release's post-steps as a bundle's plan records them
    (ReleaseSpec.record): what `verify` re-runs. The package itself was
    written once, by the build; only its check in UpscalerJS runs again."""

    record: dict[str, Any]
    path: Path
    """The manifest, for messages."""

    def client_check(self, facts, patch=None) -> "ClientCheck | None":
        """The UpscalerJS check of the package; None when the release
        records none, or no tiling (UpscalerJS then runs the whole image, as
        parity did). `patch`: the size the TF.js model is fixed to, where
        the source's size is free."""
        from converter.core.input_size import InputSize
        from converter.parity.client import ClientCheck

        client = self.record.get("client") or {}
        if not client:
            return None
        tiled = tiling(client["patch_size"], client["padding"], patch or InputSize.of_shape(facts.input_shape),
                       self.path)
        if tiled is None:
            return None
        return ClientCheck(tiled, tuple(client["input_range"]), tuple(client["output_range"]), facts.input_multiple)

    def precision(self, artifacts: list) -> str:
        """The precision the package's model.js points at."""
        from converter.release import package_npm

        return package_npm.entry_precision(self.record["client"]["package_precision"], artifacts)


def _patch(manifest: dict[str, Any]):
    """The size the bundle's fixed-size artifacts take (manifest.patch_size), or None."""
    from converter.core.input_size import InputSize

    size = manifest["model"].get("input_size")
    return InputSize.parse(size) if size else None


@dataclass
class Outcome:
    recipe: str
    exit_code: int
    lines: list[str]
    out: str | None = None


@dataclass(frozen=True)
class BuildJob:
    """One release to build, as a worker process receives it (picklable)."""

    recipe: "str | recipes.Recipe"
    """A recipe file, or a Recipe a zoo entry made."""
    dist: str
    weights: str | None = None
    """A weights file in place of the recipe's (--weights)."""
    verify: bool = True
    force: bool = False
    debug: bool = False
    browser: bool = False
    max_memory: int | None = None
    progress: bool = True
    """Progress lines on stderr, each after the recipe's name (warnings go out either way)."""
    workers: int = 1
    """How many run side by side, which share the default memory budget."""
    max_time: float | None = None
    """The build's limit, applied to each release."""
    max_compute: float | None = None
    check_page: bool = True
    vendor_libs: bool = False
    """As convert's (pipeline.convert.ConvertOptions)."""
    out: str | None = None
    """The release folder, if not DIST/<release name>."""


def build_one(job: BuildJob) -> Outcome:
    """Build one release; runs in a worker process, so it reports instead of raising."""
    from converter.bundle import signals
    from converter.core import deadline, memory, tf_runtime
    from converter.core.progress import Progress

    memory.share_between(job.workers)
    deadline.start(job.max_time)
    signals.install()  # a cancelled build's worker removes its staging folder too
    tf_runtime.quiet(debug=job.debug)
    try:
        recipe = job.recipe if isinstance(job.recipe, recipes.Recipe) else recipes.load(Path(job.recipe))
        reporter = Progress(job.progress, prefix=f"{recipe.name}: ")
        return _build(recipe, job, reporter)
    except SrconvertError as error:
        return Outcome(str(job.recipe), error.exit_code, error.lines())
    except Exception as error:  # a bug: keep the worker's message
        return Outcome(str(job.recipe), EXIT_INTERNAL, [f"internal error: {type(error).__name__}: {error}"])


def _build(recipe: recipes.Recipe, job: BuildJob, progress) -> Outcome:
    from converter.parity import report
    from converter.pipeline.convert import ConvertOptions, convert
    from converter.release import package_npm

    out = Path(job.out) if job.out else Path(job.dist) / recipe.name
    weights = Path(job.weights) if job.weights else None
    source = weights or recipe.weights_path
    if not source.exists():
        raise BadInput(
            f"weights file {source} not found",
            path=recipe.path,
            hint="srconvert downloads nothing: put the publisher's file there, or pass --weights FILE",
        )
    options = ConvertOptions.from_recipe(recipe, source, out, given_weights=weights is not None, verify=job.verify,
                                         force=job.force, browser=job.browser or recipe.browser,
                                         max_memory=job.max_memory, max_compute=job.max_compute,
                                         check_page=job.check_page, vendor_libs=job.vendor_libs)
    result = convert(options, progress, post=ReleaseSpec(recipe, source_label=source.name))
    for warning in package_npm.warnings(recipe, result.manifest):
        progress.warn(warning)
    verified = bool(result.manifest["parity"]["verified"])
    withheld = len(result.manifest["parity"].get("not_published", []))
    built = (f"built {out} ({len(result.artifacts)} artifacts, npm package{'' if verified else '; NOT verified'}"
             + (f"; {withheld} not published, having failed their gates" if withheld else "") + ")")
    # The parity table as `convert` prints it, then the release.
    return Outcome(recipe.name, EXIT_OK, [*report.terminal_table(result.artifacts, verified).splitlines(), built],
                   str(out))


def build_many(paths: list[Path], dist: Path, jobs: int, weights: Path | None, verify: bool, force: bool,
               debug: bool = False, browser: bool = False, max_memory: int | None = None,
               progress: bool = True, max_time: float | None = None,
               max_compute: float | None = None, check_page: bool = True,
               vendor_libs: bool = False, fresh_workers: bool = False) -> list[Outcome]:
    """Build every recipe in warm worker processes (`in_workers`; a new one
    per recipe with `fresh_workers`). `progress`: the workers' progress
    lines (off for --quiet and --json)."""
    from converter.bundle import signals

    if weights is not None and len(paths) > 1:
        raise BadInput("--weights replaces one recipe's weights file, but several recipes were given",
                       hint="build one recipe at a time with --weights")
    names = [recipes.load(p).name for p in paths]  # every recipe parses before any build starts
    if len(set(names)) != len(names):
        raise BadInput("two recipes have the same release name", hint="release names must be unique in a build")
    # SIGTERM/SIGHUP end the workers and remove their staging folders in dist.
    signals.install()
    signals.sweep_on_exit(dist)
    workers = max(1, min(jobs, len(paths)))
    jobs_of = [BuildJob(str(p), str(dist), str(weights) if weights else None, verify, force, debug, browser, max_memory,
                        progress, workers, max_time, max_compute, check_page, vendor_libs) for p in paths]
    return in_workers(jobs_of, workers, [str(p) for p in paths], fresh=fresh_workers)


def in_workers(jobs: list[BuildJob], workers: int, labels: list[str], fresh: bool = False) -> list[Outcome]:
    """`build_one(job)` for each job, in warm worker processes
    (release.workers): one per job slot, replaced after a release that
    failed or a worker that died (`fresh`: after every release)."""
    from converter.release import workers as warm

    def died(index: int) -> Outcome:
        # A worker ended itself (the memory guard's exit 2 prints its own error).
        return Outcome(labels[index], EXIT_BAD_INPUT,
                       ["the build process stopped before finishing this recipe (see the error above)"])

    return warm.run(build_one, [((job,), {}) for job in jobs], workers,
                    healthy=lambda outcome: not fresh and outcome.exit_code == EXIT_OK, died=died)


def exit_code(outcomes: list[Outcome]) -> int:
    codes = {o.exit_code for o in outcomes}
    for code in (EXIT_INTERNAL, EXIT_ENVIRONMENT, EXIT_BAD_INPUT, EXIT_PARITY_FAILED):
        if code in codes:
            return code
    return EXIT_OK


def default_jobs() -> int:
    return max(1, min(4, (os.cpu_count() or 2) // 2))
