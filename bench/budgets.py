"""What the time and compute budgets cost, and what they decide, on
real-size models (`make bench` runs it after bench/run.py; not a test).

With the seeded ISR-gans-size RRDN (4.2 M parameters) and psnr-large-size
RDN (16 M) of bench/run.py, measures:
  - the compute estimate (converter.graphs.compute): counting the Keras topology,
    and the ONNX artifact bench/run.py wrote, against the release's time;
  - the watcher's deadline check (converter.core.deadline.Clock.overdue, run every
    50 ms beside the memory sample) with a run's worth of open calls, as a
    share of one core;
  - `srconvert build recipes/isr-gans-x4.toml --weights RRDN --browser` on
    this machine: with no GPU it stops before the browser lane, with the
    estimate; the seconds until it does, and the estimate it gives;
  - with --allowed, the same build under `--max-time`, run to the end: its
    real time against that estimate (most of an hour on SwiftShader).
Writes build/bench/budgets.json and build/bench/budgets.md.

    .venv/bin/python bench/budgets.py [--models rrdn,rdn] [--allowed]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import run as bench  # noqa: E402

OUT = bench.OUT
CHECKS = 20_000
OPEN_CALLS = 8  # one per lane and the main thread, more than a run holds at once
SAMPLES_PER_SECOND = 20  # converter.core.memory.SAMPLE_SECONDS = 0.05


def estimate_ms(source: Path, onnx_artifact: Path | None) -> dict[str, float]:
    import h5py
    import onnx

    from converter.graphs import compute
    from converter.sources import h5_weights

    weights, _ = h5_weights.read(source)
    with h5py.File(source, "r") as handle:
        topology = json.loads(handle.attrs["model_config"])
    shapes = {name: [v.shape for v in values] for name, values in weights.items()}
    started = time.perf_counter()
    keras_work = compute.of_keras(topology, shapes)
    result = {"keras_ms": round((time.perf_counter() - started) * 1000, 2),
              "macs_per_input_pixel": round(keras_work.macs_per_pixel)}
    if onnx_artifact is not None and onnx_artifact.is_file():
        model = onnx.load(str(onnx_artifact))
        started = time.perf_counter()
        onnx_work = compute.of_onnx(model, onnx_artifact)
        result["onnx_ms"] = round((time.perf_counter() - started) * 1000, 2)
        result["onnx_macs_per_input_pixel"] = round(onnx_work.macs_per_pixel)
    return result


def watcher_check_us() -> float:
    from contextlib import ExitStack

    from converter.core import deadline

    clock = deadline.Clock()
    with ExitStack() as stack:
        for index in range(OPEN_CALLS):
            stack.enter_context(clock.call(f"call {index}", 1.0))
        started = time.perf_counter()
        for _ in range(CHECKS):
            clock.overdue()
        return (time.perf_counter() - started) / CHECKS * 1e6


def browser_build(source: Path, allowed: bool) -> dict[str, object]:
    srconvert = str(bench.BIN / "srconvert")
    dist = OUT / "gans-browser"
    command = [srconvert, "build", str(ROOT / "recipes" / "isr-gans-x4.toml"), "--weights", str(source),
               "--browser", "-o", str(dist), "--force"]
    started = time.perf_counter()
    refused = subprocess.run(command, capture_output=True, text=True)
    result: dict[str, object] = {"exit": refused.returncode, "seconds": round(time.perf_counter() - started, 1),
                                 "message": next((line for line in refused.stderr.splitlines() if "error:" in line),
                                                 "")}
    found = re.search(r"about ([\d.]+) (min|h|s)", str(result["message"]))
    if found:
        unit = {"s": 1, "min": 60, "h": 3600}[found.group(2)]
        result["estimate_s"] = round(float(found.group(1)) * unit)
    allow = re.search(r"--max-time (\d+)", refused.stderr)
    if allowed and allow:
        started = time.perf_counter()
        ran = subprocess.run([*command, "--max-time", allow.group(1)], capture_output=True, text=True)
        result["allowed"] = {"exit": ran.returncode, "seconds": round(time.perf_counter() - started, 1),
                             "max_time": int(allow.group(1)),
                             "last_line": (ran.stdout.strip().splitlines() or [""])[-1]}
    return result


def markdown(results: dict) -> str:
    lines = ["| model | MACs per input pixel | count (Keras) ms | count (ONNX artifact) ms | release s | "
             "estimate's share of the release |", "|---|---|---|---|---|---|"]
    for name, r in results["models"].items():
        release = r.get("release_s")
        share = f"{(r['keras_ms'] + r.get('onnx_ms', 0)) / 1000 / release:.2%}" if release else "–"
        lines.append(f"| {name} | {r['macs_per_input_pixel']:,} | {r['keras_ms']} | {r.get('onnx_ms', '–')} | "
                     f"{release or '–'} | {share} |")
    check = results["watcher_check_us"]
    lines += ["", f"Deadline check, {OPEN_CALLS} open calls: {check:.2f} µs; at {SAMPLES_PER_SECOND} checks a "
              f"second, {check * SAMPLES_PER_SECOND / 1e6:.4%} of one core.", ""]
    build = results.get("gans_browser_build")
    if build:
        lines.append(f"`build isr-gans-x4 --browser` (ISR-size RRDN): exit {build['exit']} after "
                     f"{build['seconds']} s: {build['message']}")
        if "allowed" in build:
            allowed = build["allowed"]
            lines.append(f"Allowed with --max-time {allowed['max_time']}: exit {allowed['exit']} after "
                         f"{allowed['seconds']} s (estimate {build.get('estimate_s')} s for the browser lane).")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="rrdn,rdn")
    parser.add_argument("--allowed", action="store_true", help="also run the browser build to the end")
    args = parser.parse_args()
    previous = json.loads((OUT / "results.json").read_text()) if (OUT / "results.json").is_file() else {}
    results: dict = {"models": {}}
    for name, (source, _) in bench.make_models(args.models.split(",")).items():
        entry = estimate_ms(source, OUT / f"{name}-release" / "onnx" / "float32" / "model.onnx")
        entry["release_s"] = previous.get("models", {}).get(name, {}).get("release_s")
        results["models"][name] = entry
        if name == "rrdn":
            results["gans_browser_build"] = browser_build(source, args.allowed)
    results["watcher_check_us"] = round(watcher_check_us(), 3)
    (OUT / "budgets.json").write_text(json.dumps(results, indent=2) + "\n")
    (OUT / "budgets.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
