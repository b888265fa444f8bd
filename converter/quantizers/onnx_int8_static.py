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

from converter.core.errors import BadInput
from converter.graphs.layout import to_layout

SCHEME = {
    "format": "QDQ",
    "activations": "uint8, per tensor, calibrated",
    "weights": "uint8, per output channel",
    "why": "u8 x u8 kernels never saturate, so the output is the same on x86 with or without VNNI, ARM and "
    "WebAssembly; u8 x s8 saturates in int16 on x86 without VNNI",
}


def calibration_batches(
    images_dir: Path, channels: int, layout: str, input_range: tuple[float, float], multiple: int = 1,
    size: Any = None,
) -> list[np.ndarray]:
    """`size`: the fixed patch size of a fixed-size model (input_size.InputSize),
    which every photo is cropped to (smaller photos are left out)."""
    from converter.core.photos import load_photo, photo_paths

    low, high = input_range
    batches = []
    for path in photo_paths(images_dir):
        pixels = load_photo(path, channels, multiple)
        if pixels is not None and size is not None:
            fits = pixels.shape[0] >= size.height and pixels.shape[1] >= size.width
            pixels = pixels[: size.height, : size.width] if fits else None
        if pixels is None:
            continue
        batch = (low + pixels * (high - low))[None]
        batches.append(to_layout(batch, layout))
    if not batches:
        raise BadInput(
            f"no PNG or JPEG images with {channels} channel(s) to calibrate int8 quantization on",
            path=images_dir,
            hint="pass --calibration-images DIR with a few representative photos",
        )
    return batches


def quantize(proto: Any, calibration: Callable[[], list[np.ndarray]]) -> Any:
    """`calibration()` gives the batches activation ranges are measured on."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    input_name = proto.graph.input[0].name
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 13)
    if opset < 13:  # per-channel QDQ needs DequantizeLinear's axis, new in opset 13
        from onnx import version_converter

        proto = version_converter.convert_version(proto, 13)

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
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QUInt8,
        )
        return onnx.load_model(str(target))
