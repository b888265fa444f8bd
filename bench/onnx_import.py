"""Conversion seconds per PyTorch-exported fixture family, for comparing with
other ONNX -> TF/TFJS converters (onnx2tf and friends) on your own machine.

    make bench-onnx          (or: .venv/bin/python bench/onnx_import.py [--repeat N])

For each fixture in fixtures/onnx it times, as a user runs them:
  convert  `srconvert convert X --format tfjs --quantize float32 --no-verify`
           (ONNX -> Keras -> TFJS layers model; the step other converters do)
  release  `srconvert convert X` with defaults (TFJS + ONNX in float32,
           float16, uint8, parity in every runtime included)
and the import step alone, in-process (ONNX graph -> Keras topology and
weights). For each architecture in fixtures/onnx/architectures it times
the same two runs with no flags (the TF.js model convert picks). Writes
build/bench/onnx_import.json and .md.
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
SRCONVERT = [sys.executable, "-m", "converter"]


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(SRCONVERT + args, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"srconvert {' '.join(args)} failed:\n{result.stderr}")
    return elapsed


def import_seconds(path: Path) -> float:
    sys.path.insert(0, str(ROOT))
    from converter.sources import derived, describe

    start = time.perf_counter()
    derived(describe(path))  # read, probe and translate the graph
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    rows = []
    for source in sorted((ROOT / "fixtures" / "onnx").glob("*.onnx")):
        family, exporter = source.stem.rsplit("_", 1)
        with tempfile.TemporaryDirectory() as tmp:
            convert = [timed(["convert", str(source), "-o", f"{tmp}/c{i}", "--format", "tfjs", "--quantize",
                              "float32", "--no-verify"]) for i in range(args.repeat)]
            release = [timed(["convert", str(source), "-o", f"{tmp}/r{i}"]) for i in range(args.repeat)]
        rows.append({
            "family": family, "exporter": exporter, "import_s": round(import_seconds(source), 3),
            "convert_s": round(statistics.median(convert), 2), "release_s": round(statistics.median(release), 2),
        })
        print(f"{source.name:28s} import {rows[-1]['import_s']:6.2f}s  convert {rows[-1]['convert_s']:6.2f}s  "
              f"release+parity {rows[-1]['release_s']:6.2f}s", flush=True)
    for source in sorted((ROOT / "fixtures" / "onnx" / "architectures").glob("*.onnx")):
        rows.append(architecture_row(source, args.repeat))
    out = ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "onnx_import.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["| family | exporter | import (in-process) s | convert to TFJS s | full release with parity s |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['family']} | {r['exporter']} | {r['import_s']} | {r['convert_s']} | {r['release_s']} |" for r in rows]
    (out / "onnx_import.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def architecture_row(source: Path, repeat: int) -> dict:
    """The same two runs with no flags, as a user runs them: the TF.js model
    convert picks (a graph model at the sizes the source takes, or at the
    suggested patch where it must be fixed)."""
    with tempfile.TemporaryDirectory() as tmp:
        convert = [timed(["convert", str(source), "-o", f"{tmp}/c{i}", "--format", "tfjs", "--quantize", "float32",
                          "--no-verify"]) for i in range(repeat)]
        release = [timed(["convert", str(source), "-o", f"{tmp}/r{i}"]) for i in range(repeat)]
    row = {"family": source.stem, "exporter": "torchscript (spandrel)", "import_s": "–",
           "convert_s": round(statistics.median(convert), 2), "release_s": round(statistics.median(release), 2)}
    print(f"{source.name:28s} convert {row['convert_s']:6.2f}s  release+parity {row['release_s']:6.2f}s", flush=True)
    return row


if __name__ == "__main__":
    main()
