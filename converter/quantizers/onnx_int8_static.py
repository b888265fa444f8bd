"""int8 ONNX: static QDQ quantization calibrated on real images.

Weights are int8 per output channel, activations uint8 per tensor with ranges
measured by running the float model on the calibration photos. QDQ (explicit
QuantizeLinear/DequantizeLinear pairs) rather than QOperator keeps the graph
in standard ops every runtime executes, fused where a runtime can.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import BadInput


def calibration_batches(
    images_dir: Path, channels: int, layout: str, input_range: tuple[float, float], multiple: int = 1
) -> list[np.ndarray]:
    from converter.parity.inputs import load_photo

    low, high = input_range
    batches = []
    for path in sorted(images_dir.glob("*.png")) + sorted(images_dir.glob("*.jpg")):
        pixels = load_photo(path, channels, multiple)
        if pixels is None:
            continue
        batch = (low + pixels * (high - low))[None]
        batches.append(batch.transpose(0, 3, 1, 2) if layout == "nchw" else batch)
    if not batches:
        raise BadInput(
            f"no PNG or JPEG images with {channels} channel(s) to calibrate int8 quantization on",
            path=images_dir,
            hint="pass --calibration-images DIR with a few representative photos",
        )
    return batches


def quantize(proto: Any, batches: list[np.ndarray], input_name: str) -> Any:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(batches)

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
            weight_type=QuantType.QInt8,
        )
        return onnx.load_model(str(target))
