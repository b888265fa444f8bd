"""Many releases at once (`make bench` runs it; not a test): `srconvert build
-j 2` of the four shipped recipes, in warm worker processes (one per job
slot, reused from release to release) against `--fresh-workers` (a new
process per release, which starts TensorFlow again each time).

The recipes name ISR's trained weights, which srconvert does not ship: the
bench writes seeded random weights of each recipe's architecture and size
under the recipe's file name, and builds copies of the recipes that point
there. The two modes run in alternation (warm, fresh, warm, fresh, ...), so
drift in the machine's speed hits both alike; the releases of both must be
byte-identical. Writes build/bench/builds.json and build/bench/builds.md.

    .venv/bin/python bench/builds.py [--pairs N] [--jobs 2]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "build" / "bench"
RECIPES = sorted((ROOT / "recipes").glob("*.toml"))


def make_recipes(root: Path) -> list[Path]:
    """Copies of the shipped recipes beside seeded weights of their sizes."""
    import numpy as np

    from converter.architectures import rdn, rrdn
    from converter.core import tf_runtime
    from converter.release import recipes

    keras = tf_runtime.tf_keras()
    builders = {"rrdn": (rrdn.build, rrdn.Params), "rdn": (rdn.build, rdn.Params)}
    (root / "weights").mkdir(parents=True)
    copies = []
    for path in RECIPES:
        recipe = recipes.load(path)
        build, params_type = builders[recipe.arch]
        fields = {k: v for k, v in recipe.params.items() if k in params_type.__dataclass_fields__}
        model = build(keras, params_type(**fields), name=recipe.arch)
        rng = np.random.default_rng(0)
        model.set_weights([(rng.normal(0, 1 / np.sqrt(max(1, np.prod(w.shape[:-1]))), w.shape)
                            if w.ndim > 1 else rng.normal(0, 0.01, w.shape)).astype(np.float32)
                           for w in model.get_weights()])
        model.save_weights(root / "weights" / recipe.weights_path.name)
        keras.backend.clear_session()
        text = path.read_text().replace('"../fixtures/', json.dumps(str(ROOT / "fixtures"))[:-1] + "/")
        (root / path.name).write_text(text)
        copies.append(root / path.name)
    return copies


def build(recipe_files: list[Path], dist: Path, jobs: int, fresh: bool) -> float:
    if dist.exists():
        shutil.rmtree(dist)
    command = [str(Path(sys.executable).parent / "srconvert"), "build", *map(str, recipe_files), "-o", str(dist),
               "-j", str(jobs), "--quiet", *(["--fresh-workers"] if fresh else [])]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return elapsed


def identical(a: Path, b: Path) -> list[str]:
    """The files that differ between two dist folders (none, for reproducible releases)."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    if files != sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()):
        return ["(the two builds wrote different file lists)"]
    return [str(f) for f in files if not filecmp.cmp(a / f, b / f, shallow=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2, help="warm/fresh pairs to run")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="srconvert-bench-builds-") as tmp:
        tmp = Path(tmp)
        recipe_files = make_recipes(tmp / "recipes")
        times: dict[str, list[float]] = {"warm": [], "fresh": []}
        for _ in range(args.pairs):
            for mode in ("warm", "fresh"):
                times[mode].append(build(recipe_files, tmp / mode, args.jobs, fresh=mode == "fresh"))
                print(f"build -j {args.jobs}, {mode} workers: {times[mode][-1]:.1f} s", flush=True)
        differing = identical(tmp / "warm", tmp / "fresh")
    models = len(recipe_files)
    warm, fresh = statistics.median(times["warm"]), statistics.median(times["fresh"])
    results = {
        "recipes": [p.name for p in RECIPES], "jobs": args.jobs, "pairs": args.pairs,
        "warm_s": times["warm"], "fresh_s": times["fresh"],
        "warm_models_per_minute": round(60 * models / warm, 2),
        "fresh_models_per_minute": round(60 * models / fresh, 2),
        "speedup": round(fresh / warm, 3),
        "pair_ratios": [round(f / w, 3) for w, f in zip(times["warm"], times["fresh"])],
        "differing_files": differing,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "builds.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [f"`srconvert build` of the {models} recipes, -j {args.jobs}, seeded weights at their sizes "
             f"(median of {args.pairs}, alternating)", "",
             "| workers | s | models per minute |", "|---|---|---|",
             f"| warm (one per job slot) | {warm:.1f} | {results['warm_models_per_minute']} |",
             f"| fresh (one per release) | {fresh:.1f} | {results['fresh_models_per_minute']} |", "",
             f"warm is {results['speedup']}x faster (pairs: {results['pair_ratios']}); releases "
             + ("byte-identical" if not differing else f"DIFFER: {differing[:5]}")]
    (OUT / "builds.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if differing:
        raise SystemExit("warm and fresh workers wrote different releases")


if __name__ == "__main__":
    main()
