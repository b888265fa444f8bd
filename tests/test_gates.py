"""What the gates judge, how the input range is decided, and the mixed
precision search: unit tests on arrays and a small hand-made ONNX model
(the real models' end-to-end runs are in test_real_models.py)."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from conftest import ROOT
from onnx import TensorProto, helper, numpy_helper

from converter.core.precisions import DEFAULT_GATES
from converter.parity import input_range
from converter.parity.compare import judge
from converter.parity.runs import Reference, Run
from converter.parity.inputs import ParityInput
from converter.parity.report import judging_lines

IMAGES = ROOT / "fixtures" / "images"


def reference_of(outputs: list[np.ndarray], photos: list[bool]) -> Reference:
    inputs = [ParityInput(f"{'photo' if p else 'random'}-{i}", np.zeros((1, 2, 2, 3), np.float32), p)
              for i, p in enumerate(photos)]
    low, high = min(float(o.min()) for o in outputs), max(float(o.max()) for o in outputs)
    return Reference(inputs, outputs, high - low, 1.0, "test", low, high)


def run_of(outputs: list[np.ndarray]) -> Run:
    return Run("test", list(range(len(outputs))), outputs, 1.0, 1.0)


def test_a_lossy_gate_judges_the_photos_as_shown_and_only_reports_the_noise_tiles():
    rng = np.random.default_rng(0)
    photo = rng.uniform(0.1, 0.9, (1, 16, 16, 3)).astype(np.float32)
    noise = rng.uniform(-3, 4, (1, 16, 16, 3)).astype(np.float32)
    reference = reference_of([noise, photo], [False, True])
    # Far off on the noise tile, 1e-3 off on the photo: a pass, judged on the photo (peak 1, clipped to 0:1).
    result = judge(run_of([noise + 0.5, photo + 1e-3]), reference, DEFAULT_GATES["uint8"])
    assert result["pass"] is True
    assert result["judged_on"] == ["photo-1"] and result["clipped_to"] == [0.0, 1.0]
    assert result["psnr_db"] == pytest.approx(60.0, abs=0.01)
    assert result["noise"]["psnr_db"] < 25 and result["noise"]["max_abs"] == pytest.approx(0.5, abs=1e-6)
    # The same noise-tile error fails float32, which judges every input on the reference's spread.
    exact = judge(run_of([noise + 0.5, photo]), reference, DEFAULT_GATES["float32"])
    assert exact["pass"] is False and exact["judged_on"] == ["random-0", "photo-1"] and "noise" not in exact
    # And a photo 0.02 off (34 dB) fails uint8's 40 dB.
    assert judge(run_of([noise, photo + 0.02]), reference, DEFAULT_GATES["uint8"])["pass"] is False


def test_what_clipping_hides_is_not_counted_unless_the_source_lies_mostly_outside_the_range():
    photo = np.full((1, 8, 8, 3), 0.5, np.float32)
    photo[..., :2, :] = 1.5  # a quarter of it overshoots white: what a page shows as white
    out = photo.copy()
    out[..., :2, :] = 3.0  # differs only where both are shown white
    reference = reference_of([photo], [True])
    shown = judge(run_of([out]), reference, DEFAULT_GATES["uint8"])
    assert shown["pass"] is True and math.isinf(shown["psnr_db"] if shown["psnr_db"] is not None else math.inf)
    # Untrained weights: the source's output mostly outside 0:1, so clipping would hide any
    # difference; the photos are compared unclipped, on their own spread.
    dark = np.linspace(-5, -1, 192, dtype=np.float32).reshape(1, 8, 8, 3)
    unclipped = judge(run_of([dark + 0.2]), reference_of([dark], [True]), DEFAULT_GATES["uint8"])
    assert unclipped["pass"] is False and "clipped_to" not in unclipped and unclipped["judged_on"] == ["photo-0"]


def test_a_run_without_photos_is_judged_on_what_it_ran_and_the_report_says_which(tmp_path):
    from converter.bundle.manifest import Artifact

    rng = np.random.default_rng(1)
    noise = rng.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)
    result = judge(run_of([noise + 1e-4]), reference_of([noise], [False]), DEFAULT_GATES["uint8"])
    assert result["pass"] is True and result["judged_on"] == ["random-0"] and "clipped_to" not in result
    artifact = Artifact(format="onnx", precision="uint8", entry="onnx/uint8/model.onnx", files=[])
    artifact.parity = {"pass": True, "gate": DEFAULT_GATES["uint8"].as_dict(), "results": [result]}
    (line,) = judging_lines([artifact], {"inputs": [{"name": "random-0"}]})[2:]
    assert line.startswith("- uint8: >= 40 dB on 1 inputs (random-0), against the reference output's spread"), line


@pytest.mark.parametrize("scores, origin", [
    ({"0:1": 28.4, "0:255": 17.5}, "measured"),  # Real-ESRGAN x4plus: copes with 0:255, far worse
    ({"0:1": 30.2, "0:255": 12.6}, "measured"),  # realesr-general-x4v3
    ({"0:1": 39.7, "0:255": 39.8}, "assumed"),  # UpscalerJS's default-model: scale-equivariant
    ({"0:1": 24.0, "0:255": 18.0}, "assumed"),  # 6 dB apart and neither flat: too close to call
    ({"0:1": 8.0, "0:255": 9.0}, "assumed"),  # random weights
])
def test_the_input_range_is_measured_only_where_one_range_is_far_better(scores, origin):
    finding = input_range._decide(scores)
    assert finding.origin == origin, finding.reason
    if origin == "measured":
        assert finding.range == (0.0, 1.0)


def chain(last_kernel: np.ndarray) -> onnx.ModelProto:
    """NCHW Conv(3->8) LeakyRelu Conv(8->8) Relu Conv(8->3), free size. LeakyRelu,
    as ESRGAN has: int8 quantizes its output whatever reads it, so a node left
    in float32 after it reads a uint8 copy unless `searched` rewires it."""
    rng = np.random.default_rng(7)
    inits = [numpy_helper.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "w0"),
             numpy_helper.from_array(rng.normal(0, 0.05, 8).astype(np.float32), "b0"),
             numpy_helper.from_array(rng.normal(0, 0.2, (8, 8, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(last_kernel, "w2")]
    pads = [1, 1, 1, 1]
    nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], pads=pads),
             helper.make_node("LeakyRelu", ["c0"], ["a0"], alpha=0.1),
             helper.make_node("Conv", ["a0", "w1"], ["c1"], pads=pads),
             helper.make_node("Relu", ["c1"], ["a1"]),
             helper.make_node("Conv", ["a1", "w2"], ["y"], pads=pads)]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, None, None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, None, None])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def last_kernel(outlier: float | None = None) -> np.ndarray:
    kernel = np.random.default_rng(3).normal(0, 0.1, (3, 8, 3, 3)).astype(np.float32)
    if outlier is not None:  # one large weight: the others round to a handful of levels
        kernel[0, 0, 0, 0] = outlier
    return kernel


def search(model: onnx.ModelProto, target_db: float = 42.0):
    from converter.quantizers import mixed_precision, tfjs_weights
    from converter.quantizers.calibration import calibration_batches

    goal = mixed_precision.Goal("uint8", target_db, (0.0, 1.0), tuple(calibration_batches(IMAGES, 3, "nchw", (0.0, 1.0))))
    return mixed_precision.search(model, lambda name, array: tfjs_weights.expanded(array, "uint8"), goal)


def test_the_search_keeps_the_kernel_one_range_per_tensor_cannot_hold_and_is_reproducible():
    kernel = last_kernel(outlier=30.0)
    decision = search(chain(kernel))
    assert decision.all_db < 42.0 <= decision.db
    assert decision.kept == ("w2",) and decision.kept_as == "float16 weights"
    assert decision.extra_bytes == kernel.size and decision.record()["kept"] == ["w2"]
    assert search(chain(kernel)) == decision  # same weights, photos and order: the same choice


def test_the_search_keeps_nothing_where_every_weight_quantized_meets_the_target():
    decision = search(chain(last_kernel()))
    assert decision.kept == () and decision.evaluations == 1 and decision.db == decision.all_db >= 42.0


def test_an_onnx_uint8_artifact_stores_the_kept_weights_as_float16_and_the_rest_as_uint8():
    import onnxruntime as ort

    from converter.quantizers import onnx_weight_uint8

    kernel = last_kernel()
    model = chain(kernel)
    quantized = onnx_weight_uint8.quantize(model, keep=frozenset({"w2"}))
    stored = {init.name: init.data_type for init in quantized.graph.initializer}
    assert stored["w2_f16"] == TensorProto.FLOAT16 and "w2" not in stored
    assert stored["w0_q"] == stored["w1_q"] == TensorProto.UINT8
    x = np.random.default_rng(4).uniform(0, 1, (1, 3, 9, 7)).astype(np.float32)
    run = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
           for m in (model, quantized)]
    # What the search simulates (onnx_weight_uint8.fake) is what the written graph computes.
    fake = onnx_weight_uint8.fake(model)
    simulated = chain(kernel.astype(np.float16).astype(np.float32))
    for init in simulated.graph.initializer:
        if init.name in ("w0", "w1"):
            init.CopyFrom(numpy_helper.from_array(fake(init.name, numpy_helper.to_array(init)), init.name))
    expected = ort.InferenceSession(simulated.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(run[1], expected, rtol=0, atol=1e-6)
    assert not np.allclose(run[0], run[1], atol=1e-6)  # it is quantized


def test_a_fixed_size_models_calibration_takes_every_photo_fitted_as_parity_fits_it():
    """srconvert's own photos are all under 64x64, and a 64x64 TF.js graph
    (the attention families') found none to calibrate on: its uint8 kept
    nothing wider, and DRCT's failed its gate (39.3 dB). Smaller photos are
    mirrored out to the patch, as parity's are."""
    from converter.core.input_size import InputSize
    from converter.parity import inputs
    from converter.quantizers.calibration import calibration_batches

    batches = calibration_batches(IMAGES, 3, "nhwc", (0.0, 1.0), size=InputSize(64, 64))
    photos = [p.array for p in inputs.build([None, None, None, 3], (0.0, 1.0), IMAGES, also_at=InputSize(64, 64),
                                            photo_suffix="-64x64") if p.is_photo and p.at_patch]
    assert len(batches) == len(photos) == 7
    for batch, photo in zip(batches, photos):
        np.testing.assert_array_equal(batch, photo)


def test_int8_leaves_the_nodes_nearest_the_output_in_float32_until_it_meets_the_target():
    from converter.quantizers import mixed_precision, onnx_int8_static
    from converter.quantizers.calibration import calibration_batches

    model = chain(last_kernel())

    def calibration():
        return calibration_batches(IMAGES, 3, "nchw", (0.0, 1.0))

    named = onnx_int8_static._named(model)  # exclusions are by node name; the chain's nodes have none
    positions = {node.name: index for index, node in enumerate(named.graph.node)}
    order = onnx_int8_static._from_the_output(onnx_int8_static.quantize(named, calibration))
    assert order[0] == named.graph.node[-1].name == "node4"  # the last convolution, then back towards the input
    assert [positions[name] for name in order] == sorted((positions[name] for name in order), reverse=True)
    batches = tuple(calibration())
    # Out of reach even with every node in float32: keeping them would buy bytes, not the gate.
    _, hopeless = onnx_int8_static.searched(model, calibration, mixed_precision.Goal("int8", 200.0, (0.0, 1.0), batches))
    assert hopeless.kept == () and hopeless.evaluations > 1 and hopeless.db == hopeless.all_db
    target = hopeless.all_db + 1.0
    final, decision = onnx_int8_static.searched(model, calibration, mixed_precision.Goal("int8", target, (0.0, 1.0), batches))
    assert decision.kept[0] == "node4" and decision.kept_as == "float32 nodes" and decision.db >= target
    assert decision.extra_bytes > 0 and decision.kept == tuple(order[:len(decision.kept)])
    producers = {output: node for node in final.graph.node for output in node.output}
    assert not any(onnx_int8_static._quantized_activation(name, producers)  # as written, they read float32
                   for node in final.graph.node if node.name in decision.kept for name in node.input)
    read = {name for node in final.graph.node for name in node.input} | {output.name for output in final.graph.output}
    assert all(name in read for node in final.graph.node for name in node.output)  # no copy left that nothing reads
    assert all(init.name in read for init in final.graph.initializer)
    _, nothing = onnx_int8_static.searched(model, calibration, mixed_precision.Goal("int8", 20.0, (0.0, 1.0), batches))
    assert nothing.kept == () and nothing.evaluations == 1 and nothing.extra_bytes == 0


def test_the_report_says_what_quantization_kept_wider_and_what_it_cost():
    from converter.bundle.manifest import Artifact
    from converter.parity.report import kept_lines
    from converter.quantizers.mixed_precision import Decision

    decision = Decision(("w2",), "float16 weights", 38.75, 42.01, 42.0, 7, 7, 216)
    kept = Artifact("tfjs-layers", "uint8", "tfjs/uint8/model.json", quantization={"mixed_precision": decision.record()})
    plain = Artifact("onnx", "uint8", "onnx/uint8/model.onnx",
                     quantization={"mixed_precision": Decision((), "float16 weights", 43.3, 43.3, 42.0, 1, 7).record()})
    assert kept_lines([kept, plain, Artifact("onnx", "float32", "onnx/float32/model.onnx")]) == [
        "", "What quantization kept wider to meet its gate:",
        "- tfjs/uint8/model.json: kept 1 float16 weights wider (+216 bytes); calibration photos 38.8 dB with "
        "everything quantized, 42.0 dB as written (target 42 dB, 7 runs)",
        "- onnx/uint8/model.onnx: kept nothing wider; calibration photos 43.3 dB with everything quantized, 43.3 dB "
        "as written (target 42 dB, 1 runs)",
    ]
