"""srconvert's speed and size benchmark (`make bench`; not a test).

Builds, with seeded random weights, an ISR-gans-size RRDN (C4 D3 G32 G0 32
T10 x4, ~4.2 M parameters) and a psnr-large-size RDN (C6 D20 G64 G0 64 x2,
~16 M), then measures in one run on this machine:
  - srconvert's full release (TFJS + ONNX in float32, float16 and uint8,
    parity included) against the naive toolchain (one tensorflowjs_converter
    run per precision and a tf2onnx script, no parity), as a ratio, and the
    time to its first verified artifact;
  - `srconvert --help` start time;
  - each artifact's size against params x bytes per weight;
  - each artifact's inference time in its runtime on a 64x64 tile, against the
    source model in TensorFlow, with and without srconvert's optimisations;
  - what the browser lane (--browser) adds to the RRDN's release, and each
    browser runtime's first (warm-up) and warm inference on its parity inputs;
  - each release's peak memory (process tree, sampled) against the memory
    estimate its manifest records (issue 14's budget must refuse no real model);
  - the self-check page's size (check.html and its reference data) against
    the smallest artifact's (issue 27: at most 10% for the RRDN).
Writes build/bench/results.json and build/bench/results.md.

    .venv/bin/python bench/run.py [--models rrdn,rdn] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "build" / "bench"
BIN = Path(sys.executable).parent
BYTES_PER_WEIGHT = {"float32": 4, "float16": 2, "uint16": 2, "uint8": 1, "int8": 1}
PRECISIONS = ("float32", "float16", "uint8")
TILE = (64, 64)
TFJS_REPEAT_FACTOR = 3
# The browser lane runs on SwiftShader here: the 16 M RDN's TF.js artifacts
# need more than puppeteer's 180 s per call on WebGL and WebGPU (measured
# 2026-11-23), so only the RRDN's browser release is timed.
BROWSER_MODELS = ("rrdn",)

NAIVE_ONNX_SCRIPT = """
import sys, tf_keras, tensorflow as tf, tf2onnx
sys.path.insert(0, {root!r})
import custom_layers
objects = {{layer.name: layer.keras_class(tf_keras) for layer in custom_layers.LAYERS}}
model = tf_keras.models.load_model(sys.argv[1], custom_objects=objects, compile=False)
spec = [tf.TensorSpec([None, None, None, 3], tf.float32, name="input")]
tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=sys.argv[2])
"""


def make_models(models: list[str]) -> dict[str, tuple[Path, int]]:
    from converter.architectures import rdn, rrdn
    from converter.core import tf_runtime

    tf_runtime.quiet()
    keras = tf_runtime.tf_keras()
    import numpy as np

    specs = {"rrdn": (rrdn.build, rrdn.Params(C=4, D=3, G=32, G0=32, T=10, x=4)),
             "rdn": (rdn.build, rdn.Params(C=6, D=20, G=64, G0=64, x=2))}
    built = {}
    OUT.mkdir(parents=True, exist_ok=True)
    for name in models:
        build, params = specs[name]
        path = OUT / f"{name}.h5"
        model = build(keras, params, name=name)
        rng = np.random.default_rng(0)
        model.set_weights([(rng.normal(0, 1 / np.sqrt(max(1, np.prod(w.shape[:-1]))), w.shape)
                            if w.ndim > 1 else rng.normal(0, 0.01, w.shape)).astype(np.float32)
                           for w in model.get_weights()])
        model.save(path)
        built[name] = (path, int(model.count_params()))
    return built


def timed(command: list[str], **kwargs) -> float:
    return measured(command, **kwargs)[0]


def measured(command: list[str], **kwargs) -> tuple[float, int, str]:
    """Wall seconds, the peak resident bytes of the command's process tree
    (sampled every 20 ms, as srconvert's own memory guard sees it), and its
    stderr."""
    import threading

    from converter.core.memory import tree_rss

    peak, done = 0, threading.Event()
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, **kwargs)

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            try:
                peak = max(peak, tree_rss(process.pid))
            except Exception:  # the process ended between samples
                pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{stderr[-2000:]}")
    return elapsed, peak, stderr


def help_seconds(repeat: int = 5) -> float:
    return statistics.median(timed([str(BIN / "srconvert"), "--help"]) for _ in range(repeat))


def naive_seconds(source: Path, tmp: Path) -> float:
    flags = {"float32": [], "float16": ["--quantize_float16", "*"], "uint8": ["--quantize_uint8", "*"]}
    total = 0.0
    for precision in PRECISIONS:
        total += timed([str(BIN / "tensorflowjs_converter"), "--input_format", "keras", *flags[precision],
                        str(source), str(tmp / f"naive-{precision}")])
    script = tmp / "naive_onnx.py"
    script.write_text(NAIVE_ONNX_SCRIPT.format(root=str(ROOT)))
    total += timed([sys.executable, str(script), str(source), str(tmp / "naive.onnx")])
    return total


def release_seconds(source: Path, out: Path, *extra: str) -> tuple[float, dict, int, float | None]:
    """Seconds, the manifest, the peak bytes of the process tree, and the
    seconds to the first verified artifact (its verdict's progress line)."""
    elapsed, peak, stderr = measured([str(BIN / "srconvert"), "convert", str(source), "-o", str(out), "--force",
                                      "--quantize", ",".join(PRECISIONS), *extra])
    return elapsed, json.loads((out / "manifest.json").read_text()), peak, first_verdict(stderr)


def first_verdict(stderr: str) -> float | None:
    """The time of the first `[ 9.2s] onnx/float32 in onnxruntime: pass (...)` line."""
    for line in stderr.splitlines():
        stamp, _, rest = line.partition("] ")
        if stamp.startswith("[") and stamp.endswith("s") and (": pass" in rest or ": FAIL" in rest):
            return float(stamp[1:-1])
    return None


def tile_times(bundles: dict[str, tuple[Path, dict]], source: Path, repeat: int) -> dict[str, dict[str, float]]:
    """ms per 64x64 tile for every artifact in its runtimes, for each bundle
    variant (optimised, unoptimised), and for the source in TensorFlow.

    The variants of one artifact run in alternation (ABAB...) after a warm-up
    each, so drift in the machine's speed hits both alike, and the fastest run
    of each is kept: noise only ever adds time."""
    import numpy as np

    from converter.backends.keras.runner import KerasRunner
    from converter.backends.registry import make_runner
    from converter.bundle.manifest import Artifact
    from converter.forms.keras_form import KerasForm
    from converter.backends.lanes import Runtimes
    from converter.sources import SourceOptions, describe
    from converter.targets import TARGETS

    x = np.random.default_rng(1).random((1, *TILE, 3), dtype=np.float32)
    times: dict[str, dict[str, float]] = {variant: {} for variant in bundles}
    source_runner = KerasRunner(KerasForm(describe(source), SourceOptions()).plain())
    times["source"] = {"source in tensorflow": _fastest([source_runner], x, repeat)[0]}
    runtimes = Runtimes(backend="wasm", ort_threads=0)  # onnxruntime as servers run it: every core
    try:
        first = next(iter(bundles.values()))[1]
        for index, data in enumerate(first["artifacts"]):
            groups = []  # per variant: that artifact's runners
            for variant, (bundle, manifest) in bundles.items():
                artifact = Artifact.from_dict(manifest["artifacts"][index])
                names = TARGETS[artifact.format].runtimes
                groups.append((variant, [make_runner(name, artifact, bundle, runtimes) for name in names]))
            for position in range(len(groups[0][1])):
                runners = [runners[position] for _, runners in groups]
                for (variant, _), ms in zip(groups, _fastest(runners, x, repeat)):
                    times[variant][f"{data['entry']} in {runners[0].runtime}"] = ms
    finally:
        runtimes.close()
    return times


def _fastest(runners: list, x, repeat: int) -> list[float]:
    """Fastest of `repeat` runs for each runner, the runners alternating."""
    # TF.js wasm runs of one tile vary by up to ~20% here (sporadic slow runs),
    # more than the optimisations change: the verdict needs more of them.
    if runners[0].runtime.startswith("tfjs"):
        repeat *= TFJS_REPEAT_FACTOR
    for runner in runners:
        runner.activate()
        runner.infer(x)  # warm-up
    samples: list[list[float]] = [[] for _ in runners]
    for _ in range(repeat):
        for runner, mine in zip(runners, samples):
            runner.infer(x)
            mine.append(runner.last_ms)
    for runner in runners:
        runner.deactivate()
    return [round(min(mine), 1) for mine in samples]


def sizes(manifest: dict, params: int) -> list[dict]:
    rows = []
    for artifact in manifest["artifacts"]:
        total = sum(f["bytes"] for f in artifact["files"])
        bound = params * BYTES_PER_WEIGHT[artifact["precision"]]
        rows.append({"entry": artifact["entry"], "bytes": total, "bound": bound,
                     "over_bound_pct": round(100 * (total - bound) / bound, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="rrdn,rdn")
    parser.add_argument("--repeat", type=int, default=3, help="tile runs per artifact variant (the fastest counts)")
    args = parser.parse_args()
    results = {"help_s": round(help_seconds(), 3), "models": {}}
    print(f"srconvert --help: {results['help_s']} s", flush=True)
    for name, (source, params) in make_models(args.models.split(",")).items():
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            naive = naive_seconds(source, tmp)
            ours, manifest, peak, first = release_seconds(source, OUT / f"{name}-release")
            with_browser, browser_peak = None, None
            if name in BROWSER_MODELS:
                with_browser, _, browser_peak, _ = release_seconds(source, OUT / f"{name}-release-browser",
                                                                   "--browser")
        bundles = {"optimized": (OUT / f"{name}-release", manifest)}
        if manifest.get("optimizations"):  # else the unoptimised bundle is the same files
            _, plain, _, _ = release_seconds(source, OUT / f"{name}-release-unoptimized", "--no-optimize",
                                             "--no-verify")
            bundles["unoptimized"] = (OUT / f"{name}-release-unoptimized", plain)
        times = tile_times(bundles, source, args.repeat)
        optimized_ms, plain_ms = times["optimized"], times.get("unoptimized", {})
        optimized_ms.update(times["source"])
        entry = {
            "params": params,
            "naive_s": round(naive, 2),
            "release_s": round(ours, 2),
            "first_verified_s": first,
            "ratio": round(ours / naive, 3),
            "sizes": sizes(manifest, params),
            "tile_ms": optimized_ms,
            "tile_ms_unoptimized": plain_ms,
            "optimizations": manifest.get("optimizations", []),
            "release_browser_s": round(with_browser, 2) if with_browser else None,
            "peak_mib": round(peak / 2**20),
            "peak_browser_mib": round(browser_peak / 2**20) if browser_peak else None,
            "estimate_mib": round(manifest["memory"]["estimate_bytes"] / 2**20),
            "browser_ms": browser_times(OUT / f"{name}-release-browser") if with_browser else {},
            "check_page": check_page_overhead(manifest),
        }
        results["models"][name] = entry
        print(f"{name}: {params:,} params; release with parity {ours:.1f} s vs naive {naive:.1f} s "
              f"(ratio {entry['ratio']})", flush=True)
    results["targets"] = targets(results)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (OUT / "results.md").write_text(markdown(results))
    print(markdown(results))


def check_page_overhead(manifest: dict) -> dict:
    """The self-check page's bytes (check.html, its scripts and reference
    data; no vendored libraries) against the smallest artifact's."""
    page = sum(f["bytes"] for f in manifest["check_page"]["files"] if not f["path"].startswith("check/libs/"))
    reference = sum(f["bytes"] for f in manifest["check_page"]["files"] if f["path"].startswith("check/reference."))
    smallest = min(manifest["artifacts"], key=lambda a: sum(f["bytes"] for f in a["files"]))
    smallest_bytes = sum(f["bytes"] for f in smallest["files"])
    return {"bytes": page, "reference_bytes": reference, "smallest_artifact": smallest["entry"],
            "smallest_artifact_bytes": smallest_bytes, "pct_of_smallest": round(100 * page / smallest_bytes, 2)}


def browser_times(bundle: Path) -> dict[str, dict[str, float]]:
    """First and warm ms per browser runtime, from the float32 artifacts' rows."""
    parity = json.loads((bundle / "parity.json").read_text())
    return {
        f"{a['entry']} in {r['runtime']}": {"first_ms": r["first_ms"], "ms": r["ms"]}
        for a in parity["artifacts"] if a["precision"] == "float32"
        for r in a["parity"]["results"] if r["runtime"].startswith("chromium") and r.get("ms") is not None
    }


def targets(results: dict) -> list[dict]:
    """Issue 7's targets (and issue 14's memory estimate), each with what this run measured."""
    rows = [{"target": "`srconvert --help` < 0.3 s", "measured": f"{results['help_s']} s",
             "met": results["help_s"] < 0.3}]
    for name, r in results["models"].items():
        # Issue 30: a third of the naive toolchain's time (issue 7 asked 0.6 of the RRDN's).
        rows.append({"target": f"{name}: full release / naive toolchain <= 0.35",
                     "measured": f"{r['ratio']} ({r['release_s']} s / {r['naive_s']} s; first verified artifact at "
                                 f"{r['first_verified_s']} s)", "met": r["ratio"] <= 0.35})
        if name == "rrdn":
            page = r["check_page"]
            rows.append({"target": "rrdn: check page and its reference data <= 10% of the smallest artifact",
                         "measured": f"{page['bytes']:,} B = {page['pct_of_smallest']}% of {page['smallest_artifact']}",
                         "met": page["pct_of_smallest"] <= 10})
        worst = max(r["sizes"], key=lambda row: row["over_bound_pct"])
        rows.append({"target": f"{name}: every artifact within 2% of params x bytes/weight",
                     "measured": f"worst {worst['entry']} +{worst['over_bound_pct']}%", "met": worst["over_bound_pct"] <= 2})
        rows.append({"target": f"{name}: memory estimate (issue 14) covers the measured peak of a release",
                     "measured": f"estimate {r['estimate_mib']} MiB, peak {r['peak_mib']} MiB",
                     "met": r["estimate_mib"] >= r["peak_mib"]})
        ratios = {key: ms / r["tile_ms_unoptimized"][key] for key, ms in r["tile_ms"].items()
                  if key.startswith("tfjs") and key in r["tile_ms_unoptimized"]}
        if ratios:
            key = max(ratios, key=ratios.get)
            rows.append({"target": f"{name}: optimised TFJS no slower than unoptimised (64x64 tile)",
                         "measured": f"ratio {min(ratios.values()):.3f}-{ratios[key]:.3f} (worst {key})",
                         "met": ratios[key] <= 1.0})
    return rows


def markdown(results: dict) -> str:
    lines = ["| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |" for t in results["targets"]]
    lines += ["", f"`srconvert --help`: {results['help_s']} s", ""]
    lines += ["| model | params | full release with parity s | first verified artifact s | naive toolchain s | ratio |",
              "|---|---|---|---|---|---|"]
    for name, r in results["models"].items():
        lines.append(f"| {name} | {r['params']:,} | {r['release_s']} | {r['first_verified_s']} | {r['naive_s']} | "
                     f"{r['ratio']} |")
    lines += ["", "| model | release s | with --browser s | the browser lane adds s |", "|---|---|---|---|"]
    for name, r in results["models"].items():
        if r["release_browser_s"] is not None:
            lines.append(f"| {name} | {r['release_s']} | {r['release_browser_s']} | "
                         f"{round(r['release_browser_s'] - r['release_s'], 2)} |")
    lines += ["", "| model | check page bytes | of which reference data | smallest artifact | bytes | page % |",
              "|---|---|---|---|---|---|"]
    for name, r in results["models"].items():
        page = r["check_page"]
        lines.append(f"| {name} | {page['bytes']:,} | {page['reference_bytes']:,} | {page['smallest_artifact']} | "
                     f"{page['smallest_artifact_bytes']:,} | {page['pct_of_smallest']} |")
    lines += ["", "| model | memory estimate MiB | peak MiB (process tree) | with --browser MiB |", "|---|---|---|---|"]
    for name, r in results["models"].items():
        lines.append(f"| {name} | {r['estimate_mib']} | {r['peak_mib']} | {r['peak_browser_mib'] or '-'} |")
    for name, r in ((n, r) for n, r in results["models"].items() if r["browser_ms"]):
        lines += ["", f"**{name}** in the browser (float32, parity inputs)", "", "| artifact in runtime | first ms | warm ms |",
                  "|---|---|---|"]
        lines += [f"| {key} | {t['first_ms']} | {t['ms']} |" for key, t in r["browser_ms"].items()]
    for name, r in results["models"].items():
        lines += ["", f"**{name}** artifacts (64x64 tile)", "",
                  "| artifact | bytes | bound | over bound % | ms optimised | ms unoptimised | ratio |",
                  "|---|---|---|---|---|---|---|"]
        for row in r["sizes"]:
            for key, ms in r["tile_ms"].items():
                if key.startswith(row["entry"] + " in "):
                    before = r["tile_ms_unoptimized"].get(key)
                    ratio = round(ms / before, 3) if before else "-"
                    lines.append(f"| {key} | {row['bytes']:,} | {row['bound']:,} | {row['over_bound_pct']} | {ms} | {before} | {ratio} |")
        lines.append(f"| source in tensorflow | | | | {r['tile_ms']['source in tensorflow']} | | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
