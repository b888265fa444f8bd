"""`srconvert zoo build`: one shard of a zoo plan, as release folders
DIST/<id>/ (what `srconvert build` writes for a recipe: bundle, manifest,
reports, npm package), each entry's metadata carried into its card and
package.json; and DIST/zoo-shard-<i>-of-<N>.json, what the shard did, for
`zoo merge`.

Every machine computes the same plan from the same index and weights, so a
shard needs only `--shard i/N`. A model that fails conversion or parity is
recorded with its reason and the rest go on; the exit code is the worst
outcome (build.exit_code). With `--cache`, a model whose release is cached
(zoo.cache) is copied, its hashes re-checked, instead of converted.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter import targets
from converter.release import recipes
from converter.release.build import Outcome
from converter.zoo.index import Entry
from converter.zoo.plan import Plan, Planned

RECORD = "zoo-shard-{index}-of-{total}.json"


@dataclass(frozen=True)
class Settings:
    """What, besides the entry, decides a release's bytes (the cache key holds it)."""

    verify: bool = True
    formats: tuple[str, ...] = targets.DEFAULT_FORMATS
    """What each model is built as (`zoo build --format`)."""
    browser: bool = False
    check_page: bool = True
    vendor_libs: bool = False


def release_name(entry_id: str) -> str:
    """The npm package name of an entry: its id, lower case, '+' as '-'."""
    return re.sub(r"[^a-z0-9._-]", "-", entry_id.lower())


def version(entry: Entry) -> str:
    """The entry's publication date as a version (2023-05-01 -> 2023.5.1): it
    orders releases of one model and needs no state."""
    if not entry.date:
        return "0.0.0"
    year, month, day = (int(part) for part in entry.date.split("-"))
    return f"{year}.{month}.{day}"


def recipe_for(planned: Planned, index: Path, formats: tuple[str, ...] = targets.DEFAULT_FORMATS) -> recipes.Recipe:
    """The recipe `build` would read for this entry: its family detected
    from the weights, 0..1 in and out (as PyTorch trains them), `formats`
    with the default precisions they write."""
    from converter.core import precisions

    made = targets.offered(formats, precisions.DEFAULT)
    entry = planned.entry
    assert entry is not None and planned.weights is not None
    paragraph = entry.description.strip().split("\n\n", 1)[0].replace("\n", " ").strip()
    return recipes.Recipe(
        path=(Path(index) / f"{entry.id}.json").resolve(),
        name=release_name(entry.id),
        version=version(entry),
        license=entry.license or "UNLICENSED",
        description=f"{entry.name}: {paragraph}"[:500] if paragraph else entry.name,
        weights=planned.weights,
        arch=None,
        params={},
        scale=entry.scale,
        input_range=(0.0, 1.0),
        input_range_assumed="OpenModelDB states no range; its PyTorch models are trained on 0..1 (spandrel's "
                            "convention), and the zoo does not measure it",
        output_range=(0.0, 1.0),
        patch_size=None,
        padding=None,
        input_size=None,
        formats=tuple(formats),
        precisions=made,
        tfjs_models=None,  # the plan picks per source: a graph model where layers cannot hold the ops
        package_precision=made[-1],
        gates=(),
        calibration_images=None,
        # Nobody asked for these by name: what fails its gate is left out and listed, not the whole model.
        optional_precisions=tuple(p for p in made if p != "float32"),
        metadata={"openmodeldb": entry.id, "name": entry.name, "authors": list(entry.authors),
                  "tags": list(entry.tags), "architecture": entry.architecture, "date": entry.date,
                  # A name for where the entry came from; nothing fetches it.
                  "upstream": f"https://openmodeldb.info/models/{entry.id}"},
    )


def options_of(recipe: recipes.Recipe, settings: Settings) -> dict[str, Any]:
    """The recipe and settings as the cache key holds them (not the local path)."""
    fields = {k: v for k, v in recipe.__dict__.items() if k != "path"}
    return {"recipe": fields, "recipe_file": recipe.path.name, "settings": settings.__dict__}


def build_shard(plan: Plan, shard: int, index: Path, weights_dir: Path, dist: Path, cache: Path | None,
                jobs: int, settings: Settings, force: bool = False, debug: bool = False,
                progress: bool = True) -> list[Outcome]:
    from converter.bundle import signals, staging
    from converter.release.build import BuildJob, in_workers
    from converter.zoo import cache as zoo_cache

    mine = plan.of_shard(shard)
    dist.mkdir(parents=True, exist_ok=True)
    signals.sweep_on_exit(dist)
    outcomes: dict[str, Outcome] = {}
    todo: list[tuple[Planned, recipes.Recipe, str]] = []
    for planned in mine:
        recipe = recipe_for(planned, index, settings.formats)
        digest = zoo_cache.key(planned.resource.sha256, options_of(recipe, settings))
        hit = zoo_cache.lookup(cache, digest) if cache else None
        if hit is None:
            todo.append((planned, recipe, digest))
            continue
        out = dist / planned.id
        staging.check_destination(out, force)
        stage = staging.create(out)
        shutil.copytree(hit, stage, dirs_exist_ok=True)
        staging.publish(stage, out)
        outcomes[planned.id] = Outcome(planned.id, 0, [f"copied {out} from the cache (every file's sha256 re-checked)"],
                                       str(out))
    calls = [BuildJob(recipe, str(dist), str(Path(weights_dir) / planned.weights), settings.verify, force, debug,
                      settings.browser, progress=progress, workers=jobs, check_page=settings.check_page,
                      vendor_libs=settings.vendor_libs, out=str(dist / planned.id)) for planned, recipe, _ in todo]
    built = in_workers(calls, min(jobs, len(calls)), [planned.id for planned, _, _ in todo])
    for (planned, _, digest), outcome in zip(todo, built):
        outcomes[planned.id] = Outcome(planned.id, outcome.exit_code, outcome.lines, outcome.out)
        if cache and outcome.exit_code == 0 and settings.verify:
            zoo_cache.store(cache, digest, dist / planned.id)
    ordered = [outcomes[p.id] for p in mine]
    write_record(plan, shard, dist, ordered, Path(weights_dir))
    return ordered


def write_record(plan: Plan, shard: int, dist: Path, outcomes: list[Outcome], weights_dir: Path) -> Path:
    """What `zoo merge` reads: the whole plan's built ids (so it can tell a
    missing model), and this shard's outcome per model."""
    weights = {p.id: str(p.weights) for p in plan.of_shard(shard)}
    record = {
        "shard": f"{shard}/{plan.shards}",
        "plan": {p.id: p.shard for p in plan.built},
        "models": {o.recipe: _model_record(o, dist, weights_dir, weights[o.recipe]) for o in outcomes},
    }
    path = dist / RECORD.format(index=shard, total=plan.shards)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _model_record(outcome: Outcome, dist: Path, weights_dir: Path, weights: str) -> dict[str, Any]:
    from converter.core.errors import EXIT_OK

    if outcome.exit_code == EXIT_OK:
        return {"exit_code": EXIT_OK, "folder": Path(outcome.out).name, "failed_folder": None, "reason": None,
                "not_published": _not_published(Path(outcome.out))}
    return {"exit_code": outcome.exit_code, "folder": None, "failed_folder": _failed_folder(dist, outcome.recipe),
            "reason": _reason(outcome.lines, weights_dir / weights, weights)}


def _not_published(release: Path) -> list[str]:
    """What the release left out for failing its gates, as its manifest says (pipeline.withhold)."""
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    return [f"{record['entry']}: {record['reason']}" for record in manifest["parity"].get("not_published", [])]


def _failed_folder(dist: Path, entry_id: str) -> str | None:
    from converter.bundle.staging import FAILED_SUFFIX

    failed = dist / f"{entry_id}{FAILED_SUFFIX}"
    return failed.name if failed.is_dir() else None


def _reason(lines: list[str], path: Path, name: str) -> str:
    """The error's first line (what the CLI would print), naming the weights
    by their name in the weights folder, not this machine's path: the
    merged zoo is the same wherever its shards ran."""
    errors = [line for line in lines if line.startswith("error:") or line.startswith("internal error:")]
    reason = (errors or lines or ["failed"])[0]
    for spelling in (str(path.resolve()), str(path)):
        reason = reason.replace(spelling, name)
    return reason
