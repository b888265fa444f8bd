"""int8 ONNX: static QDQ quantization calibrated on real images.

Activations are uint8 per tensor, with ranges measured by running the float
model on the calibration photos. Weights are uint8 per output channel (U8U8),
not the usual int8 (U8S8), because U8S8 is not the same computation on every
CPU. On x86-64 without VNNI, onnxruntime's U8S8 kernels multiply with
VPMADDUBSW, which adds pairs of u8 x s8 products in int16 and saturates: a
model verified on a VNNI machine came out at 25 dB instead of 39 dB on an AVX2
one. U8U8 kernels widen to int16 before multiplying, so nothing saturates and
the integers are exact: the output is bit-identical with and without VNNI
(measured under emulation), and as accurate as U8S8 where U8S8 works (within
0.6 dB on every fixture, where 7-bit weights, `reduce_range`, lost 1-5 dB).
The price is speed on VNNI CPUs, which have no u8 x u8 dot product: about
1.5x U8S8's time there. S8S8 is no way out: onnxruntime turns it into U8S8
on x86.

QDQ (explicit QuantizeLinear/DequantizeLinear pairs) rather than QOperator
keeps the graph in standard ops every runtime executes, fused where a runtime
can.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from converter.graphs.onnx_graph import remove_dead_nodes


SCHEME = {
    "format": "QDQ",
    "activations": "uint8, per tensor, calibrated",
    "weights": "uint8, per output channel",
    "why": "u8 x u8 kernels never saturate, so the output is the same on x86 with or without VNNI, ARM and "
    "WebAssembly; u8 x s8 saturates in int16 on x86 without VNNI",
}


def quantize(proto: Any, calibration: Callable[[], list[np.ndarray]], exclude: tuple[str, ...] = (),
             ranges: Path | None = None) -> Any:
    """`calibration()` gives the batches activation ranges are measured on.
    `exclude`: node names left in float32 (`searched`'s choice). `ranges`:
    a file the measured ranges are kept in, so that quantizing the same model
    again with other exclusions does not calibrate again."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    input_name = proto.graph.input[0].name
    proto = _opset13(proto)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(calibration())

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {input_name: batch}

    with tempfile.TemporaryDirectory(prefix="srconvert-int8-") as tmp:
        source, target = Path(tmp, "float.onnx"), Path(tmp, "int8.onnx")
        onnx.save_model(proto, str(source))
        quantize_static(
            str(source),
            str(target),
            None if ranges is not None and ranges.is_file() else Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QUInt8,
            nodes_to_exclude=list(exclude),
            calibration_cache_path=ranges,
            # A ReLU stays a node rather than being folded into the clamp of the uint8 that follows it:
            # `searched` measures a node left in float32 by reading its input from before that clamp.
            extra_options={"QDQKeepRemovableActivations": True},
        )
        return onnx.load_model(str(target))


def _opset13(proto: Any) -> Any:
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 13)
    if opset < 13:  # per-channel QDQ needs DequantizeLinear's axis, new in opset 13
        from onnx import version_converter

        return version_converter.convert_version(proto, 13)
    return proto


def searched(proto: Any, calibration: Callable[[], list[np.ndarray]], goal: Any) -> tuple[Any, Any]:
    """`quantize`, leaving in float32 the fewest nodes, nearest the output
    first, that let it meet `goal` (mixed_precision.fewest), and that
    decision. Nearest the output first, because that is where 8 bits hurt
    most: on Real-ESRGAN x4plus, leaving the 11 nodes after the trunk (the
    upsampling and the last convolutions) in float32 gains 3.7 dB, where the
    64 nodes whose input activations lose most to rounding gain 0.3 dB.
    Calibrated once; a candidate is measured on the fully quantized graph
    with its nodes' activations taken before their QuantizeLinear (a rewiring,
    not a re-quantization), and the chosen set is quantized and measured as
    it is written."""
    from converter.quantizers import mixed_precision

    goal.say(f"measuring which nodes int8 leaves in float32 (photos at >= {goal.target_db:g} dB)")
    proto = _named(proto)
    float_session = mixed_precision.session(proto)
    feed = float_session.get_inputs()[0].name
    references = [float_session.run(None, {feed: batch})[0] for batch in goal.batches]

    def psnr(model: Any) -> float:
        session = mixed_precision.session(model)
        outputs = [session.run(None, {feed: batch})[0] for batch in goal.batches]
        return mixed_precision.psnr_as_shown(references, outputs, goal.pixel_range)

    with tempfile.TemporaryDirectory(prefix="srconvert-int8-ranges-") as tmp:
        ranges = Path(tmp, "ranges.json")
        quantized = quantize(proto, calibration, (), ranges)
        order = _from_the_output(quantized)
        k, measured = mixed_precision.fewest(lambda k: psnr(_activations_in_float(quantized, order[:k])),
                                             lambda: (order, None), goal.target_db)
        # Excluding a node leaves its weights in float32, yet it still reads its producers' uint8
        # copies: read as measured, before their QuantizeLinear (x4plus: 36.3 dB without this, 37.3 with).
        final = _activations_in_float(quantize(proto, calibration, tuple(order[:k]), ranges), order[:k]) \
            if k else quantized
    db = psnr(final) if k else measured[0]
    decision = mixed_precision.Decision(tuple(order[:k]), "float32 nodes", measured[0], db, goal.target_db,
                                        len(measured) + (1 if k else 0), len(goal.batches),
                                        final.ByteSize() - quantized.ByteSize())
    goal.say(f"int8: {decision.summary()}")
    return final, decision


def _from_the_output(quantized: Any) -> list[str]:
    """The nodes of a QDQ graph that read a quantized activation (a
    DequantizeLinear of a QuantizeLinear), last in the graph first."""
    producers = {output: node for node in quantized.graph.node for output in node.output}
    found = [node.name for node in quantized.graph.node
             if node.op_type not in ("QuantizeLinear", "DequantizeLinear")
             and any(_quantized_activation(name, producers) is not None for name in node.input)]
    return found[::-1]


def _quantized_activation(name: str, producers: dict[str, Any]) -> str | None:
    """The float tensor `name` is a QuantizeLinear-DequantizeLinear copy of, or None."""
    dequantize = producers.get(name)
    if dequantize is None or dequantize.op_type != "DequantizeLinear":
        return None
    quantize_node = producers.get(dequantize.input[0])
    return quantize_node.input[0] if quantize_node is not None and quantize_node.op_type == "QuantizeLinear" else None


def _activations_in_float(quantized: Any, names: list[str]) -> Any:
    """The QDQ graph with the named nodes reading their activations before
    quantization: what leaving them out of it changes most, at the cost of
    a rewiring (their weights stay 8-bit, which per-channel barely shows)."""
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(quantized)
    graph = model.graph
    producers = {output: node for node in graph.node for output in node.output}
    chosen = set(names)
    for node in graph.node:
        if node.name in chosen:
            node.input[:] = [_quantized_activation(name, producers) or name for name in node.input]
    for output in graph.output:  # a chosen node's result leaves the graph unquantized, as an excluded one's does
        source = _quantized_activation(output.name, producers)
        if source is None or source not in producers or producers[source].name not in chosen:
            continue
        dequantize = producers[output.name]
        quantize_node = producers[dequantize.input[0]]
        graph.node.remove(dequantize)
        graph.node.remove(quantize_node)
        for node in graph.node:
            node.input[:] = [output.name if name == source else name for name in node.input]
            node.output[:] = [output.name if name == source else name for name in node.output]
    remove_dead_nodes(graph)  # the copies nothing reads any more, and their scales and zero points
    return model


def _named(proto: Any) -> Any:
    """`proto` with every node named (exclusions are by name): unnamed ones get their index."""
    import onnx

    if all(node.name for node in proto.graph.node):
        return proto
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    taken = {node.name for node in model.graph.node}
    for index, node in enumerate(model.graph.node):
        if not node.name:
            node.name = next(name for name in (f"node{index}", f"node{index}_") if name not in taken)
    return model
