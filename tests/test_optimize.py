"""The lean-graph passes: each changes the graph, keeps parity, and turns off
with --no-optimize."""

from __future__ import annotations

import json

import onnx
import pytest
from conftest import run_cli

pytestmark = pytest.mark.slow


def _convert(source, out, *extra):
    result = run_cli("convert", source, "-o", out, "--quantize", "float32", "--json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _classes(out):
    document = json.loads((out / "tfjs" / "float32" / "model.json").read_text())
    return [layer["class_name"] for layer in document["modelTopology"]["config"]["layers"]]


def test_multiply_beta_folds_into_the_conv_before_it(fixtures_dir, tmp_path):
    optimized = _convert(fixtures_dir / "rrdn_keras2.h5", tmp_path / "o")
    plain = _convert(fixtures_dir / "rrdn_keras2.h5", tmp_path / "p", "--no-optimize")
    applied = {o["name"]: o["changes"] for o in optimized["optimizations"]}
    assert applied["fold_multiply_beta"] == 4 and set(applied) == {"fold_multiply_beta", "fuse_activation"}
    assert plain["optimizations"] == []
    # T=2 RRDBs x D=2 dense blocks fold their LFF beta; the 2 RRDB-level betas scale a sum and stay.
    assert _classes(tmp_path / "o").count("MultiplyBeta") == 2 and _classes(tmp_path / "p").count("MultiplyBeta") == 6
    for manifest in (optimized, plain):
        assert all(run["pass"] for a in manifest["artifacts"] for run in a["parity"]["results"])


def test_onnx_resize_shape_subgraph_becomes_constant_scales(fixtures_dir, tmp_path):
    # tf2onnx computes Resize sizes from the input's Shape; the pass folds them.
    traced = ("--format", "onnx", "--onnx-exporter", "tf2onnx")
    optimized = _convert(fixtures_dir / "rdn_keras2.h5", tmp_path / "o", *traced)
    _convert(fixtures_dir / "rdn_keras2.h5", tmp_path / "p", *traced, "--no-optimize")
    direct = _convert(fixtures_dir / "rdn_keras2.h5", tmp_path / "d", "--format", "onnx", "--no-optimize")
    assert "onnx_resize_scales" in [o["name"] for o in optimized["optimizations"]]
    assert optimized["onnx_exporter"] == "tf2onnx" and direct["onnx_exporter"] == "direct"
    ops = lambda out: {n.op_type for n in onnx.load(out / "onnx" / "float32" / "model.onnx").graph.node}  # noqa: E731
    assert "Shape" not in ops(tmp_path / "o") and "Shape" in ops(tmp_path / "p")
    assert "Shape" not in ops(tmp_path / "d")  # the direct map writes constant scales to begin with
    assert all(run["pass"] for a in optimized["artifacts"] for run in a["parity"]["results"])


def test_identity_layers_are_dropped(tmp_path):
    import tf_keras

    inputs = tf_keras.Input((None, None, 3))
    x = tf_keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = tf_keras.layers.Dropout(0.5)(x)
    x = tf_keras.layers.Activation("linear")(x)
    outputs = tf_keras.layers.UpSampling2D(2)(tf_keras.layers.Conv2D(3, 3, padding="same")(x))
    source = tmp_path / "identity.h5"
    tf_keras.Model(inputs, outputs).save(source)
    manifest = _convert(source, tmp_path / "o", "--format", "tfjs")
    assert {o["name"]: o["changes"] for o in manifest["optimizations"]} == {"drop_identity": 2}
    assert "Dropout" not in _classes(tmp_path / "o") and "Activation" not in _classes(tmp_path / "o")
    assert manifest["parity"]["pass"] is True


def test_activation_layers_fuse_into_the_convolution_feeding_only_them(tmp_path):
    import tf_keras

    inputs = tf_keras.Input((None, None, 3))
    fused = tf_keras.layers.Activation("relu")(tf_keras.layers.Conv2D(8, 3, padding="same", name="fused")(inputs))
    shared = tf_keras.layers.Conv2D(8, 3, padding="same", name="shared")(fused)
    kept = tf_keras.layers.ReLU()(shared)  # "shared" also feeds the Add: its ReLU must stay
    x = tf_keras.layers.Add()([shared, kept])
    outputs = tf_keras.layers.UpSampling2D(2)(tf_keras.layers.Conv2D(3, 3, padding="same")(x))
    source = tmp_path / "activations.h5"
    tf_keras.Model(inputs, outputs).save(source)
    manifest = _convert(source, tmp_path / "o")
    assert {o["name"]: o["changes"] for o in manifest["optimizations"]} == {"fuse_activation": 1}
    topology = json.loads((tmp_path / "o" / "tfjs" / "float32" / "model.json").read_text())["modelTopology"]
    layers = {layer["name"]: layer for layer in topology["config"]["layers"]}
    assert layers["fused"]["config"]["activation"] == "relu" and "ReLU" in _classes(tmp_path / "o")
    assert "Activation" not in _classes(tmp_path / "o")
    assert all(run["pass"] for a in manifest["artifacts"] for run in a["parity"]["results"])
