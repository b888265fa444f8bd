"""The command line as users and CI jobs meet it: exit codes, messages, output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import h5py
import pytest
from conftest import ROOT, assert_clean_error, error_lines, run_cli

from converter.core.hashing import sha256_file

# `slow`: the tests that convert or verify a model; --help, choices and
# option errors stay in `make test-fast`.
SLOW = pytest.mark.slow


def _edit_h5_config(src, dst, edit):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        for layer in config["config"]["layers"]:
            edit(layer)
        handle.attrs["model_config"] = json.dumps(config)
    return dst


def test_help_and_version_import_no_heavy_library():
    code = (
        "import sys; from click.testing import CliRunner; from converter.cli import cli; "
        "r = CliRunner().invoke(cli, ['--help']); v = CliRunner().invoke(cli, ['--version']); "
        "heavy = [m for m in ('tensorflow', 'tf_keras', 'keras', 'tensorflowjs', 'numpy', 'h5py') if m in sys.modules]; "
        "print(r.exit_code, v.output.strip(), heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0 srconvert, version 0.1.0 []"


def test_cli_choices_come_from_the_target_registry():
    result = run_cli("convert", "--help")
    help_text = " ".join(result.stdout.split())
    assert "tfjs: float32 float16 uint16 uint8; onnx: float32 float16 uint8 int8" in help_text
    assert "[default: tfjs,onnx]" in help_text
    wrong = run_cli("convert", "x.h5", "-o", "o", "--quantize", "int4")
    assert wrong.returncode == 2 and "choose from float32, float16, uint16, uint8, int8" in wrong.stderr
    wrong = run_cli("convert", "x.h5", "-o", "o", "--tfjs-model", "saved")
    assert wrong.returncode == 2 and "choose from layers, graph" in wrong.stderr


def test_help_documents_exit_codes():
    result = run_cli("convert", "--help")
    assert result.returncode == 0
    for text in ("0 every artifact passed", "1 some artifact failed", "2 bad input", "3 missing runtime"):
        assert text in " ".join(run_cli("--help").stdout.split())


@SLOW
def test_convert_json_prints_the_manifest_and_nothing_else(fixtures_dir, tmp_path):
    out = tmp_path / "out"
    result = run_cli("convert", fixtures_dir / "rdn_keras2.h5", "-o", out, "--format", "tfjs", "--quantize", "float32,uint8", "--json")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert [a["entry"] for a in manifest["artifacts"]] == ["tfjs/float32/model.json", "tfjs/uint8/model.json"]
    assert manifest["custom_layers_js"] == {"esm": "tfjs/custom-layers.js", "cjs": "tfjs/custom-layers.cjs"}
    assert manifest["source"]["format"] == "keras2-h5" and len(manifest["source"]["sha256"]) == 64
    # No progress; only the warning that the fixture's random weights leave the input range a guess.
    assert result.stderr.splitlines() == [next(line for line in result.stderr.splitlines()
                                               if line.startswith("warning: input range 0:1 is assumed"))]
    assert sorted(p.name for p in out.iterdir()) == ["check", "check.html", "manifest.json", "parity.html", "parity.json",
                                                  "parity.md", "tfjs"]
    assert not list(tmp_path.glob(".srconvert-staging-*"))


@SLOW
def test_failing_parity_exits_1_names_the_artifact_and_keeps_the_bundle_aside(fixtures_dir, tmp_path):
    out = tmp_path / "out"
    result = run_cli("convert", fixtures_dir / "rrdn_keras2.h5", "-o", out, "--gate", "float16:psnr=200")
    assert_clean_error(result, 1, "tfjs/float16/model.json", "out.failed")
    assert "tfjs/uint8" not in result.stderr.splitlines()[0]
    assert not out.exists()
    failed = tmp_path / "out.failed"
    assert "FAILED: tfjs/float16/model.json" in (failed / "parity.md").read_text()


@SLOW
def test_tfjs_cpu_backend(fixtures_dir, tmp_path):
    result = run_cli("convert", fixtures_dir / "rrdn_keras2.h5", "-o", tmp_path / "o", "--quantize", "float32",
                     "--format", "tfjs", "--tfjs-backend", "cpu", "--json")
    assert result.returncode == 0, result.stderr
    (artifact,) = json.loads(result.stdout)["artifacts"]
    assert artifact["parity"]["results"][0]["runtime"] == "tfjs-cpu"


@SLOW
def test_missing_node_fails_fast_with_exit_3_and_no_verify_only_warns(fixtures_dir, tmp_path):
    env = {"SRCONVERT_NODE": "/nonexistent/node"}
    result = run_cli("convert", fixtures_dir / "rrdn_keras2.h5", "-o", tmp_path / "o", env=env)
    assert_clean_error(result, 3, "Node.js", "--no-verify")
    assert not (tmp_path / "o").exists()
    result = run_cli("convert", fixtures_dir / "rrdn_keras2.h5", "-o", tmp_path / "o", "--no-verify", env=env)
    assert result.returncode == 0, result.stderr
    assert "warning: --no-verify" in result.stderr
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["parity"] == {"pass": None, "verified": False}


@SLOW
def test_force_replaces_only_a_bundle_srconvert_wrote(fixtures_dir, tmp_path, rrdn_bundle):
    out = shutil.copytree(rrdn_bundle[0], tmp_path / "o")  # a bundle srconvert wrote
    args = ("convert", fixtures_dir / "rrdn_keras2.h5", "-o", out, "--quantize", "float32", "--input-range", "0:1")
    result = run_cli(*args)
    assert_clean_error(result, 2, "holds a bundle srconvert wrote", "--force")
    (out / "keep.txt").write_text("mine")
    for extra in ((), ("--force",)):  # a file srconvert did not write is never deleted, --force or not
        result = run_cli(*args, *extra)
        assert_clean_error(result, 2, "did not write (keep.txt)", "move those files away")
        assert "--force" not in result.stderr
        assert (out / "keep.txt").read_text() == "mine"
    (out / "keep.txt").unlink()
    result = run_cli(*args, "--force")
    assert result.returncode == 0, result.stderr
    assert (out / "manifest.json").exists() and not list(tmp_path.glob(".srconvert-staging-*"))


@pytest.mark.parametrize("args, fragments", [
    (["--quantize", "int4"], ["int4"]),
    (["--format", "tfjs", "--quantize", "float32,int8"], ["int8", "tfjs: float32, float16, uint16, uint8"]),
    (["--opset", "9"], ["13<=x<=18"]),
    (["--input-range", "0:2"], ["0:1"]),
    (["--gate", "uint8=40"], ["PRECISION:METRIC=VALUE"]),
    (["--no-fix", "everything"], ["functional_to_model"]),
])
def test_bad_options_exit_2(fixtures_dir, tmp_path, args, fragments):
    result = run_cli("convert", fixtures_dir / "rrdn_keras2.h5", "-o", tmp_path / "o", *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert not (tmp_path / "o").exists()


@SLOW
def test_an_unknown_custom_layer_is_named_with_how_to_add_it(fixtures_dir, tmp_path):
    def rename(layer):
        if layer["class_name"] == "PixelShuffle":
            layer["class_name"] = "FancyUpsample"

    source = _edit_h5_config(fixtures_dir / "rrdn_keras2.h5", tmp_path / "fancy.h5", rename)
    result = run_cli("convert", source, "-o", tmp_path / "o")
    assert_clean_error(result, 2, "FancyUpsample", "--custom-layer module:Class", str(source))
    assert not (tmp_path / "o").exists()


@SLOW
def test_prefixed_and_config_less_spellings_load_and_pass(fixtures_dir, tmp_path):
    def respell(layer):
        if layer["class_name"] == "PixelShuffle":
            layer["class_name"] = "Custom>PixelShuffle"
        if layer["class_name"] == "MultiplyBeta":
            layer["class_name"] = "Custom>MultiplyBeta"
            layer["config"].pop("beta")

    source = _edit_h5_config(fixtures_dir / "rrdn_keras2.h5", tmp_path / "prefixed.h5", respell)
    result = run_cli("convert", source, "-o", tmp_path / "o", "--quantize", "float32,uint8", "--json")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert "custom_layer_names" in [f["name"] for f in manifest["fixes"]]
    assert manifest["custom_layers"] == ["PixelShuffle", "MultiplyBeta"]


@SLOW
def test_a_users_custom_layer_with_its_js_twin(tmp_path):
    import shutil

    import tf_keras

    code_dir = tmp_path / "code"  # the user's module, imported from wherever they keep it
    code_dir.mkdir()
    module = code_dir / "user_layer_example.py"
    shutil.copy(ROOT / "tests" / "user_layer_example.py", module)
    sys.path.insert(0, str(ROOT / "tests"))
    from user_layer_example import Brighten

    inputs = tf_keras.Input((None, None, 3))
    x = tf_keras.layers.Conv2D(12, 3, padding="same")(inputs)
    x = Brighten(0.25)(x)
    outputs = tf_keras.layers.UpSampling2D(2)(x)
    source = tmp_path / "brighten.h5"
    tf_keras.Model(inputs, outputs).save(source)

    env = {"PYTHONPATH": str(code_dir)}
    result = run_cli("convert", source, "-o", tmp_path / "o", "--json", "--custom-layer", "user_layer_example:Brighten",
                     env=env)
    assert result.returncode == 0, result.stderr
    assert all(a["parity"]["pass"] for a in json.loads(result.stdout)["artifacts"])
    assert "defineBrighten" in (tmp_path / "o" / "tfjs" / "custom-layers.cjs").read_text()
    code = json.loads(result.stdout)["source"]["code"]
    assert code["custom_layers"] == [{"spec": "user_layer_example:Brighten", "file": str(module.resolve()),
                                      "sha256": sha256_file(module)}] and "allow_lambda" not in code
    # verify reads the source as convert did, but runs no code only because the manifest names it:
    # it says which options to give.
    refused = run_cli("verify", tmp_path / "o", env=env)
    assert_clean_error(refused, 2, "--custom-layer user_layer_example:Brighten", "--trust-code", "never runs code")
    again = run_cli("verify", tmp_path / "o", "--custom-layer", "user_layer_example:Brighten", env=env)
    assert again.returncode == 0, again.stderr
    assert "verified: every artifact matches" in again.stdout
    # Trusted, the recorded file is imported as it was (no PYTHONPATH, no option repeated)...
    trusted = run_cli("verify", tmp_path / "o", "--trust-code")
    assert trusted.returncode == 0, trusted.stderr
    assert "verified: every artifact matches" in trusted.stdout
    assert f"--trust-code: imported user_layer_example:Brighten from {module.resolve()}" in trusted.stderr
    # ...and only as it was: a changed file is not imported.
    module.write_text(module.read_text() + "\nraise SystemExit('this must not run')\n")
    changed = run_cli("verify", tmp_path / "o", "--trust-code")
    assert_clean_error(changed, 2, "has changed since the conversion ran it", str(module.resolve()))
    assert "this must not run" not in changed.stdout + changed.stderr


@SLOW
def test_lambda_layers_are_refused_by_default(tmp_path):
    import tf_keras

    inputs = tf_keras.Input((None, None, 3))
    outputs = tf_keras.layers.Lambda(lambda t: t * 2, name="doubler")(inputs)
    source = tmp_path / "lambda.h5"
    tf_keras.Model(inputs, outputs).save(source)
    result = run_cli("convert", source, "-o", tmp_path / "o")
    assert_clean_error(result, 2, "'doubler'", "Lambda", "--allow-lambda")


def _flip_byte(path, offset=100):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@SLOW
def test_verify_names_tampered_files_and_passes_an_untouched_bundle(fixtures_dir, rrdn_bundle, tmp_path):
    import shutil

    out = tmp_path / "o"
    shutil.copytree(rrdn_bundle[0], out)  # the shared bundle stays untouched
    result = run_cli("verify", out, "--source", fixtures_dir / "rrdn_keras2.h5")
    assert result.returncode == 0, result.stderr
    assert "files: all" in result.stdout and "FAIL" not in result.stdout
    _flip_byte(out / "tfjs" / "uint8" / "group1-shard1of1.bin")
    _flip_byte(out / "onnx" / "float32" / "model.onnx")
    result = run_cli("verify", out)
    assert result.returncode == 1
    assert "CHANGED  tfjs/uint8/group1-shard1of1.bin" in result.stdout
    assert "CHANGED  onnx/float32/model.onnx" in result.stdout
    for name in ("tfjs/uint8/group1-shard1of1.bin", "onnx/float32/model.onnx"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr
    # The self-check page is the bundle's too: its reference data is checked like an artifact.
    _flip_byte(out / "check" / "reference.bin")
    result = run_cli("verify", out)
    assert result.returncode == 1 and "CHANGED  check/reference.bin" in result.stdout


@SLOW
def test_doctor_passes_here_and_names_the_fix_for_missing_node_packages(tmp_path):
    result = run_cli("doctor")
    assert result.returncode == 0, result.stdout
    assert "BAD" not in result.stdout and "tfjs wasm backend" in result.stdout
    broken = run_cli("doctor", env={"SRCONVERT_NODE_MODULES": str(tmp_path)})
    assert broken.returncode == 3
    assert any(line.split()[:3] == ["BAD", "npm", "onnxruntime-web"] for line in broken.stdout.splitlines())
    assert "npm ci" in broken.stdout
    no_node = run_cli("doctor", env={"SRCONVERT_NODE": "/nonexistent/node"})
    assert no_node.returncode == 3 and "apt-get install nodejs" in no_node.stdout


@SLOW
def test_bilinear_upsampling_is_fixed_for_tfjs_and_fails_without_the_fix(tmp_path):
    """TF.js's UpSampling2D(bilinear) lacks half-pixel centres; the fix is what makes it match Keras."""
    import tf_keras

    inputs = tf_keras.Input((None, None, 3))
    x = tf_keras.layers.Conv2D(3, 3, padding="same")(inputs)
    outputs = tf_keras.layers.UpSampling2D(2, interpolation="bilinear")(x)
    source = tmp_path / "bilinear.h5"
    tf_keras.Model(inputs, outputs).save(source)
    args = ("convert", source, "--format", "tfjs", "--quantize", "float32", "--json")
    fixed = run_cli(*args, "-o", tmp_path / "fixed")
    assert fixed.returncode == 0, fixed.stderr
    assert "bilinear_half_pixel" in [f["name"] for f in json.loads(fixed.stdout)["fixes"]]
    broken = run_cli(*args, "-o", tmp_path / "broken", "--no-fix", "bilinear_half_pixel")
    assert broken.returncode == 1 and "tfjs/float32/model.json in tfjs-wasm" in broken.stderr


@SLOW
def test_a_runtime_exception_fails_that_artifact_by_name_with_exit_1(fixtures_dir, tmp_path):
    """An artifact onnxruntime cannot even load (here: one node's op renamed
    to one no runtime has, with the manifest updated to match, as a rebuilt
    bundle would be) fails in each runtime by name; the others still pass."""
    import hashlib

    import onnx

    out = tmp_path / "o"
    result = run_cli("convert", fixtures_dir / "rdn_keras2.h5", "-o", out, "--format", "onnx",
                     "--quantize", "float32,uint8")
    assert result.returncode == 0, result.stderr
    broken = out / "onnx" / "uint8" / "model.onnx"
    model = onnx.load(str(broken))
    next(n for n in model.graph.node if n.op_type == "Conv").op_type = "NoSuchOp"
    onnx.save(model, str(broken))
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for artifact in manifest["artifacts"]:
        for entry in artifact["files"]:
            if entry["path"] == "onnx/uint8/model.onnx":
                entry.update(bytes=broken.stat().st_size, sha256=hashlib.sha256(broken.read_bytes()).hexdigest())
    manifest_path.write_text(json.dumps(manifest))

    result = run_cli("verify", out, "--source", fixtures_dir / "rdn_keras2.h5")
    assert result.returncode == 1, result.stderr
    assert "onnx/uint8/model.onnx in onnxruntime: " in result.stderr
    assert "onnx/uint8/model.onnx in onnxruntime-web: " in result.stderr
    assert "NoSuchOp" in result.stderr
    failure = "\n".join(error_lines(result.stderr))
    assert "onnx/float32" not in failure and "internal error" not in failure
    assert "Traceback" not in result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("onnx/")]
    assert {(row[0], row[2], row[-1]) for row in rows} == {
        ("onnx/float32/model.onnx", "onnxruntime", "pass"), ("onnx/float32/model.onnx", "onnxruntime-web", "pass"),
        ("onnx/uint8/model.onnx", "onnxruntime", "FAIL"), ("onnx/uint8/model.onnx", "onnxruntime-web", "FAIL"),
    }


@SLOW
def test_inspect_and_convert_agree_on_layer_support(fixtures_dir, tmp_path):
    """A Keras-only layer (Subtract): known to both, a graph model but no
    layers model. A class nobody defines: unknown to both."""
    from converter.core import tf_runtime

    keras = tf_runtime.tf_keras()
    x = keras.Input((None, None, 3))
    y = keras.layers.Conv2D(3, 3, padding="same")(x)
    z = keras.layers.Subtract()([x, y])
    keras.Model(x, keras.layers.UpSampling2D(2)(z)).save(tmp_path / "subtract.h5")

    facts = json.loads(run_cli("inspect", tmp_path / "subtract.h5", "--json").stdout)
    assert (facts["unknown_layers"], facts["keras_only_layers"]) == ([], ["Subtract"])
    layers = run_cli("convert", tmp_path / "subtract.h5", "-o", tmp_path / "a", "--format", "tfjs")
    assert_clean_error(layers, 2, "TensorFlow.js has no layer for Subtract", "--tfjs-model graph")
    graph = run_cli("convert", tmp_path / "subtract.h5", "-o", tmp_path / "b", "--format", "tfjs",
                    "--tfjs-model", "graph", "--quantize", "float32")
    assert graph.returncode == 0, graph.stderr

    def rename(layer):
        if layer["class_name"] == "PixelShuffle":
            layer["class_name"] = "FancyUpsample"

    source = _edit_h5_config(fixtures_dir / "rrdn_keras2.h5", tmp_path / "fancy.h5", rename)
    facts = json.loads(run_cli("inspect", source, "--json").stdout)
    assert (facts["unknown_layers"], facts["keras_only_layers"]) == (["FancyUpsample"], ["FancyUpsample"])
    assert_clean_error(run_cli("convert", source, "-o", tmp_path / "c"), 2, "unknown custom layer class 'FancyUpsample'")


@SLOW
def test_debug_shows_library_logs(fixtures_dir, tmp_path):
    """TensorFlow's own start-up log lines: hidden normally, shown with --debug.
    (The variables srconvert sets to quiet TensorFlow are cleared first: this
    test process has set them for itself.)"""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "GRPC_", "TFDF_"))}
    args = [sys.executable, "-m", "converter", "convert", str(fixtures_dir / "rrdn_keras3.keras"), "--format", "tfjs",
            "--quantize", "float32", "--no-verify", "-o"]
    quiet = subprocess.run([*args, str(tmp_path / "a")], capture_output=True, text=True, env=env, cwd=ROOT)
    loud = subprocess.run([sys.executable, "-m", "converter", "--debug", *args[3:], str(tmp_path / "b")],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert quiet.returncode == loud.returncode == 0, loud.stderr
    assert "I tensorflow/" not in quiet.stderr
    assert "I tensorflow/core/" in loud.stderr, loud.stderr


@SLOW
def test_graph_model_keeps_a_conv_plus_feature_map_add_unfused(tmp_path):
    """A conv with no bias, or an all-zero one (an untrained ISR RRDN's
    post_blocks_conv), feeds GRL's Add straight after grappler's constant
    folding; tensorflowjs must not fuse the other feature map in as a
    _FusedConv2D bias, which TF.js wasm rejects as a rank-4 bias."""
    from converter.core import tf_runtime

    keras = tf_runtime.tf_keras()
    x = keras.Input((None, None, 3))
    pre = keras.layers.Conv2D(4, 3, padding="same", bias_initializer="ones")(x)  # a real bias: fused
    zero_bias = keras.layers.Conv2D(4, 3, padding="same")(pre)  # Keras initialises biases to zeros
    grl = keras.layers.Add()([zero_bias, pre])
    no_bias = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(grl)
    y = keras.layers.Add()([no_bias, grl])  # a conv between the Adds: grappler would merge them into an AddN
    keras.Model(x, y).save(tmp_path / "grl.h5")

    graph = run_cli("convert", tmp_path / "grl.h5", "-o", tmp_path / "out", "--format", "tfjs",
                    "--tfjs-model", "graph", "--quantize", "float32")
    assert graph.returncode == 0, graph.stderr  # parity: TF.js wasm ran it and matched the source
    nodes = json.loads((tmp_path / "out" / "tfjs-graph" / "float32" / "model.json").read_text())["modelTopology"]["node"]
    ops = [node["op"] for node in nodes]
    assert ops.count("AddV2") == 2  # both Adds stay Adds ...
    assert "_FusedConv2D" in ops  # ... and the conv with a real bias keeps its fusion
