"""PyTorch checkpoints in, directly (issue 16): `.pth` (zip and legacy
torch.save formats) and `.safetensors` of small random-weight networks,
detected by spandrel, exported by srconvert, and every artifact checked
against the PyTorch network itself. Needs the pytorch extra, which
`make test` installs; no test here is skipped without it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_clean_error, run_cli
from test_architectures import EXPECTED

from converter.core.input_size import InputSize, Sizes

pytestmark = pytest.mark.slow

# family -> the TF.js model its checkpoint gets with no flags and the size it
# is fixed to: as its ONNX export gets (test_architectures), except SAFMN,
# whose adaptive pooling srconvert's export fixes to 64x64 (the author's
# export, to 16x16). Every family as .pth, two as .safetensors.
FAMILIES = {**EXPECTED, "safmn": ("tfjs-graph", "64x64")}
SPANDREL_IDS = {"realplksr": "PLKSR"}  # spandrel names both PLKSR variants so
NO_FLAGS = [f"{family}.pth" for family in FAMILIES] + ["esrgan.safetensors", "swinir.safetensors"]


@pytest.mark.parametrize("name", sorted(NO_FLAGS))
def test_a_checkpoint_converts_with_no_flags_and_every_artifact_matches_pytorch(checkpoints_dir, tmp_path, name):
    result = run_cli("convert", checkpoints_dir / name, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    family = name.split(".")[0]
    written = json.loads((checkpoints_dir / "checkpoints.json").read_text())[family]
    arch = manifest["source"]["architecture"]
    container = written["container"] if name.endswith(".pth") else None  # a .safetensors file is flat
    assert arch["family"] == SPANDREL_IDS.get(family, arch["family"]) and arch["scale"] == 2
    assert arch["family"].lower() == family or family in SPANDREL_IDS
    assert arch["container"] == container
    assert arch["detected_by"].startswith("spandrel 0.4") and arch["parameters"] == written["parameters"]
    for key, value in written["params"].items():  # the hyperparameters are read back from shapes alone
        assert arch["params"][key] == value, key
    assert manifest["source"]["format"] == ("safetensors" if name.endswith(".safetensors") else "pytorch")
    assert len(manifest["source"]["sha256"]) == 64
    assert manifest["parity"]["reference"]["runtime"] == "pytorch" and manifest["parity"]["pass"] is True
    tfjs, size = FAMILIES[family]
    assert manifest["model"]["input_size"] == size
    formats = sorted({(a["format"], a["precision"]) for a in manifest["artifacts"]})
    assert formats == sorted((f, p) for f in (tfjs, "onnx") for p in ("float32", "float16", "uint8"))
    taken = {a["format"]: Sizes.from_dict(a["input_sizes"]) for a in manifest["artifacts"]}
    exported_fixed = arch["export"]["size"] != "dynamic"
    assert taken["onnx"].free != exported_fixed  # ONNX keeps every size the export takes
    assert taken[tfjs] == (Sizes(InputSize.parse(size)) if size else taken["onnx"])
    runtimes = {r["runtime"] for a in manifest["artifacts"] for r in a["parity"]["results"]}
    assert runtimes == {"tfjs-wasm", "onnxruntime", "onnxruntime-web"}
    # float32 is exact to rounding: the export and every runtime compute the checkpoint's network.
    for artifact in manifest["artifacts"]:
        if artifact["precision"] == "float32":
            assert all(r["max_abs"] < 1e-4 for r in artifact["parity"]["results"]), artifact["entry"]
    if size and not exported_fixed:
        assert "its TF.js model is built at 64x64" in result.stderr


def test_the_exported_graph_computes_what_the_checkpoint_does_at_sizes_parity_did_not_try(checkpoints_dir, tmp_path):
    import onnxruntime
    import torch

    from converter.sources import describe

    info = describe(checkpoints_dir / "span.pth")
    session = onnxruntime.InferenceSession(info.payload.SerializeToString(), providers=["CPUExecutionProvider"])
    runner = info.reference()
    for h, w in ((21, 35), (50, 18)):
        x = np.random.default_rng(h).random((1, h, w, 3), dtype=np.float32)
        ours = session.run(None, {"input": x.transpose(0, 3, 1, 2)})[0].transpose(0, 2, 3, 1)
        theirs = runner.infer(x)
        assert ours.shape == (1, 2 * h, 2 * w, 3)
        np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert isinstance(runner.module, torch.nn.Module)


def test_the_legacy_torch_format_converts_and_an_input_size_that_fixes_nothing_is_refused(checkpoints_dir,
                                                                                          tmp_path):
    result = run_cli("convert", checkpoints_dir / "compact-legacy.pth", "-o", tmp_path / "out", "--quantize",
                     "float32")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["source"]["architecture"]["export"]["size"] == "dynamic"
    assert manifest["model"]["input_shape"] == [None, None, None, 3] and manifest["parity"]["pass"] is True
    # A layers model and the ONNX graph both take any size: a patch size would be a claim nothing keeps.
    refused = run_cli("convert", checkpoints_dir / "compact-legacy.pth", "-o", tmp_path / "sized", "--input-size",
                      "24x40")
    assert_clean_error(refused, 2, "--input-size 24x40 would fix nothing", "TF.js layers and ONNX take every size")
    assert not (tmp_path / "sized").exists()


def test_inspect_names_family_scale_hyperparameters_and_licence_without_exporting(checkpoints_dir):
    result = run_cli("inspect", checkpoints_dir / "swinir.pth")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SwinIR (SwinIR, super-resolution; spandrel 0.4.2)" in out and "x2" in out
    assert "window_size=4" in out and "embed_dim=8" in out and "norm_layer=LayerNorm" in out
    assert "MIT, Apache-2.0 or public domain" in out and "params of the checkpoint" in out
    facts = json.loads(run_cli("inspect", checkpoints_dir / "swinir.pth", "--json").stdout)
    assert facts["params"] == facts["architecture"]["parameters"] > 1000
    assert "export" not in facts["architecture"]  # nothing was exported


def test_part_of_a_network_is_named_as_such(checkpoints_dir, tmp_path):
    result = run_cli("convert", checkpoints_dir / "esrgan-partial.pth", "-o", tmp_path / "out")
    assert_clean_error(result, 2, "only part of a network", "ESRGAN", "missing", "complete generator checkpoint")
    assert not (tmp_path / "out").exists()


def test_arch_names_a_family_and_an_unknown_one_lists_them(checkpoints_dir, tmp_path):
    wrong = run_cli("convert", checkpoints_dir / "span.pth", "-o", tmp_path / "a", "--arch", "SwinIR")
    assert_clean_error(wrong, 2, "only part of a network", "SwinIR")
    unknown = run_cli("convert", checkpoints_dir / "span.pth", "-o", tmp_path / "b", "--arch", "NoSuchNet")
    assert_clean_error(unknown, 2, "--arch NoSuchNet is not an architecture spandrel knows", "ESRGAN", "SPAN")
    right = run_cli("inspect", checkpoints_dir / "span.pth", "--arch", "span")
    assert right.returncode == 0 and "SPAN (SPAN" in right.stdout


def test_without_the_extra_a_checkpoint_stops_with_exit_3_and_the_install_command(checkpoints_dir, tmp_path):
    # A Python that cannot import torch: the extra's absence, with nothing uninstalled.
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "torch.py").write_text("raise ImportError('torch is not installed here')\n")
    env = {"PYTHONPATH": str(blocker)}
    for name in ("esrgan.pth", "span.safetensors"):
        result = run_cli("convert", checkpoints_dir / name, "-o", tmp_path / "out", env=env)
        assert_clean_error(result, 3, "needs torch", "pip install 'srconvert[pytorch]'", "make setup-pytorch")
        assert len(result.stderr.strip().splitlines()) == 2
    doctor = run_cli("doctor", "--json", env=env)
    extra = next(c for c in json.loads(doctor.stdout) if c["name"] == "pytorch extra")
    assert not extra["ok"] and extra["missing"] and not extra["required"] and extra["found"].startswith("not installed")
    assert doctor.returncode == 0
