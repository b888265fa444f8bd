"""The detected network as an ONNX graph, the form the rest of the pipeline
reads (`converter.forms.onnx_form`): torch's TorchScript-based exporter, opset 17,
the input named `input` in NCHW with free height and width, as a person
exporting for onnxruntime would write it. A network whose export cannot
leave the size free (adaptive pooling) is exported at a fixed size."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

from converter.core import deadline
from converter.core.errors import BadInput, first_line
from converter.core.input_size import InputSize

OPSET = 17
# The size traced: a multiple of the network's window, and unlike any
# training patch size (48, 64), so that branches a network takes only at its
# training size (a cached attention mask) are not the ones recorded.
TRACE_SIDE = 40
TRACE_SECONDS_PER_MODULE = 0.01
FALLBACK_SIDE = 64


def export(module: Any, channels: int, multiple: int, path: Path, size: InputSize | None) -> tuple[Any, str]:
    """(ONNX ModelProto, how it was exported: "dynamic" or the fixed HxW).

    Dynamic wherever torch can, even when a size is asked for: fixing the
    size is the ONNX form's business (`onnx_form.fix_size`), as for any ONNX
    source, and the Keras rebuild reads a graph with a free size. Only a
    network that cannot be exported so is exported at `size` (or 64x64)."""
    side = _round_up(TRACE_SIDE, multiple)
    try:
        return _export(module, channels, (side, side), dynamic=True, path=path), "dynamic"
    except Exception:  # the exporter's own errors vary by torch version and op
        fixed = size or InputSize(*(2 * (_round_up(FALLBACK_SIDE, multiple),)))
    try:
        return _export(module, channels, (fixed.height, fixed.width), dynamic=False, path=path), str(fixed)
    except Exception as exc:
        raise BadInput(f"torch cannot export this network to ONNX ({first_line(exc)})", path=path,
                       hint="export it yourself (torch.onnx.export) and convert the .onnx file; please report "
                            "the checkpoint's family") from None


def _round_up(value: int, multiple: int) -> int:
    return -(-value // max(1, multiple)) * max(1, multiple)


def _export(module: Any, channels: int, hw: tuple[int, int], dynamic: bool, path: Path) -> Any:
    import onnx
    import torch

    example = torch.rand(1, channels, *hw, generator=torch.Generator().manual_seed(0))
    axes = {"input": {2: "height", 3: "width"}, "output": {2: "out_height", 3: "out_width"}} if dynamic else None
    buffer = io.BytesIO()
    # Tracing runs the network once (about its parameters x pixels in MACs,
    # before its graph can be counted) and records every module it passes.
    estimate = (deadline.SPEEDS["cpu"].seconds(sum(p.numel() for p in module.parameters()) * hw[0] * hw[1], 0)
                + TRACE_SECONDS_PER_MODULE * sum(1 for _ in module.modules()))
    with deadline.current().call(f"exporting the checkpoint's graph at {hw[0]}x{hw[1]}", estimate), \
            warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings are about Python branches, which parity checks
        # Some networks scale their input in place (RCAN: x *= rgb_range): export a copy.
        torch.onnx.export(module, (example.clone(),), buffer, dynamo=False, opset_version=OPSET,
                          input_names=["input"], output_names=["output"], dynamic_axes=axes)
    model = onnx.load_from_string(buffer.getvalue())
    if not model.graph.node:
        raise BadInput("the network exported to an empty graph", path=path, hint="please report this checkpoint")
    return model
