"""int8 ONNX artifacts compute the same on every CPU onnxruntime runs on.

onnxruntime's u8 x s8 kernels saturate on x86-64 without VNNI; srconvert's
int8 is u8 x u8, which never does. These tests run the artifacts on an
emulated AVX2-only CPU (tests/emulated_cpu.py), whatever CPU runs the suite.
"""

from __future__ import annotations

import json
import platform

import emulated_cpu
import numpy as np
import onnx
import onnxruntime
import pytest
from conftest import ROOT, run_cli

from converter.core import precisions
from converter.core.host_cpu import int8_path
from converter.parity import inputs
from converter.parity.metrics import compare, output_range

# A missing emulator on x86-64 fails these tests (make test installs it);
# only a host that cannot run x86 code at all skips them.
on_x86 = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                            reason="not an x86-64 host: qemu-user would emulate another architecture")

# The RDN fixture is the model that fell to 27.7 dB on an AVX2-only EPYC;
# the x2 RRDB export adds NCHW, pixel-unshuffle and an ONNX source.
SOURCES = {"rdn_keras2.h5": "fixtures/build/rdn_keras2.h5", "rrdb_x2_dynamo": "fixtures/onnx/rrdb_x2_dynamo.onnx"}
INT8_GATE = precisions.DEFAULT_GATES["int8"]


@pytest.fixture(scope="module", params=sorted(SOURCES))
def bundle(request, tmp_path_factory, fixtures_dir):
    out = tmp_path_factory.mktemp("int8") / request.param
    result = run_cli("convert", ROOT / SOURCES[request.param], "-o", out, "--format", "onnx",
                     "--quantize", "float32,int8")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    artifacts = {a["precision"]: a for a in manifest["artifacts"]}
    layout = artifacts["int8"]["layout"]
    batches = [i.array for i in inputs.build([None, None, None, 3], (0.0, 1.0),
                                             multiple=manifest["model"]["input_multiple"])]
    if layout == "nchw":
        batches = [np.ascontiguousarray(b.transpose(0, 3, 1, 2)) for b in batches]
    return out, artifacts, batches


def _native(model, batches):
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return [session.run(None, {name: b})[0] for b in batches]


def _psnr(outputs, references):
    """As the parity gate measures it: over every input, on the reference's range."""
    return compare(references, outputs, output_range(references)).psnr_db


@pytest.mark.slow
@on_x86
def test_int8_is_exact_and_within_the_gate_on_a_cpu_without_vnni(bundle):
    out, artifacts, batches = bundle
    reference = _native(out / artifacts["float32"]["entry"], batches)
    int8 = out / artifacts["int8"]["entry"]
    native = _native(int8, batches)
    emulated = emulated_cpu.run_onnx(int8, batches)
    # The same integers on both kernel paths; the nodes int8 left in float32 (quantizers.mixed_precision)
    # round in each CPU's own order, a few float32 ulps apart, where u8 x s8 saturation costs 10 dB.
    float_nodes = artifacts["int8"]["quantization"].get("mixed_precision", {}).get("kept", [])
    for here, there in zip(native, emulated):
        if float_nodes:
            np.testing.assert_allclose(here, there, rtol=0, atol=1e-5 * float(np.ptp(here)))
        else:
            np.testing.assert_array_equal(here, there)
    psnr = _psnr(emulated, reference)
    assert psnr >= INT8_GATE.threshold, f"{psnr:.1f} dB on AVX2 without VNNI"


@pytest.mark.slow
@on_x86
@pytest.mark.parametrize("bundle", ["rdn_keras2.h5"], indirect=True)  # the fixture known to saturate
def test_the_emulated_cpu_catches_u8s8_saturation(bundle, tmp_path):
    """The control: the scheme srconvert used to write (int8 weights) falls
    under the gate on the emulated CPU, so the test above can fail."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    out, artifacts, batches = bundle
    float32 = out / artifacts["float32"]["entry"]
    feeds = iter(batches)

    class Reader(CalibrationDataReader):
        def get_next(self):
            batch = next(feeds, None)
            return None if batch is None else {"input": batch}

    u8s8 = tmp_path / "u8s8.onnx"
    quantize_static(str(float32), str(u8s8), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    reference = _native(float32, batches)
    assert _psnr(emulated_cpu.run_onnx(u8s8, batches), reference) < INT8_GATE.threshold


@pytest.mark.slow
def test_int8_weights_are_unsigned_and_the_manifest_says_why(bundle):
    out, artifacts, _ = bundle
    model = onnx.load(str(out / artifacts["int8"]["entry"]))
    types = {i.name: i.data_type for i in model.graph.initializer}
    producers = {o: n for n in model.graph.node for o in n.output}
    float_nodes = set(artifacts["int8"]["quantization"].get("mixed_precision", {}).get("kept", []))
    weight_types = set()
    for node in model.graph.node:
        if node.op_type in ("Conv", "ConvTranspose", "MatMul", "Gemm") and node.name not in float_nodes:
            dequantize = producers[node.input[1]]
            assert dequantize.op_type == "DequantizeLinear", node.name
            weight_types.add(types[dequantize.input[0]])
    assert weight_types == {onnx.TensorProto.UINT8}
    scheme = artifacts["int8"]["quantization"]
    assert scheme["weights"].startswith("uint8") and scheme["activations"].startswith("uint8")
    assert "VNNI" in scheme["why"]


@pytest.mark.parametrize(
    ("machine", "flags", "name", "saturates"),
    [
        ("x86_64", {"avx2", "avx512bw", "avx512_vnni"}, "x86-64 AVX-512 VNNI", False),
        ("x86_64", {"avx2", "avx_vnni"}, "x86-64 AVX-VNNI", False),
        ("x86_64", {"avx2", "avx512bw"}, "x86-64 AVX-512 without VNNI", True),
        ("x86_64", {"avx2", "fma"}, "x86-64 AVX2 without VNNI", True),
        ("aarch64", {"asimd", "asimddp"}, "ARM64 dot product (udot/sdot)", False),
        ("riscv64", set(), "riscv64", None),
    ],
)
def test_the_cpu_int8_path_is_named(machine, flags, name, saturates):
    path = int8_path(machine, frozenset(flags))
    assert (path.name, path.u8s8_saturates) == (name, saturates)
    assert path.describe().startswith(name)
