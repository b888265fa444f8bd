"""ONNX export, its browser-safe fix, its quantizers, layouts and the visual report."""

from __future__ import annotations

import json
import re

import numpy as np
import onnx
import onnxruntime
import pytest
from conftest import run_cli

from converter.emitters import onnx_bundle
from converter.forms.keras_form import KerasForm
from converter.passes.fixes import onnx_concat_split
from converter.quantizers import onnx_float16, onnx_weight_uint8

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=onnx_bundle.EXPORTERS)
def rdn(request, fixtures_dir):
    """The RDN fixture's model and its float32 ONNX export (D=10: a 10-input
    Concat), by the direct layer map and by tf2onnx."""
    from converter.sources import SourceOptions, describe

    form = KerasForm(describe(fixtures_dir / "rdn_keras2.h5"), SourceOptions())
    proto = onnx_bundle.export(form.canonical, exporter=request.param)
    assert onnx_bundle.exporter_of(proto) == {"auto": "direct", "tf2onnx": "tf2onnx"}[request.param]
    return form.plain(), proto


def test_a_layer_outside_the_direct_map_falls_back_to_tf2onnx(tmp_path):
    from converter.core import tf_runtime
    from converter.sources import SourceOptions, describe

    keras = tf_runtime.tf_keras()
    x = keras.Input((None, None, 3))
    y = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same")(y)  # not in onnx_direct's table
    model = keras.Model(x, y)
    model.save(tmp_path / "deconv.h5")
    form = KerasForm(describe(tmp_path / "deconv.h5"), SourceOptions())
    proto = onnx_bundle.export(form.canonical)
    assert onnx_bundle.exporter_of(proto) == "tf2onnx"
    np.testing.assert_allclose(_run(proto, X), model(X).numpy(), atol=1e-5)


def _run(proto, x):
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def _max_concat_inputs(proto):
    return max(len(n.input) for n in proto.graph.node if n.op_type == "Concat")


X = np.random.default_rng(7).random((1, 29, 37, 3), dtype=np.float32)


def test_export_matches_keras_with_dynamic_named_dims(rdn):
    model, proto = rdn
    np.testing.assert_allclose(_run(proto, X), model(X).numpy(), atol=1e-5)
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "height", "width", 3]
    out_dims = [d.dim_param or d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim]
    assert out_dims == ["batch", "out_height", "out_width", 3]


def test_wide_concats_are_split_into_a_tree_of_at_most_7(rdn):
    _, proto = rdn
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    assert _max_concat_inputs(copy) == 10
    assert onnx_concat_split.run(copy) == 1
    assert _max_concat_inputs(copy) <= 7  # with its output, WebGPU's default 8 storage buffers
    onnx.checker.check_model(copy)
    np.testing.assert_array_equal(_run(copy, X), _run(proto, X))


def test_uint8_is_weight_only_in_standard_float_ops(rdn):
    """uint8 kernels expanded by Cast, Sub, Mul of constants: no
    DequantizeLinear (onnxruntime-web's default WebGPU kernels get it wrong),
    no integer arithmetic."""
    _, proto = rdn
    quantized = onnx_weight_uint8.quantize(proto)
    ops = {n.op_type for n in quantized.graph.node}
    assert not ops & {"DequantizeLinear", "ConvInteger", "QuantizeLinear"}
    weights = [i for i in quantized.graph.initializer if i.name.endswith(onnx_weight_uint8.QUANTIZED_SUFFIX)]
    conv_count = sum(n.op_type == "Conv" for n in proto.graph.node)
    assert len(weights) == conv_count and all(w.data_type == onnx.TensorProto.UINT8 for w in weights)
    readers = [n for n in quantized.graph.node if {w.name for w in weights} & set(n.input)]
    assert len(readers) == conv_count and all(n.op_type == "Cast" for n in readers)
    assert quantized.ByteSize() < 0.4 * proto.ByteSize()
    reference = _run(proto, X)
    error = np.abs(_run(quantized, X) - reference)
    assert 0 < error.max() < 0.05 * (reference.max() - reference.min())


def test_uint8_scales_per_channel_only_where_a_channel_gains_over_a_bit():
    rng = np.random.default_rng(0)
    even = rng.uniform(-1, 1, size=(4, 3, 3, 2)).astype(np.float32)
    q, scale, zero = onnx_weight_uint8.affine_uint8(even, 0)
    assert scale.shape == () and zero.shape == () and q.shape == even.shape
    restored = (q.astype(np.float32) - zero) * scale
    assert np.abs(restored - even).max() <= scale / 2 + 1e-7
    uneven = even.copy()
    uneven[2] *= 0.1  # a channel ten times narrower: per-tensor would waste 3 of its 8 bits
    _, scale, zero = onnx_weight_uint8.affine_uint8(uneven, 0)
    assert scale.shape == (4,) and zero.shape == (4,)


def test_per_channel_uint8_keeps_zero_exact_and_error_within_half_a_step():
    w = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype(np.float32)
    w[1] = 0.0
    q, scale, zero = onnx_weight_uint8.per_channel_uint8(w, 0)
    restored = (q.astype(np.float32) - zero.reshape(-1, 1, 1, 1)) * scale.reshape(-1, 1, 1, 1)
    np.testing.assert_array_equal(restored[1], 0.0)
    assert np.all(np.abs(restored - w) <= scale.reshape(-1, 1, 1, 1) / 2 + 1e-7)


def test_float16_stores_half_weights_and_computes_in_float32(rdn):
    """Half-precision weights, each cast to float32 once: no half-precision
    arithmetic, so WebGPU adapters without shader-f16 run it."""
    _, proto = rdn
    half = onnx_float16.quantize(proto)
    onnx.checker.check_model(half)
    assert half.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert half.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    halves = {i.name for i in half.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16}
    consumers = [n for n in half.graph.node if halves & set(n.input)]
    assert halves and all(n.op_type == "Cast" and n.attribute[0].i == onnx.TensorProto.FLOAT for n in consumers)
    assert len(consumers) == len(halves)
    resize = next(n for n in half.graph.node if n.op_type == "Resize")
    assert not {n.output[0] for n in consumers} & set(resize.input[1:])  # shape parameters stay float32
    full = sum(i.ByteSize() for i in proto.graph.initializer)
    assert sum(i.ByteSize() for i in half.graph.initializer) < 0.55 * full
    np.testing.assert_allclose(_run(half, X), _run(proto, X), atol=5e-3)


def test_nchw_layout_is_recorded_and_passes_in_both_runtimes(fixtures_dir, tmp_path):
    out = tmp_path / "o"
    result = run_cli("convert", fixtures_dir / "rrdn_keras3.keras", "-o", out, "--format", "onnx",
                     "--onnx-layout", "nchw", "--quantize", "float32,uint8", "--json")
    assert result.returncode == 0, result.stderr
    artifacts = json.loads(result.stdout)["artifacts"]
    assert {a["layout"] for a in artifacts} == {"nchw"}
    assert all(a["parity"]["pass"] for a in artifacts)
    model = onnx.load(out / "onnx" / "float32" / "model.onnx")
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]


def test_parity_html_embeds_every_artifact_output_and_heat_map(rrdn_bundle):
    out, manifest = rrdn_bundle
    page = (out / "parity.html").read_text()
    labels = sum(len(a["parity"]["results"]) for a in manifest["artifacts"])
    photos = [i for i in manifest["parity"]["reference"]["inputs"] if not i["name"].startswith("random")]
    images = re.findall(r'<img src="data:image/(png|jpeg);base64,', page)
    assert len(images) == len(photos) * (2 + 2 * labels)
    assert "src=\"http" not in page and "<script" not in page  # nothing to fetch: readable offline
    for artifact in manifest["artifacts"]:
        assert artifact["entry"] in page
