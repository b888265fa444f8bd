"""The zoo's throughput and its cache (`make bench` runs it; not a test).

Builds, as `srconvert zoo build` would for OpenModelDB entries, a zoo of the
PyTorch fixture checkpoints (fixtures/make_pytorch_fixtures.py: every family
srconvert converts, at the default precisions, parity included), then
measures on this machine:
  - the cold build: models per hour, with -j set to the cores;
  - the same build again with the cache: seconds in all and per model;
  - the merge of the shard.
The fixtures are small random-weight networks (2 k to 60 k parameters), so
models per hour here is an upper bound for real checkpoints; `zoo plan`'s
work estimate is what sizes real shards. Writes build/bench/zoo.json and
build/bench/zoo.md.

    .venv/bin/python bench/zoo.py [--families compact,span,...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "bench"
FAMILIES = ("compact", "span", "esrgan", "omnisr", "realplksr", "swinir", "dat", "hat", "srformer",
            "rgt", "rcan", "mosr")


def srconvert(*args) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "converter", *map(str, args)], capture_output=True, text=True,
                            cwd=ROOT)
    return time.perf_counter() - started, result


def make_index(root: Path, families: list[str]) -> tuple[Path, Path]:
    weights, index = root / "weights", root / "index"
    index.mkdir()
    subprocess.run([sys.executable, str(ROOT / "fixtures" / "make_pytorch_fixtures.py"), str(weights)], check=True,
                   capture_output=True)
    for family in families:
        blob = (weights / f"{family}.pth").read_bytes()
        entry = {"name": f"2x {family}", "author": "srconvert-bench", "license": "CC0-1.0", "tags": [],
                 "description": "A random-weight fixture.", "date": "2024-01-01", "architecture": family,
                 "scale": 2, "inputChannels": 3, "outputChannels": 3,
                 "resources": [{"platform": "pytorch", "type": "pth", "size": len(blob),
                                "sha256": hashlib.sha256(blob).hexdigest(), "urls": [f"https://x/{family}.pth"]}]}
        (index / f"2x-Bench-{family}.json").write_text(json.dumps(entry))
    return index, weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    args = parser.parse_args()
    families = args.families.split(",")
    jobs = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        index, weights = make_index(root, families)
        common = ("--weights-dir", weights, "--cache", root / "cache", "-j", jobs, "--quiet")
        cold, first = srconvert("zoo", "build", index, "-o", root / "cold", *common)
        warm, second = srconvert("zoo", "build", index, "-o", root / "warm", *common)
        merge, merged = srconvert("zoo", "merge", root / "cold", "-o", root / "zoo")
        record = json.loads((root / "cold" / "zoo-shard-1-of-1.json").read_text())
    built = [i for i, m in record["models"].items() if m["exit_code"] == 0]
    failed = {i: m["reason"] for i, m in record["models"].items() if m["exit_code"] != 0}
    failed.update({f"2x-Bench-{f}": "not planned (zoo plan does not build this architecture name)"
                   for f in families if f"2x-Bench-{f}" not in record["plan"]})
    results = {
        "cores": jobs, "models": len(families), "built": len(built), "failed": failed,
        "cold_s": round(cold, 1), "models_per_hour": round(3600 * len(built) / cold, 1),
        "cache_s": round(warm, 1), "cache_s_per_model": round(warm / max(len(built), 1), 2),
        "cache_hits": second.stdout.count("from the cache"), "cache_speedup": round(cold / warm, 1),
        "merge_s": round(merge, 1), "exit_codes": [first.returncode, second.returncode, merged.returncode],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "zoo.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| zoo of fixture checkpoints | measured |", "|---|---|",
             f"| models (families) | {results['models']}: {', '.join(families)} |",
             f"| built and verified (default precisions, parity) | {results['built']} |",
             f"| cold build, -j {jobs} | {results['cold_s']} s = {results['models_per_hour']} models/hour |",
             f"| again, every model from the cache | {results['cache_s']} s ({results['cache_s_per_model']} s a model,"
             f" {results['cache_hits']} hits, {results['cache_speedup']}x faster) |",
             f"| merge | {results['merge_s']} s |"]
    lines += [f"| failed: {i} | {reason} |" for i, reason in failed.items()]
    (OUT / "zoo.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
